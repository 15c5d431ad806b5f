"""One scheduler leads (``helios.leader``): two ``Leadership`` objects on one database, each with
its own ``Database`` (as two processes would have), on real SQLite and PostgreSQL.

Both: a lease row that expires ``lease_seconds`` after its last renewal (the ManualClock moves
time), with a fencing epoch; PostgreSQL also: a session advisory lock that the server frees when
the holder's connection ends (released, dropped by the server, or the holding process killed),
and a holder that stopped renewing (hung) has its sessions terminated by the standby.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from helios.clock import ManualClock, SystemClock
from helios.db.engine import Database
from helios.db.models import Event
from helios.errors import Fenced
from helios.leader import ADVISORY_KEY, Leadership

LEASE = 15.0
ROOT = Path(__file__).resolve().parents[1]
Make = Callable[[], Leadership]


@pytest.fixture
def make(database_url: str, clock: ManualClock) -> Iterator[Make]:
    """A new Leadership on a Database of its own (a scheduler process of its own)."""
    made: list[tuple[Leadership, Database]] = []

    def new() -> Leadership:
        db = Database(database_url)
        leadership = Leadership(db, clock, LEASE)
        made.append((leadership, db))
        return leadership

    yield new
    for leadership, db in made:
        leadership.release()
        db.dispose()


def dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# --- both databases ---------------------------------------------------------------------------


def test_the_first_leads_and_the_second_stands_by(make: Make, clock: ManualClock):
    first, second = make(), make()
    assert first.identity != second.identity
    assert first.try_lead() is True
    assert second.try_lead() is False
    assert first.still_leading() is True
    assert second.still_leading() is False
    assert first.leading and not second.leading
    holder = first.holder()
    assert holder is not None and holder[0] == first.identity
    assert second.holder() == holder  # both see the same row

    for _ in range(3):  # renewing keeps it; the standby keeps waiting
        clock.advance(seconds=LEASE / 2)
        assert first.try_lead() is True
        assert second.try_lead() is False
        assert first.still_leading() is True
    holder = first.holder()
    assert holder is not None and holder == (first.identity, clock.now() + first.lease)


def test_a_release_lets_the_standby_take_over_at_once(make: Make, clock: ManualClock):
    first, second = make(), make()
    assert first.try_lead() is True
    assert second.try_lead() is False
    first.release()
    assert first.leading is False
    assert first.still_leading() is False
    assert second.try_lead() is True  # no waiting, the clock has not moved
    assert second.still_leading() is True
    assert first.try_lead() is False  # and the first cannot take it back
    holder = second.holder()
    assert holder is not None and holder[0] == second.identity


def _leader_events(database_url: str) -> list[tuple[str, str]]:
    db = Database(database_url)
    try:
        with db.read() as session:
            rows = session.execute(
                select(Event.kind, Event.message)
                .where(Event.kind.in_(("LEADER", "LEADER_TAKEOVER")))
                .order_by(Event.id)
            ).all()
        return [(kind, message) for kind, message in rows]
    finally:
        db.dispose()


def test_each_take_over_is_recorded_once_with_the_claim_and_a_renewal_never(
    database_url: str, make: Make, clock: ManualClock
):
    """The record of who leads and why is written in the claim's transaction: exactly one event
    per take-over, none for a renewal or a refused claim."""
    first, second = make(), make()
    assert first.try_lead() is True
    assert second.try_lead() is False
    clock.advance(seconds=LEASE / 2)
    assert first.try_lead() is True  # a renewal
    assert _leader_events(database_url) == [
        ("LEADER", f"scheduler {first.identity} leads: no scheduler had led this database")
    ]
    first.release()
    assert second.try_lead() is True
    assert second.try_lead() is True  # a renewal again
    events = _leader_events(database_url)
    assert len(events) == 2, events
    kind, message = events[1]
    assert kind == "LEADER_TAKEOVER"
    assert message.startswith(f"scheduler {second.identity} took over from {first.identity}")
    assert "stepped down" in message, message


def test_releasing_without_leading_changes_nothing(make: Make):
    first, second = make(), make()
    assert first.try_lead() is True
    second.release()  # the standby steps down from nothing
    assert first.still_leading() is True
    assert second.try_lead() is False


def test_contenders_starting_at_once_get_exactly_one_leader(make: Make):
    contenders = [make() for _ in range(4)]
    barrier = threading.Barrier(len(contenders))
    results: dict[int, bool | BaseException] = {}

    def contend(index: int, leadership: Leadership) -> None:
        barrier.wait()
        try:
            results[index] = leadership.try_lead()
        except BaseException as exc:  # reported below
            results[index] = exc

    threads = [
        threading.Thread(target=contend, args=(index, leadership))
        for index, leadership in enumerate(contenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [0, 1, 2, 3], results
    assert all(isinstance(v, bool) for v in results.values()), results
    assert sum(1 for v in results.values() if v is True) == 1, results
    leaders = [c for c in contenders if c.still_leading()]
    assert len(leaders) == 1


# --- SQLite: the lease -----------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_expired_lease_is_taken_over_and_the_old_leader_knows(
    database_url: str, make: Make, clock: ManualClock
):
    first, second = make(), make()
    assert first.try_lead() is True
    clock.advance(seconds=LEASE - 0.5)  # not renewed, but not expired yet
    assert second.try_lead() is False
    assert first.still_leading() is True

    clock.advance(seconds=1)  # 15.5 s since the last renewal: the lease is over
    assert first.still_leading() is False  # a stalled leader sees it before trading
    assert second.try_lead() is True
    assert second.still_leading() is True
    assert first.still_leading() is False
    assert first.try_lead() is False  # it does not take it back while the new one renews
    assert first.leading is False
    holder = second.holder()
    assert holder is not None and holder == (second.identity, clock.now() + second.lease)

    clock.advance(seconds=LEASE - 1)
    assert second.try_lead() is True  # renewed
    clock.advance(seconds=LEASE - 1)
    assert first.try_lead() is False
    assert second.still_leading() is True


def test_a_replaced_leader_is_fenced_its_writes_refused_before_they_change_anything(
    database_url: str, make: Make, clock: ManualClock
):
    """Issue 15 item 1: the take-over adds one to the epoch; the old leader's fenced write
    raises before it writes, its pre-send check too, and the event says who took over and why."""
    first, second = make(), make()
    assert first.try_lead() is True
    assert first.takeover is not None and first.takeover.previous is None
    first_db = first._db
    with first_db.fenced(first.check), first_db.write() as session:  # leading: allowed
        session.execute(text("UPDATE settings SET value = value WHERE key = 'none'"))
    clock.advance(seconds=LEASE + 0.5)  # first hangs: no renewal for longer than the lease
    assert second.try_lead() is True
    takeover = second.takeover
    assert takeover is not None and takeover.previous == first.identity
    assert takeover.epoch == first.epoch + 1 == second.epoch
    assert "stopped renewing its lease 15.5 s ago" in takeover.reason
    assert "hung or dead" in takeover.reason
    # first wakes: every leader-only write and every order send is refused
    with (
        pytest.raises(Fenced, match=second.identity),
        first_db.fenced(first.check),
        first_db.write() as session,
    ):
        session.execute(text("INSERT INTO settings VALUES ('fenced', 'x', now(), 'x')"))
    with pytest.raises(Fenced), first_db.fenced(first.check):
        first_db.check_fence()
    with second._db.read() as session:
        assert (
            session.execute(text("SELECT count(*) FROM settings WHERE key = 'fenced'")).scalar()
            == 0
        )
    assert first.try_lead() is False
    assert first.lost_reason.startswith("fenced:") and second.identity in first.lost_reason
    assert first.epoch is None and not first.still_leading()
    # a write outside the fence (the API, the console) is never refused
    with first_db.write() as session:
        session.execute(text("UPDATE settings SET value = value WHERE key = 'none'"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_hung_postgresql_leader_is_fenced_its_sessions_terminated(
    database_url: str, make: Make, clock: ManualClock
):
    """Issue 15 item 1 on PostgreSQL: a frozen leader keeps its advisory lock (its sessions
    live on); once its lease has expired the standby terminates its sessions, takes the lock
    and the row, and says so. The old leader's connections are gone."""
    first, second = make(), make()
    assert first.try_lead() is True
    observer = Database(database_url)
    try:
        [pid] = lock_holders(observer)
        with first._db.read() as session:  # a pooled session of the frozen process
            session.execute(text("SELECT 1"))
        clock.advance(seconds=LEASE - 1)
        assert second.try_lead() is False  # in time: nothing happens
        assert lock_holders(observer) == [pid]
        clock.advance(seconds=2)  # first stopped renewing 16 s ago: hung
        assert second.try_lead() is True
        assert second.takeover is not None
        assert "database session(s) were terminated (fenced)" in second.takeover.reason
        assert len(lock_holders(observer)) == 1 and lock_holders(observer) != [pid]
        with observer.engine.connect() as connection:
            left = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"),
                {"app": f"helios {first.identity}"[:63]},
            ).scalar()
        assert left == 0
    finally:
        observer.dispose()
    assert first.try_lead() is False  # it wakes: its lock session is gone, the lock is taken
    assert first.lost_reason.startswith("fenced:")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lease_renewed_in_time_is_never_lost(database_url: str, make: Make, clock: ManualClock):
    first, second = make(), make()
    assert first.try_lead() is True
    for _ in range(20):
        clock.advance(seconds=LEASE - 1)
        assert first.try_lead() is True
        assert second.try_lead() is False


# --- PostgreSQL: the advisory lock --------------------------------------------------------------


def lock_holders(db: Database) -> list[int]:
    """The server processes holding the scheduler's advisory lock in this database."""
    high, low = (ADVISORY_KEY >> 32) & 0xFFFFFFFF, ADVISORY_KEY & 0xFFFFFFFF
    with db.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database()) AND classid = :high AND objid = :low"
                ),
                {"high": high, "low": low},
            ).scalars()
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_advisory_lock_is_held_by_the_leaders_connection(
    database_url: str, make: Make, clock: ManualClock
):
    first, second = make(), make()
    assert first.uses_advisory_lock
    assert first.try_lead() is True
    observer = Database(database_url)
    try:
        [pid] = lock_holders(observer)
        assert first._lock_connection is not None
        own = first._lock_connection.execute(text("SELECT pg_backend_pid()")).scalar()
        first._lock_connection.commit()
        assert pid == own
        clock.advance(seconds=LEASE - 1)  # renewed in time: the lock and the lease hold
        assert second.try_lead() is False
        assert first.still_leading() is True
        assert first.try_lead() is True
        assert lock_holders(observer) == [pid]  # renewing takes no second lock
        first.release()
        assert lock_holders(observer) == []
        assert second.try_lead() is True
        assert len(lock_holders(observer)) == 1
    finally:
        observer.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dropped_leader_connection_hands_over(database_url: str, make: Make):
    first, second = make(), make()
    assert first.try_lead() is True
    assert second.try_lead() is False
    observer = Database(database_url)
    try:
        [pid] = lock_holders(observer)
        with observer.engine.connect() as connection:  # the server drops the connection
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            connection.commit()
        assert eventually(lambda: lock_holders(observer) == [])
    finally:
        observer.dispose()
    assert first.still_leading() is False
    assert second.try_lead() is True
    assert second.still_leading() is True
    assert first.try_lead() is False  # it reconnects, finds the lock taken and stands by
    assert first.still_leading() is False


CHILD = """
import sys, time
from helios.clock import SystemClock
from helios.db.engine import Database
from helios.db.models import Event
from helios.leader import Leadership
leadership = Leadership(Database(sys.argv[1]), SystemClock(), 15.0)
print("leading" if leadership.try_lead() else "standby", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_leader_process_hands_over(database_url: str, make: Make):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "leading", child.stderr.read()
        standby = make()
        assert standby.try_lead() is False
        child.kill()  # SIGKILL: no release, the socket just closes
        child.wait(timeout=10)
        assert eventually(standby.try_lead)
        assert standby.still_leading() is True
        holder = standby.holder()
        assert holder is not None and holder[0] == standby.identity
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


FROZEN_WRITER = """
import os, signal, sqlite3, sys
from helios.clock import SystemClock
from helios.db.engine import Database
from helios.db.models import Event
from helios.leader import Leadership

url, path = sys.argv[1], sys.argv[2]
leadership = Leadership(Database(url), SystemClock(), 1.0)
assert leadership.try_lead()
holder = sqlite3.connect(path, isolation_level=None)
holder.execute("BEGIN IMMEDIATE")
holder.execute("UPDATE settings SET value = value")
print("holding", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)  # frozen inside its write transaction
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_leader_frozen_inside_a_write_is_killed_and_replaced(
    database_url: str, tmp_path: Path
):
    """SQLite's write lock cannot be taken from a frozen process: a leader stopped inside a
    write transaction blocked every writer until it woke (seen by bench/failover.py in 3 of 94
    freezes). The standby whose claim finds the lock held past its busy timeout, the lease
    expired and the holder a stopped process here kills it and takes over."""
    path = database_url.split("///", 1)[1]
    script = tmp_path / "frozen_writer.py"
    script.write_text(FROZEN_WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), database_url, path],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        assert eventually(lambda: _state(child.pid) == "T")
        time.sleep(1.2)  # its 1 s lease has run out
        standby_db = Database(database_url, busy_timeout_ms=300)
        standby = Leadership(standby_db, SystemClock(), 1.0)
        try:
            with pytest.raises(OperationalError, match="locked"):
                standby.try_lead()  # the lock is not had in the busy timeout: the holder is killed
            assert child.wait(timeout=10) == -signal.SIGKILL
            assert standby.try_lead() is True
            assert standby.takeover is not None
            assert f"its process {child.pid} was frozen holding the database's write lock" in (
                standby.takeover.reason
            )
        finally:
            standby.release()
            standby_db.dispose()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
