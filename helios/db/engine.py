"""Engine and sessions.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the scheduler and the
dashboard can share one file; write transactions start with ``BEGIN IMMEDIATE`` so two writers
queue on the busy timeout instead of failing on a read-to-write lock upgrade. PostgreSQL goes
through psycopg 3.

Use ``db.read()`` for reads and ``db.write()`` for anything that changes the database; both are
context managers yielding a ``Session`` whose transaction commits on success and rolls back on any
exception, so nothing half-written stays.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from helios.config import redact_url
from helios.process import application_name, new_identity

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_RETRY_SECONDS = 0.02  # between tries of a refused switch to WAL (``_wal``)
# Execution option marking a connection whose transactions write: on SQLite they start with
# BEGIN IMMEDIATE (the write lock first), so writers queue instead of failing.
WRITE_OPTION = "helios_write"
_WRITE = WRITE_OPTION


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's bare default is psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def build_engine(
    url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, identity: str | None = None
) -> Engine:
    """``busy_timeout_ms``: how long a SQLite statement waits for another process's lock before
    failing (SQLITE_BUSY_TIMEOUT_SECONDS); a database locked longer counts as unreachable."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # pre-ping: a pooled connection that died with the server (a restart, a fail-over) is
    # replaced on checkout, so the first command after an outage succeeds instead of failing on
    # "server closed the connection unexpectedly" (issue 15: an emergency stop answered 500 once);
    # it costs one round trip per checkout. application_name: the process's identity, so a
    # standby fencing a hung leader terminates exactly its sessions (helios.leader).
    # keepalives: a dead or cut-off peer is noticed in about 25 s, not the kernel's 2 hours (the
    # scheduler's advisory lock is freed then, so a standby can take over); connect_timeout:
    # an unreachable server fails a connect in 5 s instead of hanging the job
    return create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_recycle=3600,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": 5,
            "application_name": application_name(identity or new_identity()),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        },
    )


def _wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch the file to WAL, retrying a refusal within the busy timeout. Connections that
    switch a new file at the same moment (a new install's scheduler and dashboard starting
    together) can deadlock on the locks the switch needs, and SQLite then refuses one of them
    at once ("database is locked") rather than through its busy handler; the switch is
    retried until the others are done (after the first, it finds the file in WAL already)."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_SECONDS)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        _wal(cursor, busy_timeout_ms)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


_FLUSH_HOOKS = "helios.flush_hooks"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    for hook in session.info.get(_FLUSH_HOOKS, ()):
        hook(session)


class Database:
    """One engine per process, a session per unit of work."""

    def __init__(self, url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
        self.url = normalise_url(url)
        self.identity = new_identity()  # helios.process: leadership, sessions, order senders
        self.engine = build_engine(self.url, busy_timeout_ms, self.identity)
        self.dialect = self.engine.dialect.name
        self._lock = threading.Lock()
        self._fence = threading.local()
        self._flush_hooks: list[Callable[[Session], None]] = []

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read whose statements all see the database at one moment, for checks that
        compare several tables (the ledger's invariants): on PostgreSQL a REPEATABLE READ
        transaction (under the default READ COMMITTED each statement sees what committed before
        it, so a fill committed between two reads looks like a broken ledger); SQLite's read
        transaction already is one snapshot."""
        with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction; inside ``fenced`` its first statement is the fence's check
        (which raises before anything is written when this process no longer leads)."""
        with self.engine.connect() as connection:
            connection.execution_options(**{_WRITE: True})
            with self._session(connection) as session, session.begin():
                self._fence_first(session)
                yield session

    @contextmanager
    def fenced(self, check: Callable[[Session], None]) -> Iterator[None]:
        """Every write transaction this thread opens inside the block runs ``check`` first, in
        the same transaction (the leader's fencing epoch, ``helios.leader``): on SQLite the write
        lock is held from BEGIN IMMEDIATE, on PostgreSQL the check locks the lease row FOR SHARE,
        so a take-over cannot commit between the check and the write."""
        previous = getattr(self._fence, "check", None)
        self._fence.check = check
        try:
            yield
        finally:
            self._fence.check = previous

    def session_on(self, connection: Connection) -> Session:
        """An ORM session in the caller's write transaction on ``connection`` (a decision's Core
        transaction), as ``write`` gives one: with its flush hooks (the alert outbox sees its
        events) and, inside ``fenced``, the fence's check run first, so a process that no
        longer leads raises ``Fenced`` and the whole transaction (the decision with it) is
        rolled back before anything it wrote commits."""
        session = self._session(connection)
        try:
            self._fence_first(session)
        except BaseException:
            session.close()
            raise
        return session

    def _session(self, connection: Connection) -> Session:
        """A write session on ``connection``, with this database's flush hooks."""
        return Session(
            bind=connection, expire_on_commit=False, info={_FLUSH_HOOKS: self._flush_hooks}
        )

    def _fence_first(self, session: Session) -> None:
        """Inside ``fenced``: the fence's check, the first statement of a write transaction."""
        check: Callable[[Session], None] | None = getattr(self._fence, "check", None)
        if check is not None:
            check(session)

    def on_flush(self, hook: Callable[[Session], None]) -> None:
        """Run ``hook(session)`` after every flush of this database's write sessions, inside
        the flush's transaction (the alert outbox, ``helios.alerts.outbox``: an alert is written
        with the event that causes it)."""
        self._flush_hooks.append(hook)

    def check_fence(self) -> None:
        """Before an act outside the database (an order sent to a venue): the fence of this
        thread, if it has one, checked now (raises ``helios.errors.Fenced``)."""
        check: Callable[[Session], None] | None = getattr(self._fence, "check", None)
        if check is not None:
            with self.read() as session:
                check(session)

    def dispose(self) -> None:
        self.engine.dispose()
