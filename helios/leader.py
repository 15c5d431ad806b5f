"""One scheduler leads; any other started against the same database waits as a standby.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) held on a connection of its own
for as long as the process leads. The server frees it the moment the process dies (its socket
closes), so a standby polling every ``LEADER_POLL_SECONDS`` takes over within that time; if the
leader's host vanishes, TCP keepalives (``helios.db.engine``) end the session in about 25 s.

SQLite: a lease row (``leases``) the leader renews every poll; it expires ``LEADER_LEASE_SECONDS``
after the last renewal, and a standby takes it over with a conditional update (exactly one wins).
So a killed leader is replaced within the lease time plus one poll. On PostgreSQL the row is
written too, for people to see who leads.

The leader checks it still holds leadership before each trading pass and every 50 signals
within one (``still_leading``), so a leader that stalled past its lease stops soon after the
new one starts; the database's unique and conditional updates bound what the overlap can do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, text, update
from sqlalchemy.exc import IntegrityError

from helios.clock import Clock
from helios.db.engine import Database
from helios.db.models import Lease

log = logging.getLogger("helios.leader")
LEASE_NAME = "scheduler"
ADVISORY_KEY = 0x48454C494F530002  # "HELIOS" + 2 (the migration lock is + 1)


class Leadership:
    def __init__(self, db: Database, clock: Clock, lease_seconds: float) -> None:
        self._db = db
        self._clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self._lock_connection: Connection | None = None
        # the leader job and the trading job (two scheduler threads) share the lock connection
        self._guard = threading.Lock()

    @property
    def uses_advisory_lock(self) -> bool:
        return self._db.dialect == "postgresql"

    def try_lead(self) -> bool:
        """Acquire or renew leadership; True while this process leads. A database error
        propagates (the caller decides; leadership is not given up on a blip)."""
        now = self._clock.now()
        if self.uses_advisory_lock:
            with self._guard:
                self.leading = self._advisory(now)
        else:
            self.leading = self._lease(now)
        return self.leading

    def still_leading(self) -> bool:
        """A fresh look before trading: does the database still say this process leads?"""
        if self.uses_advisory_lock:
            with self._guard:
                return self._advisory_alive()
        now = self._clock.now()
        with self._db.read() as session:
            row = session.get(Lease, LEASE_NAME)
            return bool(row and row.holder == self.identity and row.expires_at > now)

    def holder(self) -> tuple[str, datetime] | None:
        """Who holds the lease row and until when (None: nobody yet)."""
        with self._db.read() as session:
            row = session.get(Lease, LEASE_NAME)
            return (row.holder, row.expires_at) if row else None

    def release(self) -> None:
        """Step down (a clean stop): the standby takes over at its next poll."""
        try:
            if self.leading:
                with self._db.write() as session:
                    session.execute(
                        update(Lease)
                        .where(Lease.name == LEASE_NAME, Lease.holder == self.identity)
                        .values(expires_at=self._clock.now())
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
        self.leading = False

    # --- SQLite: the lease row --------------------------------------------------------------
    def _lease(self, now: datetime) -> bool:
        expires = now + self.lease
        with self._db.write() as session:
            taken = session.execute(
                update(Lease)
                .where(
                    Lease.name == LEASE_NAME,
                    (Lease.holder == self.identity) | (Lease.expires_at <= now),
                )
                .values(holder=self.identity, renewed_at=now, expires_at=expires)
            ).rowcount  # type: ignore[attr-defined]
            if taken:
                if not self.leading:
                    session.execute(
                        update(Lease).where(Lease.name == LEASE_NAME).values(acquired_at=now)
                    )
                return True
            exists = session.scalar(select(Lease.name).where(Lease.name == LEASE_NAME))
        if exists is not None:
            return False
        try:
            with self._db.write() as session:
                session.add(
                    Lease(
                        name=LEASE_NAME,
                        holder=self.identity,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=expires,
                    )
                )
            return True
        except IntegrityError:  # another process created it first
            return False

    # --- PostgreSQL: the advisory lock -----------------------------------------------------
    def _advisory(self, now: datetime) -> bool:
        if self._lock_connection is not None and not self._advisory_alive():
            self._drop_lock_connection()
        if self._lock_connection is None:
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
        self._write_row(now)
        return True

    def _advisory_alive(self) -> bool:
        if self._lock_connection is None:
            return False
        try:
            self._lock_connection.execute(text("SELECT 1")).scalar()
            self._lock_connection.commit()
            return True
        except Exception:
            return False

    def _drop_lock_connection(self) -> None:
        if self._lock_connection is not None:
            try:
                self._lock_connection.invalidate()
                self._lock_connection.close()
            except Exception:
                log.debug("closing a dead lock connection failed", exc_info=True)
        self._lock_connection = None

    def _write_row(self, now: datetime) -> None:
        """The lease row as information (who leads) beside the advisory lock."""
        with self._db.write() as session:
            row = session.get(Lease, LEASE_NAME)
            if row is None:
                session.add(
                    Lease(
                        name=LEASE_NAME,
                        holder=self.identity,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.lease,
                    )
                )
            else:
                if row.holder != self.identity:
                    row.holder, row.acquired_at = self.identity, now
                row.renewed_at, row.expires_at = now, now + self.lease
