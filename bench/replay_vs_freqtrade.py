"""Benchmark for issue 19 (replay): the Freqtrade parity run, Helios against ``freqtrade
backtesting`` on the same candles and rules, measured in one run.

Target (issue 19): the 5m 2023 parity run (BTC, ETH, SOL: 315,360 pair-candles, every check on)
takes the whole ``helios replay`` process at least 3x less wall time than ``freqtrade
backtesting`` on the same candles and rules, with a peak RSS under 300 MiB.

What one run does:

1. **Freqtrade** (2026.9, in its own venv: ``FREQTRADE_VENV``, default
   ``~/.cache/helios-bench/ft-venv``, created with ``python3 -m venv`` and ``pip install
   freqtrade==2026.9`` when absent). The CSV candles are converted to Freqtrade's feather files
   (``bench/freqtrade/convert.py``, timed apart: Helios reads the CSV in its measured process),
   then ``freqtrade backtesting`` runs through the offline wrapper (``bench/freqtrade/
   ft_offline.py``: hand-written Binance markets, no network) with ``bench/freqtrade/
   config.json`` (spot, a 10,000 stake, a 100,000 wallet, market orders) and the strategy
   ``bench/freqtrade/ema_cross.py`` (EMA12/26 cross, stop -2%, ROI 6% then any price at 72 h),
   ``--timerange FROM-TO --fee 0.0035``, as a child process under ``/usr/bin/time -v`` (wall,
   maximum RSS; psutil polling of the process tree when ``/usr/bin/time`` is missing). Its
   trades go to the parity CSV layout (``bench/freqtrade/make_trades_csv.py``).
2. **Helios**: the parity command as issue 19 spells it (plus ``--json``, to read its figures)::

       helios replay --strategy ema-cross --candles BTCZAR=PATH/BTC-USDT_5m.csv
           --candles ETHZAR=PATH/ETH-USDT_5m.csv --candles SOLZAR=PATH/SOL-USDT_5m.csv
           --from 2023-01-01 --to 2024-01-01 --rules freqtrade --trades-csv trades.csv

   as a child process measured the same way, with ``DATABASE_URL``, ``REPLAY_DIR`` and
   ``LOG_FILE`` in a temporary folder and ``PYTHONPATH`` at this checkout (the code measured
   is the code here).
3. **Parity**: the two trade lists, counts per pair and per exit reason, then trade by trade
   on (pair, entry_time): the exit time and reason must agree; the mismatches are counted and the
   first ones shown.
4. **Figures**: pair-candles (5-minute slots in the period, gaps included), each side's wall,
   candles/s (whole process, and the inner loop: Freqtrade's ``backtest()``, the replay's own
   ``wall_seconds``), peak RSS, and the ratio Freqtrade wall / Helios wall.
5. **Where the time goes**: the replay again, in this process under cProfile, on a shorter
   period (``--profile-from``/``--profile-to``, default the first month): the time of each
   area the engine calls (price writes, monitor, trading loop, halts, snapshots, engine scan,
   loading) and the top functions by cumulative time, grouped by area.

Usage::

    python bench/replay_vs_freqtrade.py                       # the year (several minutes)
    python bench/replay_vs_freqtrade.py --to 2023-02-01       # January only (development)
    python bench/replay_vs_freqtrade.py --only helios --no-profile

Results are printed and appended to ``bench/results/replay.md`` (with the load average at the
start and at the end: on a 2-core machine other processes move these figures a lot). Never
asserted in tests. Without the data folder (``--data``, default ``../shared/data/binance_spot``
beside the checkout) the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from common import DEFAULT_DATA, HERE, machine_info

ROOT = HERE.parent
FT_DIR = HERE / "freqtrade"
RESULTS = HERE / "results" / "replay.md"
FREQTRADE_VERSION = "2026.9"
DEFAULT_VENV = Path("~/.cache/helios-bench/ft-venv").expanduser()
BASES = ("BTC", "ETH", "SOL")
BAR = timedelta(minutes=5)
FEE = "0.0035"
TARGET_RATIO = 3.0
TARGET_RSS_MIB = 300.0
HEADING = (
    "# Replay benchmark (issue 19)\n\n"
    "Produced by `python bench/replay_vs_freqtrade.py [--from D --to D]`: the Freqtrade parity run "
    "(BTC, ETH, SOL, 5m candles) through `freqtrade backtesting` (2026.9, offline wrapper) and "
    "through `helios replay ... --rules freqtrade`, each a child process measured with "
    "`/usr/bin/time -v`, in the same run; newest last.\n"
    "Targets: on the 2023 year (315,360 pair-candles), the whole `helios replay` process at least "
    "3x faster than `freqtrade backtesting`, peak RSS under 300 MiB; the same trades.\n"
)


# --- measuring a child process ------------------------------------------------------------


@dataclass
class Measured:
    wall: float  # seconds, perf_counter around the child
    rss_mib: float | None  # peak resident set size
    returncode: int
    method: str


def run_measured(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path | None
) -> Measured:
    """Run ``command`` and measure its wall time and peak RSS (``/usr/bin/time -v``, else
    psutil polling the process and its children every 50 ms). ``stderr=None`` lets the child's
    stderr (a progress bar) through to the terminal; ``stderr=stdout`` joins them in one file."""
    time_bin = Path("/usr/bin/time")
    with stdout.open("w") as out:
        err: Any = None
        if stderr == stdout:
            err = subprocess.STDOUT
        elif stderr is not None:
            err = stderr.open("w")
        try:
            if time_bin.exists():
                report = stdout.with_suffix(".time.txt")
                began = time.perf_counter()
                done = subprocess.run(
                    [str(time_bin), "-v", "-o", str(report), *command],
                    cwd=cwd,
                    env=env,
                    stdout=out,
                    stderr=err,
                    check=False,
                )
                wall = time.perf_counter() - began
                text = report.read_text() if report.exists() else ""
                found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
                rss = int(found.group(1)) / 1024 if found else None
                return Measured(wall, rss, done.returncode, "/usr/bin/time -v")
            return _run_polled(command, cwd=cwd, env=env, out=out, err=err)
        finally:
            if err not in (None, subprocess.STDOUT):
                err.close()


def _run_polled(command: Sequence[str], *, cwd: Path, env: dict[str, str], out, err) -> Measured:  # type: ignore[no-untyped-def]
    import psutil

    began = time.perf_counter()
    child = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=err)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(
                c.memory_info().rss for c in proc.children(recursive=True)
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - began
    return Measured(wall, peak / 2**20 or None, child.returncode, "psutil polling every 50 ms")


# --- the data -------------------------------------------------------------------------------


def data_files(data: Path) -> dict[str, Path]:
    return {base: data / f"{base}-USDT_5m.csv" for base in BASES}


def pair_candles(files: dict[str, Path], start: datetime, end: datetime) -> dict[str, int]:
    """Per pair, the 5-minute slots in [start, end) that the data covers (gaps included: both
    sides fill them with flat candles)."""
    out = {}
    for base, path in files.items():
        stamps = pd.to_datetime(pd.read_csv(path, usecols=["timestamp"])["timestamp"], utc=True)
        first = max(pd.Timestamp(start), stamps.iloc[0])
        last = min(pd.Timestamp(end), stamps.iloc[-1] + BAR)
        out[f"{base}ZAR"] = max(int((last - first) / BAR), 0)
    return out


# --- Freqtrade ------------------------------------------------------------------------------


def ensure_freqtrade(venv: Path, python: str) -> tuple[Path, str]:
    """The venv's python and what was done: Freqtrade 2026.9 there, installed if absent."""
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import freqtrade; print(freqtrade.__version__)"]
    if py.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == FREQTRADE_VERSION:
            return py, f"freqtrade {FREQTRADE_VERSION} in {venv}"
    print(
        f"Creating the Freqtrade venv at {venv}: {python} -m venv, then pip install "
        f"freqtrade=={FREQTRADE_VERSION} (a few minutes, once; FREQTRADE_VENV picks another place)",
        flush=True,
    )
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"freqtrade=={FREQTRADE_VERSION}"], check=True
    )
    found = subprocess.run(probe, capture_output=True, text=True, check=True)
    return py, f"freqtrade {found.stdout.strip()} in {venv} (created by this run)"


@dataclass
class Side:
    name: str
    measured: Measured | None = None
    trades: pd.DataFrame | None = None
    loop_seconds: float | None = None  # the inner loop's own time
    facts: dict[str, Any] = field(default_factory=dict)


def run_freqtrade(
    py: Path, data: Path, work: Path, start: datetime, end: datetime, env: dict[str, str]
) -> Side:
    side = Side("freqtrade backtesting")
    userdir = work / "user_data"
    (userdir / "strategies").mkdir(parents=True)
    (userdir / "backtest_results").mkdir()
    shutil.copy(FT_DIR / "ema_cross.py", userdir / "strategies" / "ema_cross.py")
    shutil.copy(FT_DIR / "config.json", work / "config.json")
    began = time.perf_counter()
    subprocess.run(
        [str(py), str(FT_DIR / "convert.py"), str(data), str(userdir / "data" / "binance"), *BASES],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    side.facts["convert_seconds"] = time.perf_counter() - began
    timerange = f"{start:%Y%m%d}-{end:%Y%m%d}"
    command = [
        str(py),
        str(FT_DIR / "ft_offline.py"),
        "backtesting",
        "--config",
        "config.json",
        "--userdir",
        "user_data",
        "--strategy",
        "EmaCross",
        "--timerange",
        timerange,
        "--fee",
        FEE,
        "--export",
        "trades",
        "--backtest-directory",
        "user_data/backtest_results",
        "--cache",
        "none",
    ]
    side.facts["command"] = "freqtrade " + " ".join(command[2:])
    print(f"\nFreqtrade: {side.facts['command']}", flush=True)
    log = work / "backtest.log"
    side.measured = run_measured(command, cwd=work, env=env, stdout=log, stderr=log)
    text = log.read_text(errors="replace")
    if side.measured.returncode != 0:
        tail = "\n".join(text.splitlines()[-25:])
        sys.exit(f"freqtrade backtesting failed (exit {side.measured.returncode}):\n{tail}")
    timings = dict(re.findall(r"TIMING (\w+): ([\d.]+) s", text))
    side.facts["timings"] = {k: float(v) for k, v in timings.items()}
    side.loop_seconds = side.facts["timings"].get("backtest")
    csv = work / "freqtrade_trades.csv"
    subprocess.run(
        [str(py), str(FT_DIR / "make_trades_csv.py"), str(userdir / "backtest_results"), str(csv)],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    side.trades = pd.read_csv(csv)
    return side


# --- Helios ---------------------------------------------------------------------------------


def helios_command() -> str:
    beside = Path(sys.executable).with_name("helios")
    if beside.exists():
        return str(beside)
    found = shutil.which("helios")
    if found is None:
        sys.exit("the `helios` command is not installed (pip install -e . in the project's venv)")
    return found


def helios_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{work / 'op.db'}",
        REPLAY_DIR=str(work / "runs"),
        LOG_FILE=str(work / "helios.log"),
        MARKET_FEED="manual",
        HELIOS_ENV_FILE="",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return env


def run_helios(data: Path, work: Path, start: datetime, end: datetime) -> Side:
    side = Side("helios replay")
    files = data_files(data)
    command = [
        helios_command(),
        "replay",
        "--strategy",
        "ema-cross",
        *(
            arg
            for base in BASES
            for arg in ("--candles", f"{base}ZAR={files[base].parent}/{files[base].name}")
        ),
        "--from",
        f"{start:%Y-%m-%d}",
        "--to",
        f"{end:%Y-%m-%d}",
        "--rules",
        "freqtrade",
        "--trades-csv",
        "trades.csv",
        "--json",
    ]
    side.facts["command"] = "helios " + " ".join(command[1:])
    print(f"\nHelios: {side.facts['command']}", flush=True)
    out = work / "replay.json"
    side.measured = run_measured(command, cwd=work, env=helios_env(work), stdout=out, stderr=None)
    try:
        doc = json.loads(out.read_text())
    except json.JSONDecodeError:
        doc = {}
    if side.measured.returncode != 0 or doc.get("status") != "COMPLETE":
        sys.exit(
            f"helios replay failed (exit {side.measured.returncode}): "
            f"{doc.get('error') or out.read_text()[-2000:]}"
        )
    side.facts["json"] = doc
    side.loop_seconds = doc.get("wall_seconds")
    side.trades = pd.read_csv(work / "trades.csv")
    return side


# --- parity ---------------------------------------------------------------------------------


@dataclass
class Parity:
    counts: pd.DataFrame  # per pair and per reason, both sides
    mismatches: pd.DataFrame
    compared: int
    prices_differ: dict[str, int]  # matched trades with another entry or exit price, by reason
    pnl: tuple[float, float]


def compare(helios: pd.DataFrame, freqtrade: pd.DataFrame) -> Parity:
    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        for column in ("entry_time", "exit_time"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    h, f = norm(helios), norm(freqtrade)
    rows = []
    for label, column in (("pair", "pair"), ("exit", "exit_reason")):
        hc, fc = h[column].value_counts(), f[column].value_counts()
        for key in sorted(set(hc.index) | set(fc.index)):
            rows.append((label, key, int(hc.get(key, 0)), int(fc.get(key, 0))))
    rows.append(("all", "trades", len(h), len(f)))
    counts = pd.DataFrame(rows, columns=["by", "key", "helios", "freqtrade"])
    merged = h.merge(
        f, on=["pair", "entry_time"], how="outer", suffixes=("_h", "_f"), indicator=True
    ).sort_values(["entry_time", "pair"])
    differ = (merged["_merge"] != "both") | (
        (merged["exit_time_h"] != merged["exit_time_f"])
        | (merged["exit_reason_h"] != merged["exit_reason_f"])
    )
    both = merged[merged["_merge"] == "both"]
    prices = both.loc[
        ((both["entry_price_h"] - both["entry_price_f"]).abs() > 1e-9 * both["entry_price_f"])
        | ((both["exit_price_h"] - both["exit_price_f"]).abs() > 1e-9 * both["exit_price_f"]),
        "exit_reason_h",
    ].value_counts()
    shown = merged.loc[
        differ,
        ["pair", "entry_time", "exit_time_h", "exit_reason_h", "exit_time_f", "exit_reason_f"],
    ].rename(
        columns={
            "exit_time_h": "helios_exit",
            "exit_reason_h": "helios_reason",
            "exit_time_f": "freqtrade_exit",
            "exit_reason_f": "freqtrade_reason",
        }
    )
    return Parity(
        counts,
        shown.reset_index(drop=True),
        len(merged),
        {str(k): int(v) for k, v in prices.items()},
        (float(h["net_pnl"].sum()), float(f["net_pnl"].sum())),
    )


def parity_lines(parity: Parity, show: int) -> list[str]:
    lines = ["| by | key | helios | freqtrade |", "|---|---|---:|---:|"]
    for row in parity.counts.itertuples():
        mark = "" if row.helios == row.freqtrade else " **differs**"
        lines.append(f"| {row.by} | {row.key} | {row.helios} | {row.freqtrade}{mark} |")
    lines += [
        "",
        f"- trade by trade on (pair, entry_time), {parity.compared} compared: "
        f"{len(parity.mismatches)} mismatch(es) in presence, exit time or exit reason; "
        f"matched trades with another entry or exit price (information: the parity is on the "
        f"trades and their times): {sum(parity.prices_differ.values())} "
        f"{parity.prices_differ or ''}; net P&L helios {parity.pnl[0]:,.2f}, freqtrade "
        f"{parity.pnl[1]:,.2f}",
    ]
    if len(parity.mismatches):
        lines += ["", f"First {min(show, len(parity.mismatches))} mismatches:", "", "```"]
        lines += parity.mismatches.head(show).to_string(index=False).splitlines()
        lines += ["```"]
    return lines


# --- where the time goes --------------------------------------------------------------------

# what ReplayEngine.run, its _step and _light_step, and Replays.run call directly, by area
AREAS = {
    "_take_signals": "trading loop",
    "closed_bars": "price writes (with the refusals held behind)",
    "opening_bars": "price writes (with the refusals held behind)",
    "write_held": "price writes (with the refusals held behind)",
    "_write_held": "price writes (with the refusals held behind)",
    "_hold_bars": "price writes (with the refusals held behind)",
    "_monitor": "monitor",
    "_submit": "trading loop",
    "process_pending": "trading loop",
    "check": "halts",
    "_watchdog": "halts",
    "take_snapshot": "snapshots (day roll)",
    "_next_index": "engine scan (skip-ahead)",
    "trading_day": "engine scan (skip-ahead)",
    "_candles_done": "progress",
    "_warm_up": "warm-up history",
    "_close_at_end": "close at the end",
    "_record_start": "run record",
    "_record_end": "run record",
    "record_start": "run record",
    "connect": "opening the run database",
    "close": "opening the run database",
    "update_limits": "opening the run database",
    "_candles": "loading candles",
    "_signals": "strategy signals",
    "__init__": "engine setup",
    "read_run": "reading the run back",
    "data_tick": "loading candles",
}
Key = tuple[str, int, str]


def _short(key: Key) -> str:
    path, line, func = key
    for root in (str(ROOT) + "/", "site-packages/"):
        if root in path:
            path = path.split(root, 1)[1]
    return f"{func} ({path}:{line})"


def profile_replay(data: Path, work: Path, start: datetime, end: datetime) -> tuple[Any, float]:
    """The parity replay of [start, end) in this process under cProfile: (stats, seconds)."""
    sys.path.insert(0, str(ROOT))
    os.environ["HELIOS_ENV_FILE"] = ""
    import helios
    from helios.replay.service import ReplayRequest

    files = data_files(data)
    hx = helios.connect(
        f"sqlite:///{work / 'op.db'}",
        reconcile=False,
        market_feed="manual",
        replay_dir=str(work / "runs"),
        log_file=str(work / "helios.log"),
    )
    request = ReplayRequest(
        start=start,
        end=end,
        candles=tuple(f"{base}ZAR={files[base]}" for base in BASES),
        strategy="ema-cross",
        profile="freqtrade",
    )
    profiler = cProfile.Profile()
    began = time.perf_counter()
    try:
        profiler.enable()
        run = hx.replay.run(request)
        profiler.disable()
    finally:
        hx.close()
    seconds = time.perf_counter() - began
    if not run.complete:
        sys.exit(f"the profiled replay failed: {run.error}")
    profiler.dump_stats(str(work / "replay.prof"))
    return pstats.Stats(profiler), seconds


def where_time_goes(stats: Any, top: int) -> tuple[list[tuple[str, int, float]], list[str], float]:
    """(areas: name, calls, cumulative seconds; the top functions by cumulative time grouped by
    area, as lines; the profiled total)."""
    raw: dict[Key, tuple[int, int, float, float, dict[Key, tuple]]] = stats.stats
    total = float(stats.total_tt)
    roots = {
        key
        for key in raw
        if (key[0].endswith("replay/engine.py") and key[2] in ("run", "_step", "_light_step"))
        or (key[0].endswith("replay/service.py") and key[2] == "run")
    }
    entries: dict[Key, str] = {}
    areas: dict[str, list[float]] = {}
    for key, (_cc, _nc, _tt, _ct, callers) in raw.items():
        if key in roots:
            continue
        for caller, (_c, nc, _t, ct) in callers.items():
            if caller not in roots:
                continue
            name = AREAS.get(key[2])
            if name is None and key[2] == "run" and key[0].endswith("engine.py"):
                continue
            name = name or "other engine bookkeeping"
            entries[key] = name
            slot = areas.setdefault(name, [0, 0.0])
            slot[0] += nc
            slot[1] += ct
    memo: dict[Key, str] = dict(entries)

    def area_of(key: Key) -> str:
        seen = set()
        path = []
        while key not in memo and key not in seen and key not in roots:
            seen.add(key)
            path.append(key)
            callers = raw[key][4]
            if not callers:
                break
            key = max(callers, key=lambda c: callers[c][3])
        found = memo.get(key, "outside the engine")
        for k in path:
            memo[k] = found
        return found

    ranked = sorted(
        (k for k in raw if k not in roots and "/helios/" in k[0]),
        key=lambda k: -raw[k][3],
    )[:top]
    grouped: dict[str, list[Key]] = {}
    for key in ranked:
        grouped.setdefault(area_of(key), []).append(key)
    lines = []
    for name, keys in grouped.items():
        lines.append(f"{name}:")
        for key in keys:
            _cc, nc, tt, ct, _callers = raw[key]
            lines.append(
                f"  {ct:8.2f} s cum {100 * ct / total:5.1f}%  {tt:7.2f} s own  "
                f"{nc:>9,} calls  {_short(key)}"
            )
    table = sorted(((n, int(v[0]), float(v[1])) for n, v in areas.items()), key=lambda r: -r[2])
    return table, lines, total


def own_time_lines(stats: Any, top: int) -> list[str]:
    raw = stats.stats
    ranked = sorted(raw, key=lambda k: -raw[k][2])[:top]
    return [f"  {raw[k][2]:8.2f} s own  {raw[k][1]:>9,} calls  {_short(k)}" for k in ranked]


# --- recording ------------------------------------------------------------------------------


def load_text() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def checkout() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "helios")
    return commit + (" + uncommitted changes to helios/" if dirty else "")


def fmt_rate(candles: int, seconds: float | None) -> str:
    return f"{candles / seconds:,.0f}" if seconds else "-"


def side_row(side: Side, candles: int) -> str:
    m = side.measured
    assert m is not None
    trades = len(side.trades) if side.trades is not None else "-"
    rss = f"{m.rss_mib:,.0f}" if m.rss_mib else "-"
    loop = f"{side.loop_seconds:,.1f}" if side.loop_seconds else "-"
    return (
        f"| {side.name} | {m.wall:,.1f} | {fmt_rate(candles, m.wall)} | {loop} | "
        f"{fmt_rate(candles, side.loop_seconds)} | {rss} | {trades} |"
    )


# --- main -----------------------------------------------------------------------------------


def day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a date YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the 5m CSV folder")
    parser.add_argument("--from", dest="start", type=day, default=day("2023-01-01"))
    parser.add_argument("--to", dest="end", type=day, default=day("2024-01-01"))
    parser.add_argument("--profile-from", type=day, default=None, help="default: --from")
    parser.add_argument(
        "--profile-to", type=day, default=None, help="default: a month after --profile-from"
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--only", choices=("helios", "freqtrade"), default=None)
    parser.add_argument(
        "--freqtrade-venv",
        type=Path,
        default=Path(os.environ.get("FREQTRADE_VENV") or DEFAULT_VENV).expanduser(),
        help="default: FREQTRADE_VENV, else ~/.cache/helios-bench/ft-venv (created if absent)",
    )
    parser.add_argument("--python", default="python3", help="makes the Freqtrade venv")
    parser.add_argument("--show", type=int, default=10, help="mismatches shown")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work files here")
    parser.add_argument("--note", default="")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error("--to must be after --from")

    files = data_files(args.data)
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        print(f"Skipped: the candles are not there ({', '.join(missing)}); give --data DIR.")
        return
    load_start = load_text()
    began = datetime.now(UTC)
    slots = pair_candles(files, args.start, args.end)
    candles = sum(slots.values())
    print(
        f"Period {args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}: {candles:,} pair-candles "
        f"({', '.join(f'{p} {n:,}' for p, n in slots.items())}); load average {load_start}"
    )
    work_root = args.keep or Path(tempfile.mkdtemp(prefix="helios-bench-replay-"))
    sides: list[Side] = []
    notes: list[str] = []
    try:
        if args.only != "helios":
            py, how = ensure_freqtrade(args.freqtrade_venv, args.python)
            notes.append(how)
            work = work_root / "freqtrade"
            work.mkdir(parents=True, exist_ok=True)
            ft = run_freqtrade(py, args.data, work, args.start, args.end, dict(os.environ))
            sides.append(ft)
            print(
                f"  wall {ft.measured.wall:.1f} s, peak RSS {ft.measured.rss_mib or 0:,.0f} MiB, "
                f"{len(ft.trades)} trades; feather conversion (not in the wall) "
                f"{ft.facts['convert_seconds']:.1f} s; {ft.facts['timings']}"
            )
        if args.only != "freqtrade":
            work = work_root / "helios"
            work.mkdir(parents=True, exist_ok=True)
            he = run_helios(args.data, work, args.start, args.end)
            sides.append(he)
            doc = he.facts["json"]
            print(
                f"  wall {he.measured.wall:.1f} s, peak RSS {he.measured.rss_mib or 0:,.0f} MiB, "
                f"{len(he.trades)} trades; run {doc['run']}: {doc['candles']:,} candles, "
                f"{doc['steps']:,} steps, {doc['wall_seconds']:.1f} s in the engine, "
                f"{doc['candles_per_second']:,.0f} candles/s"
            )
        by_name = {s.name: s for s in sides}
        ft_side = by_name.get("freqtrade backtesting")
        he_side = by_name.get("helios replay")

        lines = [
            f"- period {args.start:%Y-%m-%d} to {args.end:%Y-%m-%d} (end exclusive): "
            f"{candles:,} pair-candles ("
            + ", ".join(f"{p} {n:,}" for p, n in slots.items())
            + f"), 5m candles from {args.data}",
            f"- checkout {checkout()}; " + "; ".join(notes),
        ]
        for side in sides:
            lines.append(f"- {side.name}: `{side.facts['command']}`")
        if ft_side is not None:
            lines.append(
                f"- freqtrade: feather conversion {ft_side.facts['convert_seconds']:.1f} s (not "
                f"in its wall); its own timers: {ft_side.facts['timings']}"
            )
        if he_side is not None:
            doc = he_side.facts["json"]
            lines.append(
                f"- helios: run {doc['run']}: {doc['candles']:,} candles, {doc['steps']:,} "
                f"steps, {doc['wall_seconds']:.1f} s and {doc['candles_per_second']:,.0f} "
                f"candles/s in the engine (its --json)"
            )
        lines += [
            "",
            "| side | wall s | candles/s (process) | loop s | candles/s (loop) | peak RSS MiB | "
            "trades |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *(side_row(s, candles) for s in sides),
            "",
        ]
        if ft_side is not None and he_side is not None:
            ratio = ft_side.measured.wall / he_side.measured.wall
            rss = he_side.measured.rss_mib or 0.0
            lines += [
                f"- ratio freqtrade wall / helios wall: **{ratio:.2f}x** (target >= "
                f"{TARGET_RATIO:.0f}x: {'meets' if ratio >= TARGET_RATIO else 'misses'}); "
                f"helios peak RSS {rss:,.0f} MiB (target < {TARGET_RSS_MIB:.0f}: "
                f"{'meets' if rss < TARGET_RSS_MIB else 'misses'}); measured by "
                f"{he_side.measured.method}",
                "",
                "Parity (trades):",
                "",
                *parity_lines(compare(he_side.trades, ft_side.trades), args.show),
                "",
            ]
        if not args.no_profile and args.only != "freqtrade":
            p_start = args.profile_from or args.start
            p_end = args.profile_to or min(p_start + timedelta(days=31), args.end)
            p_end = max(p_end, p_start + timedelta(days=1))
            print(
                f"\nProfiling the replay of {p_start:%Y-%m-%d} to {p_end:%Y-%m-%d} in this "
                "process (cProfile)...",
                flush=True,
            )
            work = work_root / "profile"
            work.mkdir(parents=True, exist_ok=True)
            stats, seconds = profile_replay(args.data, work, p_start, p_end)
            table, grouped, total = where_time_goes(stats, args.profile_top)
            lines += [
                f"Where the time goes: the replay of {p_start:%Y-%m-%d} to {p_end:%Y-%m-%d} "
                f"under cProfile in the benchmark's process ({seconds:.1f} s with the profiler; "
                f"{total:.1f} s profiled):",
                "",
                "| area | calls | cumulative s | share |",
                "|---|---:|---:|---:|",
                *(f"| {n} | {c:,} | {s:,.2f} | {100 * s / total:.1f}% |" for n, c, s in table),
                "",
                f"Top {args.profile_top} Helios functions by cumulative time (below the engine's "
                "step), by area:",
                "",
                "```",
                *grouped,
                "```",
                "",
                "Top 10 by own time:",
                "",
                "```",
                *own_time_lines(stats, 10),
                "```",
                "",
            ]
        load_end = load_text()
        lines.insert(1, f"- load average {load_start} at the start, {load_end} at the end")
        info = machine_info()
        lines.insert(
            2,
            f"- machine: {info['cpu'].split(', load average')[0]}, python "
            f"{info['python']}, numpy {info['numpy']}, pandas {info['pandas']}, "
            f"sqlalchemy {info['sqlalchemy']}",
        )
        print()
        print("\n".join(lines))
        if not args.no_record:
            head = f"## {began:%Y-%m-%d %H:%M} UTC" + (f": {args.note}" if args.note else "")
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            if not RESULTS.exists():
                RESULTS.write_text(HEADING)
            with RESULTS.open("a") as out:
                out.write("\n" + head + "\n\n" + "\n".join(lines) + "\n")
            print(f"Recorded in {RESULTS.relative_to(ROOT)}")
        if args.keep:
            print(f"Work files kept in {work_root}")
    finally:
        if args.keep is None:
            shutil.rmtree(work_root, ignore_errors=True)


if __name__ == "__main__":
    main()
