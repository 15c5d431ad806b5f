"""One scheduler leads; any other started against the same database waits as a standby.

Who leads is the lease row (``leases``, name ``scheduler``): its ``holder`` and its ``epoch``,
the fencing token. The leader renews the row every ``LEADER_POLL_SECONDS``; it expires
``LEADER_LEASE_SECONDS`` after the last renewal. A standby takes over when

- the row has expired: the leader stopped renewing, because it died, hung (frozen by SIGSTOP, a
  stalled VM, a swap storm) or stepped down; or
- (PostgreSQL) the leader's advisory lock was freed: its database session ended, which happens
  the moment a killed process's socket closes, so a kill is noticed within one poll, not a lease.

Taking over adds one to ``epoch`` in the same transaction that names the new holder. Every write
a leader-only job makes runs the fence first (``Leadership.check`` through ``Database.fenced``):
the row must still name this process with the epoch it took. A leader that was replaced, when it
wakes, therefore cannot write as leader: its write raises ``Fenced`` before it changes anything
(SQLite: the check runs under the write lock; PostgreSQL: it locks the row FOR SHARE, so the
take-over's update waits for a write already past its check). Orders are checked against the
fence just before they are sent (``Database.check_fence``), and every order carries a
deterministic client order id, so an order a frozen leader sends on waking is the same order at
the venue, never a second one.

PostgreSQL: a hung leader still holds its advisory lock (a frozen process's sessions stay open).
The standby that finds the row expired terminates that process's sessions
(``pg_terminate_backend``: every session whose ``application_name`` is the holder's, see
``helios.process``, and whoever holds the lock), which frees the lock and cuts the frozen process
off from the database, then takes the lock and the row. Terminating needs the same database role
(or ``pg_signal_backend``); without it the standby records why it cannot take over.

SQLite: the database has one write lock, a file lock nothing can take from its holder. A leader
frozen inside a write transaction therefore stops every writer, the standby's claim included;
when that claim fails on the lock after the busy timeout, the lease has expired and the holder
is a stopped process on this machine, the standby kills it (``_kill_frozen_holder``) and takes
over at its next poll: about the busy timeout plus the lease, instead of never.

A take-over says why (``Takeover.reason``), recorded as an event (``LEADER`` or
``LEADER_TAKEOVER``) in the transaction that names the new holder.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.db.engine import Database
from helios.db.models import Lease
from helios.errors import Fenced
from helios.events import record_event
from helios.process import application_name

log = logging.getLogger("helios.leader")
LEASE_NAME = "scheduler"
ADVISORY_KEY = 0x48454C494F530002  # "HELIOS" + 2 (the migration lock is + 1)
# how pg_locks shows a bigint advisory key: the high and the low 32 bits
_KEY_HIGH, _KEY_LOW = ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF
LOCK_FREED_WAIT = 3.0  # seconds a standby waits for a terminated holder's lock to be freed
_TERMINATE = text(
    """
    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
    FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND datname = current_database()
      AND (application_name = :app OR pid IN (
          SELECT pid FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND database = (
              SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1))
    """
)


@dataclass(frozen=True)
class Takeover:
    """How this process came to lead: the holder before it (None: nobody led) and why."""

    previous: str | None
    epoch: int
    reason: str


class Leadership:
    def __init__(self, db: Database, clock: Clock, lease_seconds: float) -> None:
        self._db = db
        self._clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.identity = db.identity  # helios.process: also its sessions' application_name
        self.leading = False
        self.epoch: int | None = None  # the fencing token while leading
        self.takeover: Takeover | None = None  # set when try_lead took over
        self.lost_reason = ""  # set when try_lead found another process leading instead
        self._lock_connection: Connection | None = None
        self._terminated = 0  # sessions of a hung holder ended to take over
        self._killed: int | None = None  # SQLite: a frozen holder's process killed to take over
        # the leader job and the trading job (two scheduler threads) share the lock connection
        self._guard = threading.Lock()

    @property
    def uses_advisory_lock(self) -> bool:
        return self._db.dialect == "postgresql"

    def try_lead(self) -> bool:
        """Acquire or renew leadership; True while this process leads. A database error
        propagates (the caller decides; leadership is not given up on a blip)."""
        self.takeover, self.lost_reason = None, ""
        now = self._clock.now()
        if self.uses_advisory_lock:
            with self._guard:
                self.leading = self._advisory(now)
        else:
            try:
                self.leading = self._claim(now, may_take=lambda row: row.expires_at <= now)
            except OperationalError as exc:  # SQLite: the write lock not had in the busy timeout
                if "locked" in str(exc):
                    self._kill_frozen_holder(now)
                raise
        return self.leading

    def check(self, session: Session) -> None:
        """The fence, inside a write transaction: raise ``Fenced`` unless the lease row still
        names this process with its epoch."""
        query = select(Lease.holder, Lease.epoch).where(Lease.name == LEASE_NAME)
        if self.uses_advisory_lock:
            query = query.with_for_update(read=True)
        row = session.execute(query).first()
        if (
            self.epoch is None
            or row is None
            or (row.holder, row.epoch)
            != (
                self.identity,
                self.epoch,
            )
        ):
            holder = f"{row.holder} (epoch {row.epoch})" if row is not None else "nobody"
            raise Fenced(
                f"scheduler {self.identity} (epoch {self.epoch}) no longer leads: {holder} does"
            )

    def still_leading(self) -> bool:
        """A fresh look before trading: does the database still say this process leads?"""
        if self.uses_advisory_lock:
            with self._guard:
                if not self._advisory_alive():
                    return False
        now = self._clock.now()
        with self._db.read() as session:
            row = session.get(Lease, LEASE_NAME)
            return bool(
                row
                and row.holder == self.identity
                and row.epoch == self.epoch
                and (self.uses_advisory_lock or row.expires_at > now)
            )

    def holder(self) -> tuple[str, datetime] | None:
        """Who holds the lease row and until when (None: nobody yet)."""
        with self._db.read() as session:
            row = session.get(Lease, LEASE_NAME)
            return (row.holder, row.expires_at) if row else None

    def release(self) -> None:
        """Step down (a clean stop): the standby takes over at its next poll."""
        try:
            if self.leading and self.epoch is not None:
                now = self._clock.now()
                with self._db.write() as session:
                    session.execute(
                        update(Lease)
                        .where(
                            Lease.name == LEASE_NAME,
                            Lease.holder == self.identity,
                            Lease.epoch == self.epoch,
                        )
                        .values(expires_at=now, renewed_at=now)
                    )
        except Exception:
            log.exception("could not release the scheduler lease")
        with self._guard:
            if self._lock_connection is not None:
                try:
                    self._lock_connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                    )
                    self._lock_connection.commit()
                    self._lock_connection.close()
                except Exception:
                    log.debug("advisory unlock failed (the connection is gone)", exc_info=True)
                self._lock_connection = None
        self.leading, self.epoch = False, None

    # --- the lease row (both databases) ------------------------------------------------------
    def _claim(self, now: datetime, may_take: Callable[[Lease], bool]) -> bool:
        """Renew the row if this process holds it with its epoch; else take it over (epoch + 1)
        when ``may_take`` says the holder is gone. One write transaction: on SQLite BEGIN
        IMMEDIATE, on PostgreSQL the row locked FOR UPDATE, so exactly one claimant wins."""
        with self._db.write() as session:
            if not self.uses_advisory_lock:
                row = session.get(Lease, LEASE_NAME)
            else:
                session.execute(text("SET LOCAL lock_timeout = '5s'"))
                row = session.get(Lease, LEASE_NAME, with_for_update=True)
            if row is None:
                session.add(
                    Lease(
                        name=LEASE_NAME,
                        holder=self.identity,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.lease,
                        epoch=1,
                    )
                )
                self.epoch = 1
                self.takeover = Takeover(None, 1, "no scheduler had led this database")
                self._record(session, self.takeover)
                return True
            if self.epoch is not None and (row.holder, row.epoch) == (self.identity, self.epoch):
                row.renewed_at, row.expires_at = now, now + self.lease
                return True
            if self.epoch is not None:  # this process led, and another took over meanwhile
                self.lost_reason = (
                    f"fenced: scheduler {row.holder} took over (epoch {row.epoch}; this "
                    f"process held epoch {self.epoch})"
                )
                self.epoch = None
                return False
            if not may_take(row):
                return False
            reason = self._why_free(row, now)
            previous = row.holder
            row.holder, row.epoch = self.identity, row.epoch + 1
            row.acquired_at, row.renewed_at, row.expires_at = now, now, now + self.lease
            self.epoch = row.epoch
            self.takeover = Takeover(previous, row.epoch, reason)
            self._record(session, self.takeover)
            return True

    def _record(self, session: Session, takeover: Takeover) -> None:
        """Why this process leads, in the transaction that made it the holder: the record of a
        take-over exists exactly when the take-over does (a crash right after the claim cannot
        leave a new holder nobody was told about). Its time is read with the row held (not the
        claim's start, which on PostgreSQL may precede a write the previous holder was still
        finishing under its fence): the term it opens begins after every write of the last."""
        if takeover.previous is None:
            kind, severity = "LEADER", "INFO"
            message = f"scheduler {self.identity} leads: {takeover.reason}"
        else:
            kind, severity = "LEADER_TAKEOVER", "WARNING"
            message = (
                f"scheduler {self.identity} took over from {takeover.previous} (epoch "
                f"{takeover.epoch}): {takeover.reason}"
            )
        record_event(
            session,
            ts=self._clock.now(),
            kind=kind,
            severity=severity,
            actor="scheduler",
            message=message,
        )

    def _why_free(self, row: Lease, now: datetime) -> str:
        if row.expires_at <= row.renewed_at:
            return f"scheduler {row.holder} stepped down"
        silent = (now - row.renewed_at).total_seconds()
        if row.expires_at <= now:
            ended = (
                f"; its {self._terminated} database session(s) were terminated (fenced)"
                if self._terminated
                else f"; its process {self._killed} was frozen holding the database's write "
                "lock and was killed"
                if self._killed
                else ""
            )
            self._killed = None
            return (
                f"scheduler {row.holder} stopped renewing its lease {silent:.1f} s ago (lease "
                f"{self.lease.total_seconds():g} s): hung or dead{ended}"
            )
        return (
            f"scheduler {row.holder}'s database session ended (the process died or lost its "
            f"connection; last renewal {silent:.1f} s ago)"
        )

    # --- SQLite: a holder frozen inside a write -------------------------------------------
    def _kill_frozen_holder(self, now: datetime) -> None:
        """SQLite has one write lock, a file lock, and nothing can take it from the process
        holding it: a leader frozen (SIGSTOP) inside a write transaction stops every writer,
        this standby's claim included, until it wakes. When the claim found the lock held past
        the busy timeout, the lease has expired, and its holder is a stopped process on this
        machine (an embedded database's writers all are) that started before it took the lease
        (not a reused pid), the holder is killed: the system frees its lock, and the next poll
        takes over. A holder that is not stopped (working, or hung otherwise) is left to its
        own busy timeouts and named in the log."""
        with self._db.read() as session:  # WAL: reads answer under another's write lock
            row = session.get(Lease, LEASE_NAME)
        if row is None or row.holder == self.identity or row.expires_at > now:
            return
        pid = frozen_local_process(row.holder, row.acquired_at)
        if pid is None:
            log.critical(
                "the database's write lock is held past the busy timeout and the leader %s has "
                "not renewed its lease since %s; it is not a stopped process here: not killed",
                row.holder,
                row.renewed_at,
            )
            return
        os.kill(pid, signal.SIGKILL)
        self._killed = pid
        log.critical(
            "the leader %s was frozen holding the database's write lock: process %s killed",
            row.holder,
            pid,
        )

    # --- PostgreSQL: the advisory lock -----------------------------------------------------
    def _advisory(self, now: datetime) -> bool:
        self._terminated = 0
        if self._lock_connection is not None and not self._advisory_alive():
            self._drop_lock_connection()
        if (
            self._lock_connection is None
            and not self._try_lock()
            and not self._fence_hung_holder(now)
        ):
            if self.epoch is not None:  # this process led: its lock session was ended
                holder = self.holder()
                self.lost_reason = self.lost_reason or (
                    "fenced: this scheduler's database session ended and scheduler "
                    f"{holder[0] if holder else '(unknown)'} holds the lock"
                )
                self.epoch = None
            return False
        # holding the lock: the holder before is gone (or fenced), so the row may be taken
        leading = self._claim(now, may_take=lambda _row: True)
        if not leading:
            self._unlock()
        return leading

    def _try_lock(self) -> bool:
        connection = self._db.engine.connect()
        try:
            got = bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                ).scalar()
            )
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._lock_connection = connection
        return True

    def _fence_hung_holder(self, now: datetime) -> bool:
        """The lock is held by another process: if its lease has expired (it stopped renewing
        but its sessions live on: hung), terminate its sessions and take the lock."""
        with self._db.read() as session:
            row = session.get(Lease, LEASE_NAME)
            if row is None or row.holder == self.identity or row.expires_at > now:
                return False
            holder = row.holder
        try:
            with self._db.engine.connect() as connection:
                ended = connection.execute(
                    _TERMINATE,
                    {"app": application_name(holder), "high": _KEY_HIGH, "low": _KEY_LOW},
                ).scalar()
                connection.commit()
        except Exception as exc:
            log.error("cannot fence the hung scheduler %s: %s", holder, exc)
            self.lost_reason = f"cannot terminate the hung scheduler {holder}'s sessions: {exc}"
            return False
        self._terminated = int(ended or 0)
        log.warning(
            "scheduler %s stopped renewing its lease: %s of its sessions terminated",
            holder,
            self._terminated,
        )
        deadline = time.monotonic() + LOCK_FREED_WAIT
        while time.monotonic() < deadline:
            if self._try_lock():
                return True
            time.sleep(0.05)
        self.lost_reason = f"the hung scheduler {holder}'s lock was not freed in time"
        return False

    def _advisory_alive(self) -> bool:
        if self._lock_connection is None:
            return False
        try:
            self._lock_connection.execute(text("SELECT 1")).scalar()
            self._lock_connection.commit()
            return True
        except Exception:
            return False

    def _unlock(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                )
                self._lock_connection.commit()
            except Exception:
                log.debug("advisory unlock failed", exc_info=True)
            self._drop_lock_connection()

    def _drop_lock_connection(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.invalidate()
                self._lock_connection.close()
            except Exception:
                log.debug("closing a dead lock connection failed", exc_info=True)
        self._lock_connection = None


def frozen_local_process(holder: str, since: datetime) -> int | None:
    """The pid of ``holder`` (``host:pid:nonce``, ``helios.process``) if it is a stopped
    process on this machine that started before ``since`` (Linux ``/proc``; None otherwise)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:32] or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    state, start_ticks = fields[0], int(fields[19])
    started = boot + start_ticks / os.sysconf("SC_CLK_TCK")
    if state not in ("T", "t") or started > ensure_utc(since).timestamp() + 1:
        return None
    return pid
