"""Benchmark for issue 15 (items 1 and 6): scheduler fail-over with real processes.

Two real schedulers (``python -m jobs``, started by ``tests/scheduler_process.SchedulerProcess``
with its fast settings: ``LEADER_LEASE_SECONDS=3``, ``LEADER_POLL_SECONDS=0.5``, the manual feed)
share one database: A leads, B stands by. Measured, on SQLite (a temporary file) and on
PostgreSQL (a private server from ``tests/private_postgres.PrivatePostgres``, never the shared
one), ``--runs`` times each (10):

- **freeze**: A's process group is stopped (``os.killpg(..., SIGSTOP)``) at a random phase of
  the leader poll; the time from the SIGSTOP to the ``leases`` row naming B, read every 20 ms by
  this process (``session.get(Lease, "scheduler")``; the holder is ``host:pid:nonce``). Then A
  is continued (SIGCONT) and we record whether, and how soon, A recorded ``LEADER_LOST`` (it
  found itself fenced). Expected: about lease + poll (B takes over when A's lease has expired;
  on PostgreSQL B first terminates A's sessions to free its advisory lock).
- **kill**: A's process group is killed (SIGKILL); the time to the lease naming B. Expected on
  PostgreSQL: about one poll (A's advisory lock is freed when its sessions' sockets close); on
  SQLite: about lease + poll (only the lease tells).

  Freeze and kill runs roll on one database: after a run the old leader is killed and a fresh
  standby started (its start-up is not measured), so B leads the next run and the new process
  stands by.
- **interrupted close** (as ``tests/test_hung_leader.py``
  ``test_a_close_interrupted_by_a_dead_leader_is_sent_at_once_by_the_next``), a fresh database
  per run: the market (``tests/factories.give_market``), one BTCZAR BUY with a 2% stop, A
  started with ``HELIOS_CRASH_AT=close:after_intent`` and B standing by; the price is moved
  through the stop, A's monitor writes the close intent and SIGKILLs itself. Measured: A's death
  (seen by this process polling ``waitpid`` every 10 ms) to B's ``LEADER_TAKEOVER`` event, that
  event's time to the paper venue's order ``created_at``
  (``hx.paper_exchange.get_order(coid)``), and A's death to the venue order. Without the fix the
  close waited for the 30 s reconcile grace. For information, the close intent's ``created_at``
  to the venue: the intent carries the time its monitor pass began, so this adds A's pass up to
  its death.

A run in which B does not take over within lease + poll + 20 s (or a close that does not reach
the venue) is recorded as failed, with what held it (the lease holder; on SQLite whether the
write lock is held) and B's last warnings, and retried on a fresh pair, up to ``--runs`` more
attempts: the table gives ``n`` measured and ``failed`` beside it.

Usage::

    python bench/failover.py                 # both databases, 10 runs of each scenario
    python bench/failover.py --runs 20 --databases postgresql --only kill close

Results are printed and appended to ``bench/results/failover.md``. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from common import HERE, machine_info

ROOT = HERE.parent
RESULTS = HERE / "results" / "failover.md"
HEADING = (
    "# Fail-over benchmark (issue 15, items 1 and 6)\n\n"
    "Produced by `python bench/failover.py [--runs N]`; newest last.\n"
    "Two real schedulers (`python -m jobs`) on one database, lease 3 s and poll 0.5 s (the fast "
    "settings of `tests/scheduler_process.py`). Expected bounds: a frozen leader replaced in about "
    "lease + poll (3.5 s); a killed one in about one poll (0.5 s) on PostgreSQL, whose advisory "
    "lock is freed with the dead process's sessions, and in about lease + poll on SQLite; a close "
    "a dead leader left unsent reaches the venue right after the take-over, not after the 30 s "
    "reconcile grace.\n"
)
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0  # the default the schedulers run with
LEASE_SECONDS = 3.0  # tests/scheduler_process.FAST
POLL_SECONDS = 0.5
LEASE_POLL_MS = 20  # this process reads the lease row every 20 ms
DEATH_POLL_MS = 10
CLOSE_ROW = "close: LEADER_TAKEOVER to the close at the venue"
SCENARIOS = ("freeze", "kill", "close")
DATABASES = ("sqlite", "postgresql")


def clean_environment() -> None:
    """No .env and no configuration from the shell: the benchmark sets what it uses."""
    os.environ["HELIOS_ENV_FILE"] = ""
    from helios.config import Settings

    for key in Settings.model_fields:
        os.environ.pop(key.upper(), None)


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def pid_of(holder: str | None) -> int | None:
    return int(holder.split(":")[-2]) if holder else None


# --- reading the database ---------------------------------------------------------------------


def lease_holder(hx: Any) -> str | None:
    from helios.db.models import Lease

    with hx.db.read() as session:
        row = session.get(Lease, "scheduler")
        return row.holder if row is not None else None


def heartbeat_pid(hx: Any, name: str) -> int | None:
    from helios.db.models import Heartbeat

    with hx.db.read() as session:
        row = session.get(Heartbeat, name)
        return row.pid if row is not None else None


def events(hx: Any, kind: str, containing: str = "") -> list[Any]:
    from sqlalchemy import select

    from helios.db.models import Event

    with hx.db.read() as session:
        found = session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id))
        return [e for e in found if containing in e.message]


def position_status(hx: Any, position_id: int) -> str:
    from helios.db.models import Position

    with hx.db.read() as session:
        found = session.get(Position, position_id)
        return found.status if found is not None else "?"


def order_created(hx: Any, coid: str) -> datetime | None:
    from sqlalchemy import select

    from helios.db.models import Order

    with hx.db.read() as session:
        found = session.scalar(select(Order.created_at).where(Order.client_order_id == coid))
        return utc(found) if found is not None else None


def write_lock(url: str) -> str:
    """Whether another process holds SQLite's write lock (nothing to say on PostgreSQL)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return "PostgreSQL"
    probe = sqlite3.connect(str(parsed.database), timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return "SQLite's write lock is free"
    except sqlite3.OperationalError as exc:
        return f"SQLite's write lock is held: {exc}"
    finally:
        probe.close()


def warnings(process: Any, lines: int = 8) -> str:
    found = [ln for ln in process.log().splitlines() if " WARNING " in ln or " ERROR " in ln]
    return "\n".join(found[-lines:])


def poll_until(check: Callable[[], Any], timeout: float, interval: float) -> tuple[Any, float]:
    """Call ``check`` every ``interval`` s until it is truthy: (its value, when, monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # the database may be briefly busy
            value = None
        now = time.monotonic()
        if value or now > deadline:
            return value, now
        time.sleep(interval)


# --- the databases ------------------------------------------------------------------------------


@contextmanager
def databases(kind: str) -> Iterator[tuple[Callable[[str], str], str]]:
    """(a function giving the URL of a new, empty database by name, a description)."""
    if kind == "sqlite":
        import sqlite3

        with tempfile.TemporaryDirectory(prefix="helios-failover-") as folder:
            yield (
                lambda name: f"sqlite:///{folder}/{name}.db",
                f"SQLite {sqlite3.sqlite_version} (WAL, a temporary file per database)",
            )
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from helios.db.engine import normalise_url
    from tests.private_postgres import PrivatePostgres

    server = PrivatePostgres()
    admin = create_engine(
        normalise_url(make_url(server.url).set(database="postgres").render_as_string(False)),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()

        def new(name: str) -> str:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            return make_url(server.url).set(database=name).render_as_string(False)

        yield new, f"PostgreSQL {version} (a private server on 127.0.0.1, fsync off)"
    finally:
        admin.dispose()
        server.close()


# --- the processes ------------------------------------------------------------------------------


@dataclass
class Pair:
    """A leader and a standby on one database; the processes started are kept to stop them."""

    url: str
    folder: Path
    hx: Any
    settings: dict[str, str] = field(default_factory=dict)
    leader: Any = None
    standby: Any = None
    started: list[Any] = field(default_factory=list)

    def spawn(self, **settings: str) -> Any:
        from tests.scheduler_process import SchedulerProcess

        process = SchedulerProcess(self.url, self.folder, **settings)
        self.started.append(process)
        return process

    def start(self, **leader_settings: str) -> None:
        from tests.scheduler_process import wait_for

        self.leader = self.spawn(**leader_settings)
        wait_for(
            lambda: (
                pid_of(lease_holder(self.hx)) == self.leader.pid
                and heartbeat_pid(self.hx, "scheduler") == self.leader.pid
            ),
            60,
            "A to lead",
            self.leader,
        )
        self.standby = self.new_standby()

    def new_standby(self) -> Any:
        from tests.scheduler_process import wait_for

        process = self.spawn()
        wait_for(
            lambda: heartbeat_pid(self.hx, "scheduler-standby") == process.pid,
            60,
            "the new scheduler to stand by",
            process,
        )
        return process

    def settle(self) -> None:
        """Before a run: the leader leads (the row and its heartbeat name it)."""
        from tests.scheduler_process import wait_for

        wait_for(
            lambda: (
                pid_of(lease_holder(self.hx)) == self.leader.pid
                and heartbeat_pid(self.hx, "scheduler") == self.leader.pid
            ),
            30,
            "the leader to lead and beat",
            self.leader,
        )

    def stop_all(self) -> None:
        for process in self.started:
            if process.alive():
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGCONT)
            process.stop(timeout=10)
        self.started.clear()


# --- the scenarios ------------------------------------------------------------------------------


@dataclass
class Results:
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)


def reason_of(message: str) -> str:
    """The kind of a take-over, from its event's message."""
    if "stopped renewing its lease" in message:
        return "lease expired" + (" + sessions terminated" if "terminated" in message else "")
    if "database session ended" in message:
        return "session ended (lock freed)"
    if "stepped down" in message:
        return "stepped down"
    return message[:60]


def takeover_runs(
    new_database: Callable[[str], str], kind: str, args: argparse.Namespace, out: Results
) -> None:
    """Freeze and kill runs on one database until ``--runs`` of each are measured (a run with no
    take-over is recorded as failed and retried, up to ``--runs`` more attempts)."""
    import helios

    rng = random.Random(15)
    url = new_database("helios_failover_takeover")
    with (
        tempfile.TemporaryDirectory(prefix="helios-failover-run-") as folder,
        helios.connect(url, market_feed="manual", reconcile=False) as hx,
    ):
        pair = Pair(url, Path(folder), hx)
        try:
            pair.start()
            number = 0
            for scenario in ("freeze", "kill"):
                if scenario not in args.only:
                    continue
                measured = attempts = 0
                while measured < args.runs and attempts < 2 * args.runs:
                    attempts += 1
                    measured += takeover_run(pair, scenario, kind, number, rng, out)
                    number += 1
        finally:
            pair.stop_all()


def takeover_run(
    pair: Pair, scenario: str, kind: str, number: int, rng: random.Random, out: Results
) -> bool:
    """Freeze or kill the leader A; the time to the lease naming the standby B. Afterwards B
    leads and a fresh standby waits. False when B did not take over."""
    hx = pair.hx
    # a SQLite leader frozen inside a write is killed once the standby's claim has waited the
    # busy timeout (helios.leader): that case takes about busy timeout + lease
    timeout = LEASE_SECONDS + POLL_SECONDS + SQLITE_BUSY_TIMEOUT_SECONDS + 20
    pair.settle()
    a, b = pair.leader, pair.standby
    a_holder = lease_holder(hx) or "?"
    time.sleep(rng.uniform(0, POLL_SECONDS))  # a random phase of the leader poll
    began = time.monotonic()
    os.killpg(a.pid, signal.SIGSTOP if scenario == "freeze" else signal.SIGKILL)
    holder, seen = poll_until(
        lambda: pid_of(lease_holder(hx)) == b.pid and lease_holder(hx),
        timeout,
        LEASE_POLL_MS / 1000,
    )
    took = seen - began
    if not holder:
        named = pid_of(lease_holder(hx))
        who = {a.pid: "A, the stopped leader", b.pid: "B"}.get(named or 0, "?")
        note = (
            f"{kind} {scenario} run {number}: no take-over within {timeout:g} s (the lease "
            f"still names {who}; {write_lock(pair.url)})"
        )
        out.notes.append(note)
        out.failed[f"{scenario}: signal to the lease naming B"] += 1
        print(note, "\n--- B's last warnings ---\n" + warnings(b), flush=True)
        pair.stop_all()  # A continued and stopped, B stopped: a fresh pair
        pair.start()
        return False
    out.add(f"{scenario}: signal to the lease naming B", took)
    # the lease row is committed before B records why it took over
    found, _ = poll_until(
        lambda: events(hx, "LEADER_TAKEOVER", f"from {a_holder} "), 5, LEASE_POLL_MS / 1000
    )
    why = reason_of(found[-1].message) if found else "no LEADER_TAKEOVER event"
    out.reasons.setdefault(f"{kind} {scenario}", Counter())[why] += 1
    line = f"{kind:10} {scenario:6} run {number:3d}: {took:6.3f} s ({why})"
    if scenario == "freeze":
        woke = time.monotonic()
        os.killpg(a.pid, signal.SIGCONT)
        lost, at = poll_until(lambda: events(hx, "LEADER_LOST", a_holder), 10, 0.05)
        if lost:
            out.add("freeze: SIGCONT to A's LEADER_LOST (fenced)", at - woke)
            line += f"; A fenced {at - woke:.2f} s after SIGCONT"
        else:
            out.notes.append(
                f"{kind} freeze run {number}: A recorded no LEADER_LOST within 10 s of SIGCONT"
            )
            line += "; A NOT FENCED within 10 s"
        if pid_of(lease_holder(hx)) != b.pid:
            out.notes.append(
                f"{kind} freeze run {number}: after A woke the lease names "
                f"{lease_holder(hx)}, not B"
            )
    print(line, flush=True)
    a.kill()
    pair.leader, pair.standby = b, pair.new_standby()
    return True


def close_runs(
    new_database: Callable[[str], str], kind: str, args: argparse.Namespace, out: Results
) -> None:
    """Until ``--runs`` are measured (a failed run is recorded and retried, up to ``--runs``
    more attempts), each on a fresh database."""
    measured = number = 0
    while measured < args.runs and number < 2 * args.runs:
        measured += close_run(new_database(f"helios_failover_close_{number}"), kind, number, out)
        number += 1


def close_run(url: str, kind: str, number: int, out: Results) -> bool:
    """One interrupted close on a fresh database."""
    import helios
    from tests.factories import SEED_REASONING, SEED_TRADE, give_market

    timeout = LEASE_SECONDS + POLL_SECONDS + 20
    with (
        tempfile.TemporaryDirectory(prefix="helios-failover-run-") as folder,
        helios.connect(url, market_feed="manual") as hx,
    ):
        give_market(hx)
        opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
        if not opened["success"]:
            raise RuntimeError(f"the position was refused: {opened}")
        position_id = int(opened["position_id"])
        stop = Decimal(str(opened["stop_loss_price"]))
        coid = f"HX-{hx.positions.installation_id()}-{position_id}-CLOSE-1"
        pair = Pair(url, Path(folder), hx)
        try:
            pair.start(HELIOS_CRASH_AT="close:after_intent")
            a = pair.leader
            hx.market.set_price("BTCZAR", stop * Decimal("0.99"))  # through the stop
            dead, _ = poll_until(lambda: not a.alive(), 30, DEATH_POLL_MS / 1000)
            died = datetime.now(UTC)
            if not dead:
                out.notes.append(f"{kind} close run {number}: A did not die at the crash point")
                out.failed[CLOSE_ROW] += 1
                return False
            status, _ = poll_until(
                lambda: position_status(hx, position_id) == "STOPPED_OUT", timeout, 0.02
            )
            sent = hx.paper_exchange.get_order(coid)
            takeover = events(hx, "LEADER_TAKEOVER")
            if not status or sent is None or sent.created_at is None or not takeover:
                out.notes.append(
                    f"{kind} close run {number}: {position_status(hx, position_id)} after "
                    f"{timeout:g} s, venue order {'found' if sent else 'missing'}, "
                    f"{len(takeover)} take-over event(s)"
                )
                out.failed[CLOSE_ROW] += 1
                return False
            at_venue = utc(sent.created_at)
            took_over = utc(takeover[-1].ts)
            intent = order_created(hx, coid)
            to_takeover = (took_over - died).total_seconds()
            to_venue = (at_venue - took_over).total_seconds()
            out.add("close: A's death to B's LEADER_TAKEOVER", to_takeover)
            out.add(CLOSE_ROW, to_venue)
            out.add("close: A's death to the close at the venue", (at_venue - died).total_seconds())
            if intent is not None:
                out.add("close: A's close intent to the venue", (at_venue - intent).total_seconds())
            why = reason_of(takeover[-1].message)
            out.reasons.setdefault(f"{kind} close", Counter())[why] += 1
            print(
                f"{kind:10} close  run {number:3d}: death -> take-over {to_takeover:6.3f} s, "
                f"take-over -> venue {to_venue:6.3f} s, death -> venue "
                f"{(at_venue - died).total_seconds():6.3f} s ({why})",
                flush=True,
            )
            return True
        finally:
            pair.stop_all()


# --- the summary --------------------------------------------------------------------------------


def expected(name: str, kind: str) -> str:
    if name.startswith("freeze: signal"):
        return "~ lease + poll (3.5 s)"
    if name.startswith("kill") or name.startswith("close: A's death to B"):
        return "~ poll (0.5 s)" if kind == "postgresql" else "~ lease + poll (3.5 s)"
    if name.startswith("close: LEADER_TAKEOVER"):
        return "at once (no 30 s grace)"
    if name.startswith("close: A's death to the close"):
        return "the take-over + at once"
    return "information"


def table(results: dict[str, Results]) -> list[str]:
    lines = [
        "| scenario | database | n | failed | min | median | p90 | max | expected |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    names: list[str] = []
    for result in results.values():
        names += [n for n in result.samples if n not in names]
    for name in names:
        for kind, result in results.items():
            values = result.samples.get(name)
            if not values:
                continue
            array = np.array(values)
            p50, p90 = np.percentile(array, [50, 90])
            lines.append(
                f"| {name} | {kind} | {len(values)} | {result.failed[name]} | "
                f"{array.min():.3f} s | {p50:.3f} s | "
                f"{p90:.3f} s | {array.max():.3f} s | {expected(name, kind)} |"
            )
    return lines


def code_state() -> str:
    import subprocess

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "helios", "jobs", "tests/scheduler_process.py")
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        f" with uncommitted changes to {', '.join(line[3:] for line in changed.splitlines())}"
        if changed
        else " (helios/ and jobs/ clean)"
    )


def record(args: argparse.Namespace, results: dict[str, Results], versions: list[str]) -> None:
    load_start = args.load_start
    info = machine_info()
    reasons = [
        f"{where}: " + ", ".join(f"{why} x{count}" for why, count in counter.most_common())
        for result in results.values()
        for where, counter in result.reasons.items()
    ]
    notes = [note for result in results.values() for note in result.notes]
    lines = [
        "",
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {' and '.join(results)}"
        + (f": {args.note}" if args.note else ""),
        "",
        f"- command: `{shlex.join(['python', 'bench/failover.py', *sys.argv[1:]])}`",
        *(f"- database: {version}" for version in versions),
        "- settings: LEADER_LEASE_SECONDS=3, LEADER_POLL_SECONDS=0.5 (the schedulers' other jobs "
        "every 0.5-1 s, manual feed: `tests/scheduler_process.FAST`); the lease row read every "
        f"{LEASE_POLL_MS} ms, A's death seen by waitpid every {DEATH_POLL_MS} ms (both add up to "
        "that much to a figure)",
        f"- runs: {args.runs} measured per scenario ({', '.join(args.only)}) per database; "
        "freeze and kill roll on one database (after each run the old leader is killed and a "
        "fresh standby started, unmeasured); each interrupted close on a fresh database",
        f"- code: {code_state()}",
        f"- machine: {info['cpu']}; load average {load_start} at the start; the 2 cores are "
        "shared with other sessions' work (test suites), which stretches the tails",
        f"- python {info['python']}, sqlalchemy {info['sqlalchemy']}",
        "- take-over reasons (from the LEADER_TAKEOVER events): " + "; ".join(reasons),
        "- odd runs: "
        + (
            "; ".join(notes)
            if notes
            else "none (every take-over happened, every "
            "frozen leader recorded LEADER_LOST after SIGCONT)"
        ),
        "",
        *table(results),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(HEADING)
    with RESULTS.open("a") as out:
        out.write("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per scenario per database")
    parser.add_argument("--databases", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--note", default="", help="a label for the recorded section")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    args.load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    clean_environment()
    sys.path.insert(0, str(ROOT))
    from tests.scheduler_process import FAST

    if (float(FAST["LEADER_LEASE_SECONDS"]), float(FAST["LEADER_POLL_SECONDS"])) != (
        LEASE_SECONDS,
        POLL_SECONDS,
    ):
        sys.exit("tests/scheduler_process.FAST changed its lease or poll: update LEASE_SECONDS")
    results: dict[str, Results] = {}
    versions: list[str] = []
    for kind in args.databases:
        out = results.setdefault(kind, Results())
        with databases(kind) as (new_database, version):
            versions.append(version)
            print(f"\n{kind}: {version}", flush=True)
            if {"freeze", "kill"} & set(args.only):
                takeover_runs(new_database, kind, args, out)
            if "close" in args.only:
                close_runs(new_database, kind, args, out)
    print("\n" + "\n".join(table(results)))
    for result in results.values():
        for note in result.notes:
            print("odd:", note)
    if not args.no_record:
        record(args, results, versions)
        print(f"\nrecorded in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
