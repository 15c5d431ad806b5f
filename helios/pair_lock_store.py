"""The pair locks' reads and writes, in the caller's transaction (``pair_locks`` table).

- ``lock_holding`` (the risk decision's read, in the decision's own transaction, so a trade is
  judged against the locks as they were when it was judged): the pair's lock in force now.
- ``apply_auto_lock`` (the stop-out's close, ``positions.closing``): in the transaction that
  records a position STOPPED_OUT, the pair's recent stop-outs and locks are read and the pure
  rule (``helios.pair_locks.auto_lock``) decides; a lock it gives is written with its
  ``PAIR_LOCK_AUTO`` event there and then, so the lock exists exactly when the stop-out that
  caused it does, and the next signal on the pair is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from helios.config import Settings
from helios.db.models import PairLock, Position
from helios.events import record_event
from helios.pair_locks import (
    AUTO_BY,
    PAIR_LOCK_AUTO,
    AutoLockPolicy,
    LockView,
    StopOut,
    auto_lock,
    lock_in_force,
    shown_time,
)

STOPPED_OUT = "STOPPED_OUT"  # as helios.positions.lifecycle (a layer above this one)


def view(row: Any) -> LockView:
    """A stored lock (ORM row or result row) as the rules see it."""
    return LockView(
        id=row.id,
        pair=row.pair,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        by=row.locked_by,
        automatic=bool(row.automatic),
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
    )


def _recent(pair: str, after: datetime) -> Any:
    """The pair's locks not lifted before ``after`` and not ended by then."""
    return select(PairLock).where(PairLock.pair == pair, PairLock.ends_at > after)


# the pair's locks not lifted and not ended at ``now``: built once (a risk decision runs it; a
# statement rebuilt on every call costs about as much as the query, ``risk.statements``)
LOCKS_NOT_ENDED = select(PairLock.__table__).where(
    PairLock.pair == bindparam("pair"),
    PairLock.lifted_at.is_(None),
    PairLock.ends_at > bindparam("now"),
)


def lock_holding(db: Session | Connection, pair: str, now: datetime) -> LockView | None:
    """The lock holding ``pair`` at ``now`` (``pair_locks.lock_in_force``), in the caller's
    transaction."""
    rows = db.execute(LOCKS_NOT_ENDED, {"pair": pair, "now": now})
    return lock_in_force((view(r) for r in rows), pair, now)


def policy_of(settings: Settings) -> AutoLockPolicy:
    return AutoLockPolicy(
        settings.lock_after_stops, settings.lock_window_hours, settings.lock_hours
    )


def apply_auto_lock(
    session: Session, pair: str, now: datetime, settings: Settings
) -> PairLock | None:
    """Lock ``pair`` if its stop-outs call for it (see the module), in the caller's
    transaction; returns the lock written, or None."""
    policy = policy_of(settings)
    if not policy.enabled:
        return None
    since = policy.since(now)
    locks = [view(row) for row in session.scalars(_recent(pair, since))]
    rows = session.execute(
        select(Position.id, Position.pair, Position.closed_at, Position.realized_pnl).where(
            Position.pair == pair,
            Position.status == STOPPED_OUT,
            Position.closed_at > since,
        )
    )
    stop_outs = [StopOut(r.id, r.pair, r.closed_at, r.realized_pnl) for r in rows]
    due = auto_lock(pair, stop_outs, locks, policy, now)
    if due is None:
        return None
    lock = PairLock(
        pair=pair,
        starts_at=due.starts_at,
        ends_at=due.ends_at,
        reason=due.reason,
        locked_by=AUTO_BY,
        automatic=True,
        created_at=now,
        details={"position_ids": list(due.position_ids)},
    )
    session.add(lock)
    session.flush()
    zone = settings.trading_day_timezone
    record_event(
        session,
        ts=now,
        kind=PAIR_LOCK_AUTO,
        severity="WARNING",
        actor=AUTO_BY,
        message=f"{pair} locked until {shown_time(due.ends_at, zone)} (lock {lock.id}): "
        f"{due.reason}",
        details={
            "lock_id": lock.id,
            "pair": pair,
            "ends_at": due.ends_at.isoformat(),
            "hours": policy.lock_hours,
            "stop_outs": len(due.position_ids),
        },
    )
    return lock
