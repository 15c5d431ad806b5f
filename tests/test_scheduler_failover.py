"""The real scheduler (``python -m jobs``) losing its database and losing its leader.

- The database goes away while positions are open: the scheduler halts and closes them out
  through the journal, and when the database returns the journal is replayed into it, each close
  once; replaying again changes nothing; a scheduler killed while the database is away leaves the
  journal to the next one, which replays it before its stop monitor acts.
- The leader is SIGKILLed while signals flow: the standby takes over within its configured time,
  every signal ends processed exactly once, a kill in the middle of an open (``helios.faults``)
  leaves no lost or doubled position, and there are never two leaders.

How the database is taken away without touching other databases:

- PostgreSQL: ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` and ``pg_terminate_backend`` of its
  sessions, from an admin connection to the ``postgres`` database (the server keeps serving the
  other test databases).
- SQLite: the test process holds the write lock (``BEGIN EXCLUSIVE`` and a write on a raw
  connection) and the scheduler runs with ``SQLITE_BUSY_TIMEOUT_SECONDS=0.5``, so everything it
  would record fails after half a second. ``PRAGMA locking_mode=EXCLUSIVE`` cannot be had: in
  WAL mode the scheduler's open connections keep their shared locks on the file. Reads still
  answer under a writer's lock in WAL mode, which is why the scheduler's probe
  (``DatabaseWatch.probe``) opens a write transaction.

A position a killed leader leaves OPENING or CLOSING is settled by the new leader as it takes
over (the dead leader can send nothing more); one written by another live process waits for
``RECONCILE_GRACE`` (30 s) since its last change (``tests/test_hung_leader.py``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import SEED_REASONING, SEED_TRADE, count_rows, give_market
from scheduler_process import FAST, SchedulerProcess, wait_for
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import helios
from helios.closeout import CloseoutJournal, replay_journal
from helios.db.engine import normalise_url
from helios.db.models import (
    Event,
    Fill,
    Heartbeat,
    Lease,
    Order,
    PaperVenueOrder,
    Position,
    PositionEvent,
    RiskDecision,
    Signal,
)

pytestmark = pytest.mark.slow

LEASE_SECONDS = float(FAST["LEADER_LEASE_SECONDS"])
POLL_SECONDS = float(FAST["LEADER_POLL_SECONDS"])
SLACK_SECONDS = 6.0  # a 2-core machine running the suite beside us
FINAL = {"EXECUTED", "REJECTED", "EXPIRED"}


def connect(database_url: str) -> helios.Helios:
    """The test's own Helios: the system clock (the scheduler's), the manual feed."""
    return helios.connect(database_url, market_feed="manual")


def is_sqlite(database_url: str) -> bool:
    return make_url(normalise_url(database_url)).get_backend_name() == "sqlite"


@contextlib.contextmanager
def database_away(database_url: str) -> Iterator[None]:
    """The scheduler's database is unreachable inside the block (see the module's text)."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite":
        assert url.database
        holder = sqlite3.connect(url.database, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # waits for a scheduler write in progress
            holder.execute("UPDATE settings SET value = value")  # a real write, held open
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    name = url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def leader_pid(hx: helios.Helios) -> int | None:
    """The pid on the leader's heartbeat row (None: nobody has led yet)."""
    with hx.db.read() as session:
        row = session.get(Heartbeat, "scheduler")
        return row.pid if row is not None else None


def standby_pid(hx: helios.Helios) -> int | None:
    with hx.db.read() as session:
        row = session.get(Heartbeat, "scheduler-standby")
        return row.pid if row is not None else None


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def lease(hx: helios.Helios) -> Lease | None:
    with hx.db.read() as session:
        return session.get(Lease, "scheduler")


def position_events(hx: helios.Helios, position_id: int) -> list[PositionEvent]:
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(PositionEvent)
                .where(PositionEvent.position_id == position_id)
                .order_by(PositionEvent.id)
            )
        )


def holder_pid(row: Lease | None) -> int | None:
    """The pid in a lease holder ``host:pid:nonce``."""
    return int(row.holder.split(":")[-2]) if row is not None else None


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ledger_holds(hx: helios.Helios) -> bool:
    hx.ledger.check()  # raises LedgerInvariantError when cash, entries and positions disagree
    return True


# --- 1. the database goes away --------------------------------------------------------------------


def journal_closeout(journal: CloseoutJournal, ids: list[int]) -> list[dict[str, Any]] | None:
    """The journal's close-out records once it holds a halt and one close per position, else
    None (the "database lost" alert the close-out also journals is tested apart:
    tests/test_alert_offline.py)."""
    records = [r for r in journal.records() if r.get("type") not in ("alert", "alert_sent")]
    halts = [r for r in records if r.get("type") == "halt"]
    closed = sorted(int(r["position_id"]) for r in records if r.get("type") == "close")
    return records if halts and closed == ids else None


def closed_out_in_database(hx: helios.Helios, ids: list[int]) -> bool:
    with hx.db.read() as session:
        statuses = set(session.scalars(select(Position.status).where(Position.id.in_(ids))))
    return statuses == {"EMERGENCY_CLOSE"} and hx.controls.halt_state().halted


def open_two_positions(
    database_url: str, tmp_path: Path
) -> tuple[list[int], str, CloseoutJournal, dict[int, str]]:
    """A long BTC and a short ETH (the seed's trade); their ids, the installation, the journal
    the scheduler will write and each position's journal close id."""
    with connect(database_url) as hx:
        give_market(hx)
        opened = [
            hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING),
            hx.positions.open_position("ETHZAR", "SELL", SEED_TRADE, SEED_REASONING),
        ]
        assert all(o["success"] for o in opened), opened
        ids = sorted(int(o["position_id"]) for o in opened)
        installation = hx.positions.installation_id()
    journal = CloseoutJournal(tmp_path / "journal", installation)
    return ids, installation, journal, {p: f"HX-{installation}-{p}-ECLOSE-1" for p in ids}


def test_a_lost_database_halts_closes_out_through_the_journal_and_replays_once(
    database_url: str, tmp_path: Path
) -> None:
    ids, installation, journal, coids = open_two_positions(database_url, tmp_path)

    with SchedulerProcess(
        database_url,
        tmp_path,
        HALT_DATABASE_LOST_SECONDS=2,
        SQLITE_BUSY_TIMEOUT_SECONDS=0.5,
        WATCHDOG_INTERVAL_SECONDS=0.5,
    ) as scheduler:
        with connect(database_url) as hx:
            # the leader's heartbeat row is written after the take-over, which remembers the book
            wait_for(
                lambda: leader_pid(hx) == scheduler.pid, 60, "the scheduler to lead", scheduler
            )
            assert not hx.controls.halt_state().halted

        lost_at = time.monotonic()
        with database_away(database_url):
            records = wait_for(
                lambda: journal_closeout(journal, ids),
                30,
                "a halt and a close per position in the journal while the database is away",
                scheduler,
            )
            waited = time.monotonic() - lost_at
            assert scheduler.alive()
            # nothing could be recorded: every step is in the journal, fsynced, in order
            kinds = [r["type"] for r in records]
            assert kinds == ["halt", "intent", "close", "intent", "close"], kinds
            assert records[0]["cause"] == "database_lost"
            assert records[0]["action"] == "close_all"
            assert records[0]["figures"]["open_positions"] == 2
            assert records[0]["figures"]["lost_seconds"] >= 2
            for record in records[1:]:
                assert record["client_order_id"] == coids[int(record["position_id"])]
            assert all(r["result"]["status"] == "FILLED" for r in records if r["type"] == "close")
            assert waited >= 1.8, f"closed out after {waited:.1f} s, before the 2 s allowed"
            # the journal is not replayed while the database is still away
            time.sleep(1)
            assert not any(r["type"] == "replayed" for r in journal.records())

        with connect(database_url) as hx:
            wait_for(
                lambda: closed_out_in_database(hx, ids) and not journal.pending(),
                60,
                "the journal replayed into the returned database",
                scheduler,
            )
            state = hx.controls.halt_state()
            assert state.halted and state.cause == "database_lost", state
            assert state.by == "watchdog"
            [halt] = events(hx, "HALT")
            assert "database unreachable" in halt.message
            # every journal record is marked replayed, exactly once
            records = journal.records()
            marks = [r["ref"] for r in records if r["type"] == "replayed"]
            originals = [r["id"] for r in records if r["type"] != "replayed"]
            assert sorted(marks) == sorted(originals)
            assert_closed_once(hx, ids, coids)
            assert ledger_holds(hx)
            # the scheduler stays up, halted, and closes nothing more
            time.sleep(2)
            assert scheduler.alive()
            assert_closed_once(hx, ids, coids)
            before = count_rows(hx)

    # Replaying again (a crash between writing a record and marking it replayed, or a second
    # process replaying) changes nothing: the journal without its marks, replayed from scratch.
    again = CloseoutJournal(tmp_path / "again", installation)
    again.directory.mkdir()
    again.path.write_text(
        "".join(json.dumps(r) + "\n" for r in journal.records() if r["type"] != "replayed")
    )
    with connect(database_url) as hx:
        lines = replay_journal(hx, again)
        # the halt, two intents, two closes, and the "database lost" alert (already queued)
        assert len(lines) == 6 and not again.pending(), lines
        assert lines[-1] == "alert DATABASE_LOST: already queued"
        assert sum("already recorded" in line for line in lines) == 2, lines
        assert count_rows(hx) == before
        assert len(events(hx, "HALT")) == 1
        assert_closed_once(hx, ids, coids)
        assert ledger_holds(hx)
        # and the first journal, fully marked, has nothing left to replay
        assert replay_journal(hx, journal) == []


def assert_closed_once(hx: helios.Helios, ids: list[int], coids: dict[int, str]) -> None:
    with hx.db.read() as session:
        for pid in ids:
            position = session.get(Position, pid)
            assert position is not None
            assert (position.status, position.close_reason) == ("EMERGENCY_CLOSE",) * 2
            assert position.exit_price is not None and position.realized_pnl is not None
            closes = list(
                session.scalars(
                    select(Order).where(Order.position_id == pid, Order.action == "CLOSE")
                )
            )
            assert [(o.client_order_id, o.status) for o in closes] == [(coids[pid], "FILLED")]
            fills = session.scalar(
                select(func.count()).select_from(Fill).where(Fill.order_id == closes[0].id)
            )
            assert fills == 1
            venue = list(
                session.scalars(
                    select(PaperVenueOrder).where(PaperVenueOrder.client_order_id == coids[pid])
                )
            )
            assert len(venue) == 1 and venue[0].status == "FILLED"
            assert venue[0].fill_price == position.exit_price


def test_a_scheduler_killed_while_the_database_is_away_is_replayed_by_the_next_one_first(
    database_url: str, tmp_path: Path
) -> None:
    """The scheduler closes out through the journal and dies (SIGKILL) before the database
    returns; meanwhile the prices cross both positions' stops. The next scheduler replays the
    journal before its stop monitor or close-out acts: each position closed once, by the
    journal's order, and no second close sent to the venue."""
    ids, installation, journal, coids = open_two_positions(database_url, tmp_path)
    settings = {
        "HALT_DATABASE_LOST_SECONDS": 2,
        "SQLITE_BUSY_TIMEOUT_SECONDS": 0.5,
        "WATCHDOG_INTERVAL_SECONDS": 0.5,
    }
    first = SchedulerProcess(database_url, tmp_path, **settings)
    try:
        with connect(database_url) as hx:
            wait_for(lambda: leader_pid(hx) == first.pid, 60, "the scheduler to lead", first)
        with database_away(database_url):
            wait_for(
                lambda: journal_closeout(journal, ids),
                30,
                "the close-out in the journal while the database is away",
                first,
            )
            first.kill()
    finally:
        first.stop()
    # nothing replayed: the database never came back to it (the close-out's own records; its
    # alert may be journaled after them or not, as the kill fell)
    assert len([r for r in journal.pending() if r["type"] != "alert"]) == 5

    with connect(database_url) as hx:
        # back, untouched: both positions still OPEN there, and the stops now crossed
        with hx.db.read() as session:
            statuses = list(session.scalars(select(Position.status).where(Position.id.in_(ids))))
        assert statuses == ["OPEN", "OPEN"]
        hx.market.set_price("BTCZAR", "1100000")  # the BUY's 2% stop is 1,176,000
        hx.market.set_price("ETHZAR", "66000")  # the SELL's 2% stop is 61,200
    with (
        SchedulerProcess(database_url, tmp_path, **settings) as second,
        connect(database_url) as hx,
    ):
        wait_for(
            lambda: closed_out_in_database(hx, ids) and not journal.pending(),
            60,
            "the next scheduler to replay the journal",
            second,
        )
        wait_for(lambda: leader_pid(hx) == second.pid, 60, "the next scheduler to lead", second)
        time.sleep(2)  # its monitor and the halt's close-out have run several times
        assert second.alive()
        assert_closed_once(hx, ids, coids)
        with hx.db.read() as session:
            venue = sorted(session.scalars(select(PaperVenueOrder.client_order_id)))
        assert venue == sorted(
            [f"HX-{installation}-{pid}-OPEN" for pid in ids] + list(coids.values())
        )
        state = hx.controls.halt_state()
        assert state.halted and state.cause == "database_lost"
        assert ledger_holds(hx)


# --- 2. the leader dies ---------------------------------------------------------------------------


class SignalFeeder(threading.Thread):
    """Submits a small signal every ``every`` seconds until stopped (its own Helios)."""

    PLAN = (("BTCZAR", "BUY"), ("ETHZAR", "BUY"), ("SOLZAR", "BUY"), ("BTCZAR", "SELL"))

    def __init__(self, database_url: str, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.every = every
        self.stop = threading.Event()
        self.ids: list[int] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            with connect(self.database_url) as hx:
                while not self.stop.is_set():
                    pair, side = self.PLAN[len(self.ids) % len(self.PLAN)]
                    receipt = hx.signals.submit(
                        pair,
                        side,
                        0.8,
                        True,
                        llm_reasoning="failover test",
                        trade_params={**SEED_TRADE, "position_size_zar": 300.0},
                        dedup_key=f"failover-{len(self.ids)}",
                    )
                    assert receipt["accepted"] and receipt["status"] == "PENDING", receipt
                    self.ids.append(int(receipt["signal_id"]))
                    self.stop.wait(self.every)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def finish(self) -> list[int]:
        self.stop.set()
        self.join(timeout=30)
        assert not self.is_alive(), "the signal feeder did not stop"
        assert not self.errors, self.errors
        return self.ids


def executed_count(hx: helios.Helios) -> int:
    return hx.signals.counts().get("EXECUTED", 0)


def unsettled(hx: helios.Helios) -> list[tuple[int, str]]:
    """Positions between two states (OPENING, CLOSING)."""
    with hx.db.read() as session:
        rows = session.execute(
            select(Position.id, Position.status).where(Position.status.in_(("OPENING", "CLOSING")))
        ).all()
    return [(int(i), str(s)) for i, s in rows]


def all_processed(hx: helios.Helios, ids: list[int]) -> bool:
    with hx.db.read() as session:
        statuses = list(session.scalars(select(Signal.status).where(Signal.id.in_(ids))))
    return len(statuses) == len(ids) and set(statuses) <= FINAL


def assert_each_signal_once(hx: helios.Helios, ids: list[int]) -> list[Position]:
    """Every signal final; each EXECUTED one has exactly one position and names it; no position
    without its signal; nothing left between two states. Returns the positions."""
    with hx.db.read() as session:
        signals = list(session.scalars(select(Signal).where(Signal.id.in_(ids))))
        positions = list(session.scalars(select(Position).order_by(Position.id)))
        orders = list(session.scalars(select(Order)))
        venue = list(session.scalars(select(PaperVenueOrder)))
        passed = list(
            session.scalars(select(RiskDecision.signal_id).where(RiskDecision.passed.is_(True)))
        )
        decided = [
            (e.details or {}).get("signal_id")
            for e in session.scalars(select(Event).where(Event.kind.like("SIGNAL_%")))
        ]
    assert len(signals) == len(ids)
    # each signal was decided once: one passed risk check, at most one decision line
    assert sorted(passed) == sorted(p.signal_id for p in positions)
    twice = sorted({sid for sid in decided if decided.count(sid) > 1})
    assert not twice, f"signals decided twice: {twice}"
    stuck = [(s.id, s.status) for s in signals if s.status not in FINAL]
    assert not stuck, f"signals never processed: {stuck}"
    by_signal: dict[int, list[Position]] = {}
    for position in positions:
        assert position.signal_id is not None, f"position {position.id} has no signal"
        by_signal.setdefault(position.signal_id, []).append(position)
    doubled = {sid: [p.id for p in ps] for sid, ps in by_signal.items() if len(ps) > 1}
    assert not doubled, f"signals with two positions: {doubled}"
    for signal in signals:
        mine = by_signal.get(signal.id, [])
        if signal.status == "EXECUTED":
            assert len(mine) == 1, f"signal {signal.id} EXECUTED with positions {mine}"
            assert signal.position_id == mine[0].id, (signal.id, signal.position_id, mine[0].id)
        else:
            assert not mine, f"signal {signal.id} {signal.status} yet opened {mine[0].id}"
    assert set(by_signal) <= set(ids)
    unsettled = [(p.id, p.status) for p in positions if p.status in ("OPENING", "CLOSING")]
    assert not unsettled, f"positions left between two states: {unsettled}"
    # one OPEN order per position, and the venue filled each once
    opens = [o for o in orders if o.action == "OPEN"]
    assert sorted(o.position_id for o in opens) == [p.id for p in positions]
    venue_ids = [v.client_order_id for v in venue]
    assert len(venue_ids) == len(set(venue_ids))
    assert sorted(venue_ids) == sorted(o.client_order_id for o in opens)
    return positions


def test_a_sigkilled_leader_hands_over_to_the_standby_with_every_signal_processed_once(
    database_url: str, tmp_path: Path
) -> None:
    with connect(database_url) as hx:
        give_market(hx)
    feeder = SignalFeeder(database_url)
    a = SchedulerProcess(database_url, tmp_path)
    b: SchedulerProcess | None = None
    try:
        with connect(database_url) as hx:
            wait_for(lambda: leader_pid(hx) == a.pid, 60, "scheduler A to lead", a)
            b = SchedulerProcess(database_url, tmp_path)
            wait_for(lambda: standby_pid(hx) == b.pid, 60, "scheduler B to stand by", b)
            assert leader_pid(hx) == a.pid and holder_pid(lease(hx)) == a.pid

            feeder.start()
            wait_for(lambda: executed_count(hx) >= 3, 60, "A to open positions", a)
            assert len(events(hx, "LEADER")) == 1  # B has stood by all along
            leading = lease(hx)  # A's lease while it leads
            assert holder_pid(leading) == a.pid and leading is not None
            a.kill()
            killed_at = time.monotonic()
            killed_wall = datetime.now(UTC)
            # SQLite: A cannot renew any more, and B cannot take the row before it expires, so
            # this read is A's last word. PostgreSQL: B may hold the advisory lock (and the row)
            # within a poll of A's death, so a read now can already be B's (CI read B's): A's
            # row is the one read while it led.
            a_lease = lease(hx) if is_sqlite(database_url) else leading
            assert holder_pid(a_lease) == a.pid and a_lease is not None

            wait_for(lambda: leader_pid(hx) == b.pid, 60, "B to take over", b)
            took = time.monotonic() - killed_at
            time.sleep(2)  # signals keep flowing to the new leader
            ids = feeder.finish()
            wait_for(lambda: all_processed(hx, ids), 60, "every signal processed by B", b)

            bound = (LEASE_SECONDS if is_sqlite(database_url) else 0) + POLL_SECONDS
            assert took <= bound + SLACK_SECONDS, f"B took {took:.1f} s (bound {bound} s)"
            b_lease = lease(hx)
            assert holder_pid(b_lease) == b.pid and b_lease is not None
            if is_sqlite(database_url):
                # B took the lease only once A's had run out: never two leaders
                assert utc(b_lease.acquired_at) >= utc(a_lease.expires_at)
            else:  # the advisory lock: B got it only when A's session died
                assert utc(b_lease.acquired_at) >= killed_wall - timedelta(seconds=1)
            [first_leader] = events(hx, "LEADER")
            [takeover] = events(hx, "LEADER_TAKEOVER")
            assert [str(e.message).split()[1].split(":")[1] for e in (first_leader, takeover)] == [
                str(a.pid),
                str(b.pid),
            ]
            assert a_lease.holder in takeover.message  # from whom, and why
            assert utc(takeover.ts) >= killed_wall - timedelta(seconds=1)
            assert events(hx, "LEADER_LOST") == []

            # A killed between the venue's fill and its own record leaves that position
            # OPENING (every signal is final, so nothing is in flight): B settles what A
            # wrote from the venue's record as it takes over (A is dead: no grace needed)
            left = unsettled(hx)
            wait_for(
                lambda: not unsettled(hx),
                SLACK_SECONDS + 10,
                f"B to settle what A left between two states: {left}",
                b,
            )
            positions = assert_each_signal_once(hx, ids)
            by_a = [p for p in positions if utc(p.created_at) < killed_wall]
            by_b = [p for p in positions if utc(p.created_at) > killed_wall]
            assert len(by_a) >= 3 and by_b, "both leaders should have opened positions"
            executed = [s for s in hx.signals.recent(1000) if s["status"] == "EXECUTED"]
            assert len(positions) == len(executed) >= 3
            assert ledger_holds(hx)
            assert b.alive()
    finally:
        feeder.stop.set()
        a.stop()
        if b is not None:
            b.stop()


def test_a_leader_killed_in_the_middle_of_an_open_leaves_no_lost_or_doubled_position(
    database_url: str, tmp_path: Path
) -> None:
    """A dies (SIGKILL, helios.faults) just after the exchange took its order and before its
    records say so. B takes over, settles that position at once from the exchange's record
    (opened once; A, dead, sends nothing more) and carries on with the other signals."""
    with connect(database_url) as hx:
        give_market(hx)
        installation = hx.positions.installation_id()
    a = SchedulerProcess(database_url, tmp_path, HELIOS_CRASH_AT="open:after_send")
    b: SchedulerProcess | None = None
    try:
        with connect(database_url) as hx:
            wait_for(lambda: leader_pid(hx) == a.pid, 60, "scheduler A to lead", a)
            b = SchedulerProcess(database_url, tmp_path)
            wait_for(lambda: standby_pid(hx) == b.pid, 60, "scheduler B to stand by", b)
            first = hx.signals.submit(
                "BTCZAR",
                "BUY",
                0.8,
                True,
                trade_params={**SEED_TRADE, "position_size_zar": 300.0},
                dedup_key="mid-open",
            )
            deadline = time.monotonic() + 60
            while a.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not a.alive(), "A did not die at open:after_send"
            a.stop()
            with hx.db.read() as session:
                [stuck] = session.scalars(select(Position))
            # A left it OPENING; B may have taken over and settled it already (A's advisory lock
            # is freed when it dies, and a dead leader's orders need no grace): the events below
            # prove it was settled by reconcile, not recorded by A
            assert stuck.status in ("OPENING", "OPEN") and stuck.signal_id == first["signal_id"]
            coid = f"HX-{installation}-{stuck.id}-OPEN"
            assert hx.paper_exchange.get_order(coid) is not None  # the venue has it

            wait_for(lambda: leader_pid(hx) == b.pid, 60, "B to take over", b)
            second = hx.signals.submit(
                "ETHZAR",
                "BUY",
                0.8,
                True,
                trade_params={**SEED_TRADE, "position_size_zar": 300.0},
                dedup_key="after-take-over",
            )
            ids = [first["signal_id"], second["signal_id"]]
            wait_for(lambda: all_processed(hx, ids), 60, "B to process the signals", b)
            assert hx.signals.get(first["signal_id"])["status"] == "EXECUTED"
            # A is dead, so nothing else can be sending its order: B settled it from the
            # venue's record as it took over, without the grace (issue 15 item 6)
            assert unsettled(hx) == []
            assert [e.kind for e in position_events(hx, stuck.id)][-2:] == ["OPENED", "RECONCILED"]
            positions = assert_each_signal_once(hx, ids)
            assert [p.status for p in positions] == ["OPEN", "OPEN"]
            assert ledger_holds(hx)
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_two_schedulers_started_together_elect_exactly_one_leader(
    database_url: str, tmp_path: Path
) -> None:
    with connect(database_url) as hx:
        give_market(hx)
    first = SchedulerProcess(database_url, tmp_path)
    second = SchedulerProcess(database_url, tmp_path)
    try:
        with connect(database_url) as hx:
            pids = {first.pid, second.pid}
            wait_for(
                lambda: leader_pid(hx) in pids and standby_pid(hx) in pids,
                60,
                "one leader and one standby",
                first,
            )
            # several lease periods: the standby never takes over from a live leader
            time.sleep(LEASE_SECONDS * 2 + 1)
            leader, standby = leader_pid(hx), standby_pid(hx)
            assert {leader, standby} == pids
            assert holder_pid(lease(hx)) == leader
            assert len(events(hx, "LEADER")) == 1
            assert events(hx, "LEADER_LOST") == []
            with hx.db.read() as session:
                beats = {row.process: row for row in session.scalars(select(Heartbeat))}
            assert beats["scheduler"].details["role"] == "leader"
            assert beats["scheduler-standby"].details["role"] == "standby"
            assert first.alive() and second.alive()
    finally:
        first.stop()
        second.stop()
