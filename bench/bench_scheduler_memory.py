"""Benchmark for issue 6 (the scheduler): its memory stays flat over a long run.

Target: the scheduler's resident memory (RSS) grows by less than 10% over a 30-minute run with
1-second price updates for 10 pairs.

The scenario: the real scheduler (``python -m jobs``, started by
``tests/scheduler_process.SchedulerProcess``) on a scratch database, PAPER, the ``sim`` feed for
10 ZAR pairs with ``SIM_BACKFILL_DAYS`` of daily history (so sizing and the volatility checks
work), ``PRICE_INTERVAL_SECONDS=1``, the demo momentum signals on, and the trading loop, the
stop monitor and the watchdog every second, so every job runs all the time: prices in, signals
in, positions opened, stopped, taken profit and timed out, snapshots written. Every
``--sample-seconds`` (10) the child's ``VmRSS`` (and ``VmHWM``, its threads and open file
descriptors) is read from ``/proc/<pid>/status``; the RSS after the warm-up (``--warmup-minutes``,
2) is compared with the RSS at the end, and a straight line fitted through the samples after the
warm-up gives the drift per minute. At the end the database says what the scheduler did
(signals by status, positions by status, snapshots, error events), so a flat line can not come
from a scheduler that did nothing.

Usage::

    python bench/bench_scheduler_memory.py                  # 30 minutes on SQLite
    python bench/bench_scheduler_memory.py --minutes 2      # a short trial
    python bench/bench_scheduler_memory.py --database-url postgresql://postgres@127.0.0.1:5432/test

Results are printed and appended to ``bench/results/scheduler.md``. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_scheduler import HEADING, RESULTS, ROOT, clean_environment
from common import machine_info, scratch_database

PAIRS = "BTCZAR,ETHZAR,SOLZAR,XRPZAR,ADAZAR,AVAXZAR,LINKZAR,DOTZAR,LTCZAR,ATOMZAR"
SETTINGS = {
    "MARKET_FEED": "sim",
    "PAIRS": PAIRS,
    "PRICE_INTERVAL_SECONDS": "1",
    "MONITOR_INTERVAL_SECONDS": "1",
    "TRADING_INTERVAL_SECONDS": "1",
    "WATCHDOG_INTERVAL_SECONDS": "1",
    "HEARTBEAT_INTERVAL_SECONDS": "5",
    "SNAPSHOT_INTERVAL_SECONDS": "10",
    "DEMO_SIGNALS": "on",
    "DEMO_SIGNAL_INTERVAL_SECONDS": "5",
    "SIM_BACKFILL_DAYS": "200",
    "LEADER_POLL_SECONDS": "1",
    "LEADER_LEASE_SECONDS": "5",
    "LOG_LEVEL": "INFO",
}


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) and Threads from /proc/<pid>/status; open descriptors."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM", "Threads"}:
            found[key] = int(value.split()[0])
    found["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return found


def what_it_did(url: str) -> dict[str, object]:
    """Counts from the database: the scheduler was busy, and without error events."""
    from sqlalchemy import create_engine, text

    from helios.db.engine import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:

            def grouped(sql: str) -> dict[str, int]:
                return {str(k): int(n) for k, n in conn.execute(text(sql))}

            return {
                "signals": grouped("SELECT status, count(*) FROM signals GROUP BY status"),
                "positions": grouped("SELECT status, count(*) FROM positions GROUP BY status"),
                "snapshots": conn.execute(
                    text("SELECT count(*) FROM portfolio_snapshots")
                ).scalar_one(),
                "minute candles": conn.execute(
                    text("SELECT count(*) FROM candles WHERE interval_seconds = 60")
                ).scalar_one(),
                "error events": grouped(
                    "SELECT kind, count(*) FROM events WHERE severity IN ('ERROR', 'CRITICAL') "
                    "GROUP BY kind"
                ),
                "halted": conn.execute(
                    text("SELECT count(*) FROM events WHERE kind LIKE 'HALT%'")
                ).scalar_one(),
            }
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> int:
    clean_environment()
    sys.path.insert(0, str(ROOT))
    from tests.scheduler_process import SchedulerProcess

    duration = args.minutes * 60.0
    warmup = min(args.warmup_minutes * 60.0, duration / 2)
    samples: list[tuple[float, dict[str, int]]] = []
    with (
        scratch_database(args.database_url) as (url, kind),
        tempfile.TemporaryDirectory(prefix="helios-bench-mem-") as folder,
    ):
        started = time.monotonic()
        began_at = datetime.now(UTC)
        child = SchedulerProcess(url, Path(folder), **SETTINGS)
        print(
            f"scheduler pid {child.pid} on {kind}; {args.minutes} min, sample every "
            f"{args.sample_seconds} s, warm-up {warmup / 60:.1f} min; log {child.output}",
            flush=True,
        )
        died = ""
        try:
            next_at = started
            while True:
                next_at += args.sample_seconds  # the first sample once the child has started
                time.sleep(max(0.0, min(next_at, started + duration) - time.monotonic()))
                elapsed = time.monotonic() - started
                if not child.alive():
                    code = child.process.returncode
                    died = f"the scheduler exited ({code}) after {elapsed:.0f} s"
                    break
                status = read_status(child.pid)
                samples.append((elapsed, status))
                print(
                    f"{elapsed:7.0f} s  RSS {status['VmRSS'] / 1024:7.1f} MiB  "
                    f"HWM {status['VmHWM'] / 1024:7.1f} MiB  threads {status['Threads']:3d}  "
                    f"fds {status['fds']:3d}",
                    flush=True,
                )
                if elapsed >= duration - 0.5:
                    break
            did = what_it_did(url)
        finally:
            code = child.stop()
        log_tail = child.log()[-3000:]
    if died or len(samples) < 3:
        print(f"FAILED: {died or 'too few samples'}\n--- scheduler log ---\n{log_tail}")
        return 1
    return report(args, kind, samples, warmup, did, code, began_at)


def report(
    args: argparse.Namespace,
    kind: str,
    samples: list[tuple[float, dict[str, int]]],
    warmup: float,
    did: dict[str, object],
    code: int,
    began_at: datetime,
) -> int:
    times = np.array([t for t, _ in samples])
    rss = np.array([s["VmRSS"] for _, s in samples], dtype=float) / 1024  # MiB
    warm_index = int(np.argmin(np.abs(times - warmup)))
    warm, end = rss[warm_index], rss[-1]
    growth = (end - warm) / warm
    after = times >= times[warm_index]
    slope = float(np.polyfit(times[after] / 60, rss[after], 1)[0]) if after.sum() >= 3 else 0.0
    peak = max(s["VmHWM"] for _, s in samples) / 1024
    threads = sorted({s["Threads"] for _, s in samples})
    fds = [s["fds"] for _, s in samples]
    verdict = "meets" if growth < 0.10 else "MISSES"
    summary = (
        f"RSS {warm:.1f} MiB at {times[warm_index] / 60:.1f} min (after the warm-up) -> "
        f"{end:.1f} MiB at {times[-1] / 60:.1f} min: {growth:+.1%} ({verdict} < 10%); "
        f"drift after the warm-up {slope * 1024:+.0f} KiB/min; peak (VmHWM) {peak:.1f} MiB"
    )
    print("\n" + summary)
    print(f"threads seen {threads}; open fds {min(fds)}..{max(fds)} (end {fds[-1]})")
    for key, value in did.items():
        print(f"{key}: {value}")
    print(f"scheduler exit code after SIGTERM: {code}")
    if not args.no_record:
        record(args, kind, samples, warm_index, summary, threads, fds, did, code, began_at)
    return 0


def record(
    args: argparse.Namespace,
    kind: str,
    samples: list[tuple[float, dict[str, int]]],
    warm_index: int,
    summary: str,
    threads: list[int],
    fds: list[int],
    did: dict[str, object],
    code: int,
    began_at: datetime,
) -> None:
    """A dated section in the layout of ``common.append_results``, with an RSS table in place
    of the timings table (RSS samples are not timings)."""
    info = machine_info()
    # about 12 rows: the start, the warm-up, evenly spaced samples, the end
    picks = sorted(
        {0, warm_index, len(samples) - 1}
        | set(np.linspace(warm_index, len(samples) - 1, 10).round().astype(int).tolist())
    )
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items() if k != "PAIRS")
    lines = [
        "",
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {kind}, memory over {args.minutes:g} min"
        + (f": {args.note}" if args.note else ""),
        "",
        f"- scenario: the real scheduler (`python -m jobs`) started {began_at:%H:%M} UTC, "
        f"PAPER, 10 pairs ({PAIRS}), {settings}",
        f"- result: {summary}",
        f"- threads seen {threads}; open file descriptors {min(fds)}..{max(fds)} "
        f"(end {fds[-1]}); exit code after SIGTERM {code}",
        "- what it did: " + "; ".join(f"{key} {value}" for key, value in did.items()),
        f"- machine: {info['cpu']}",
        f"- python {info['python']}, numpy {info['numpy']}, pandas {info['pandas']}, "
        f"sqlalchemy {info['sqlalchemy']}, arch {info['arch']}",
        "",
        "| elapsed | VmRSS | VmHWM | threads | fds |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {samples[i][0] / 60:.1f} min{' (warm)' if i == warm_index else ''} | "
            f"{samples[i][1]['VmRSS'] / 1024:.1f} MiB | {samples[i][1]['VmHWM'] / 1024:.1f} MiB | "
            f"{samples[i][1]['Threads']} | {samples[i][1]['fds']} |"
            for i in picks
        ),
        "",
    ]
    if not RESULTS.exists():
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(HEADING)
    with RESULTS.open("a") as out:
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=2.0)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--note", default="")
    parser.add_argument("--no-record", action="store_true")
    raise SystemExit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
