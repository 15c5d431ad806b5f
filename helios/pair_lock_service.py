"""``hx.locks``: lock a pair from new positions, lift a lock, list them (issue 18).

The rules are ``helios.pair_locks``'s (in force, the automatic lock after stop-outs, the bounds);
this service validates, writes and reads. Each change is recorded with its event in the same
transaction (``PAIR_LOCKED`` by a person, ``PAIR_UNLOCKED``; ``PAIR_LOCK_AUTO`` is written by
the stop-out's close, ``helios.pair_lock_store``), and the alert follows from the event. Bad
input (a pair not configured, hours outside 0 < h <= 720, no name, no reason, an unknown lock
id) raises ``InvalidInput`` naming the field, the value and what is allowed, and changes
nothing; lifting a lock that no longer holds is refused (``LockNotActive``). The CLI, the API
and the dashboard all call these functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import PairLock
from helios.errors import HeliosError, InvalidInput
from helios.events import record_event
from helios.market.store import MarketData
from helios.pair_lock_store import lock_holding, view
from helios.pair_locks import (
    PAIR_LOCKED,
    PAIR_UNLOCKED,
    LockView,
    check_hours,
    remaining,
    shown_time,
)
from helios.text import NAME_LIMIT, TEXT_LIMIT, clean_text


class LockNotActive(HeliosError):
    """A lift of a lock that no longer holds its pair (lifted, expired) or of a pair that is not
    locked: refused, nothing changed."""


def _text(value: Any, field: str, limit: int, what: str) -> str:
    if not isinstance(value, str) or not clean_text(value, limit=limit):
        raise InvalidInput(field, value, f"{what} (not empty)")
    return clean_text(value, limit=limit)


class PairLocks:
    """Lock, lift, list."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, market: MarketData) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market

    @property
    def zone(self) -> str:
        return self._settings.trading_day_timezone

    def lock(self, pair: Any, hours: Any, by: Any, reason: Any) -> dict[str, Any]:
        """Lock ``pair`` from new positions for ``hours`` from now; returns the lock."""
        pair = self._market.check_pair(pair)
        duration = check_hours(hours)
        who = _text(by, "by", NAME_LIMIT, "the name of the person locking it")
        why = _text(reason, "reason", TEXT_LIMIT, "why the pair is locked")
        now = self._clock.now()
        ends = now + timedelta(hours=duration)
        with self._db.write() as session:
            lock = PairLock(
                pair=pair,
                starts_at=now,
                ends_at=ends,
                reason=why,
                locked_by=who,
                automatic=False,
                created_at=now,
            )
            session.add(lock)
            session.flush()
            record_event(
                session,
                ts=now,
                kind=PAIR_LOCKED,
                severity="WARNING",
                actor=who,
                message=f"{pair} locked for {duration:g} h until {shown_time(ends, self.zone)} "
                f"(lock {lock.id}): {why}",
                details={
                    "lock_id": lock.id,
                    "pair": pair,
                    "hours": duration,
                    "ends_at": ends.isoformat(),
                },
            )
            return self._row(view(lock), now)

    def lift(self, target: Any, by: Any) -> list[dict[str, Any]]:
        """Lift locks: ``target`` is a lock id (int, or digits: that lock) or a pair (every lock
        holding it now, so the pair is free). Returns the lifted locks, the one in force first;
        a lock or pair that is not locked raises ``LockNotActive``."""
        who = _text(by, "by", NAME_LIMIT, "the name of the person lifting it")
        lock_id = self._lock_id(target)
        pair = None if lock_id is not None else self._market.check_pair(target, "lock")
        now = self._clock.now()
        with self._db.write() as session:
            if lock_id is not None:
                row = session.get(PairLock, lock_id)
                if row is None:
                    raise InvalidInput("lock_id", target, "the id of a stored lock")
                if not view(row).active_at(now):
                    status = view(row).status(now)
                    raise LockNotActive(
                        f"lock {lock_id} on {row.pair} is {status}: nothing to lift"
                    )
                rows = [row]
            else:
                assert pair is not None
                rows = [
                    r
                    for r in session.scalars(
                        select(PairLock)
                        .where(PairLock.pair == pair, PairLock.lifted_at.is_(None))
                        .order_by(PairLock.ends_at.desc(), PairLock.id.desc())
                    )
                    if view(r).active_at(now)
                ]
                if not rows:
                    raise LockNotActive(f"{pair} is not locked: nothing to lift")
            for row in rows:
                row.lifted_at, row.lifted_by = now, who
            session.flush()
            pair = rows[0].pair
            still = lock_holding(session, pair, now)
            after = (
                f"; still locked by lock {still.id} until {shown_time(still.ends_at, self.zone)}"
                if still is not None
                else f"; {pair} is free"
            )
            ids = [r.id for r in rows]
            record_event(
                session,
                ts=now,
                kind=PAIR_UNLOCKED,
                severity="INFO",
                actor=who,
                message=f"{pair} lock {', '.join(map(str, ids))} lifted ({rows[0].reason}){after}",
                details={"lock_ids": ids, "pair": pair, "still_locked": still is not None},
            )
            return [self._row(view(r), now) for r in rows]

    def in_force(self, pair: Any) -> dict[str, Any] | None:
        """The lock holding ``pair`` now, or None."""
        pair = self._market.check_pair(pair)
        now = self._clock.now()
        with self._db.read() as session:
            held = lock_holding(session, pair, now)
        return self._row(held, now) if held is not None else None

    def active(self) -> list[dict[str, Any]]:
        """Every lock holding its pair now, soonest end first."""
        now = self._clock.now()
        query = (
            select(PairLock)
            .where(PairLock.lifted_at.is_(None), PairLock.ends_at > now)
            .order_by(PairLock.ends_at, PairLock.id)
        )
        with self._db.read() as session:
            rows = [view(r) for r in session.scalars(query)]
        return [self._row(r, now) for r in rows if r.active_at(now)]

    def history(self, limit: int = 100, pair: Any = None) -> list[dict[str, Any]]:
        """The newest locks, whatever their state (``pair``: of that pair only)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "a whole number from 1 to 10000")
        query = select(PairLock).order_by(PairLock.id.desc()).limit(limit)
        if pair is not None:
            query = query.where(PairLock.pair == self._market.check_pair(pair))
        now = self._clock.now()
        with self._db.read() as session:
            rows = [view(r) for r in session.scalars(query)]
        return [self._row(r, now) for r in rows]

    def _lock_id(self, target: Any) -> int | None:
        if isinstance(target, bool):
            raise InvalidInput("lock", target, "a lock id or a configured pair")
        if isinstance(target, int):
            return target
        if isinstance(target, str) and target.strip().isdigit():
            return int(target.strip())
        if not isinstance(target, str):
            raise InvalidInput("lock", target, "a lock id or a configured pair")
        return None

    def _row(self, lock: LockView, now: datetime) -> dict[str, Any]:
        """A lock as the shells show it (UTC datetimes; the shells format them)."""
        status = lock.status(now)
        return {
            "id": lock.id,
            "pair": lock.pair,
            "status": status,
            "starts_at": lock.starts_at,
            "ends_at": lock.ends_at,
            "ends_in": remaining(lock, now) if status == "active" else "",
            "remaining_seconds": max(0.0, (lock.ends_at - now).total_seconds())
            if status == "active"
            else 0.0,
            "reason": lock.reason,
            "by": lock.by,
            "automatic": lock.automatic,
            "lifted_at": lock.lifted_at,
            "lifted_by": lock.lifted_by,
        }
