"""Pair locks: which lock holds a pair at a time, and when stop-outs lock a pair by themselves.

Pure (L2): no I/O. Frozen inputs in, frozen answers out; ``helios.pair_lock_store`` reads and
writes them, ``hx.locks`` (``helios.pair_lock_service``) is the service, and the risk decision
(``risk.inputs.decide``) refuses an opening trade on a locked pair before the 7 checks, like a
halt, with the lock's reason and end time.

The rules:

- **In force.** A lock holds its pair from ``starts_at`` (included) to ``ends_at`` (excluded)
  unless it was lifted. Several may overlap (a lock by hand over an automatic one): the one in
  force is the latest-ending, since that is the one that decides when the pair is free again.
  A lock ends by itself at ``ends_at``: nothing has to run for it to end, the time judges it.
- **The automatic lock** (``auto_lock``; Freqtrade's StoplossGuard): after ``after_stops``
  losing stop-outs of a pair (positions closed STOPPED_OUT with a realized P&L below zero)
  within the last ``window_hours``, the pair is locked for ``lock_hours``. Why losing only: a
  trailing stop is also a STOPPED_OUT exit, and a trailed stop that closes in profit says the
  market went our way; a stop-out at a loss says it went against us. Not while a lock (any
  lock, by hand or automatic) holds the pair: it is locked already, and a second lock would
  only stack. And only stop-outs after the last lock of the pair ended (expired or lifted)
  count: the stop-outs that caused a lock, or happened while the pair was locked, never cause
  another one (a lift would otherwise be undone by the next stop-out).
- **Bounds** (``check_hours``): a lock by hand lasts more than 0 and at most 720 hours (30
  days); longer is a decision for a configuration change, not a lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from helios.errors import InvalidInput

MAX_LOCK_HOURS = 720.0
HOURS_ALLOWED = f"a number of hours more than 0 and at most {MAX_LOCK_HOURS:g} (30 days)"
AUTO_BY = "auto:stop-outs"
# the event kinds (helios.alerts.rules turns them into alerts)
PAIR_LOCKED = "PAIR_LOCKED"
PAIR_LOCK_AUTO = "PAIR_LOCK_AUTO"
PAIR_UNLOCKED = "PAIR_UNLOCKED"


@dataclass(frozen=True)
class LockView:
    """One stored lock as the rules see it (UTC times)."""

    id: int
    pair: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    by: str
    automatic: bool = False
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active_at(self, now: datetime) -> bool:
        """Whether it holds its pair at ``now``: started, not ended, not lifted."""
        return self.lifted_at is None and self.starts_at <= now < self.ends_at

    def ended_at(self) -> datetime:
        """When it stopped (or will stop) holding the pair: lifted, else its end."""
        return self.lifted_at if self.lifted_at is not None else self.ends_at

    def status(self, now: datetime) -> str:
        """``active``, ``lifted``, ``expired`` or ``scheduled`` (starts later)."""
        if self.lifted_at is not None:
            return "lifted"
        if now >= self.ends_at:
            return "expired"
        return "active" if now >= self.starts_at else "scheduled"


def lock_in_force(locks: Iterable[LockView], pair: str, now: datetime) -> LockView | None:
    """The lock holding ``pair`` at ``now``: the latest-ending of its active locks (ties: the
    newest id), None when the pair is free."""
    active = [lock for lock in locks if lock.pair == pair and lock.active_at(now)]
    return max(active, key=lambda lock: (lock.ends_at, lock.id), default=None)


def check_hours(hours: Any, field: str = "hours") -> float:
    """A lock's duration in hours: a finite number, 0 < hours <= 720; else ``InvalidInput``."""
    if isinstance(hours, bool):
        raise InvalidInput(field, hours, HOURS_ALLOWED)
    try:
        value = float(hours)
    except (TypeError, ValueError):
        raise InvalidInput(field, hours, HOURS_ALLOWED) from None
    if not math.isfinite(value) or value <= 0 or value > MAX_LOCK_HOURS:
        raise InvalidInput(field, hours, HOURS_ALLOWED)
    return value


def shown_time(when: datetime, zone: str) -> str:
    """``2026-12-06 21:30 SAST``: a time in the trading-day zone, as the console shows it."""
    local = when.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def remaining(lock: LockView, now: datetime) -> str:
    """How long until it ends, in words a person reads at a glance (``5 h 20 min``, ``40 s``)."""
    seconds = max(0.0, (lock.ends_at - now).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours / 24:.1f} days"


def refusal(lock: LockView, zone: str) -> str:
    """Why an opening trade on a locked pair is refused: the pair, the end time (trading-day
    zone), who locked it and why."""
    kind = "automatically" if lock.automatic else f"by {lock.by}"
    return (
        f"Pair {lock.pair} is locked until {shown_time(lock.ends_at, zone)} "
        f"(lock {lock.id}, {kind}): {lock.reason}"
    )


@dataclass(frozen=True)
class StopOut:
    """A position of the pair closed STOPPED_OUT: when, and its realized P&L (ZAR, exact)."""

    position_id: int
    pair: str
    closed_at: datetime
    realized_pnl: Decimal | None

    @property
    def losing(self) -> bool:
        return self.realized_pnl is not None and self.realized_pnl < 0


@dataclass(frozen=True)
class AutoLockPolicy:
    """LOCK_AFTER_STOPS (0: off), LOCK_WINDOW_HOURS, LOCK_HOURS."""

    after_stops: int
    window_hours: float
    lock_hours: float

    @property
    def enabled(self) -> bool:
        return self.after_stops > 0

    def since(self, now: datetime) -> datetime:
        return now - timedelta(hours=self.window_hours)


@dataclass(frozen=True)
class AutoLock:
    """The lock the stop-out rule puts on a pair, with the stop-outs that caused it."""

    pair: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    position_ids: tuple[int, ...]


def auto_lock(
    pair: str,
    stop_outs: Iterable[StopOut],
    locks: Iterable[LockView],
    policy: AutoLockPolicy,
    now: datetime,
) -> AutoLock | None:
    """The automatic lock due on ``pair`` at ``now``, or None (see the module's rule): at least
    ``after_stops`` losing stop-outs in (now - window, now], after the pair's last lock ended,
    and no lock holding the pair now."""
    if not policy.enabled:
        return None
    mine = [lock for lock in locks if lock.pair == pair]
    if lock_in_force(mine, pair, now) is not None:
        return None
    since = policy.since(now)
    last_end = max((lock.ended_at() for lock in mine if lock.ended_at() <= now), default=None)
    if last_end is not None and last_end > since:
        since = last_end
    counted = sorted(
        (s for s in stop_outs if s.pair == pair and s.losing and since < s.closed_at <= now),
        key=lambda s: (s.closed_at, s.position_id),
    )
    if len(counted) < policy.after_stops:
        return None
    ids = tuple(s.position_id for s in counted)
    shown = ", ".join(str(i) for i in ids)
    reason = (
        f"{len(counted)} losing stop-outs on {pair} within {policy.window_hours:g} h "
        f"(positions {shown}; LOCK_AFTER_STOPS={policy.after_stops}): locked for "
        f"{policy.lock_hours:g} h"
    )
    return AutoLock(pair, now, now + timedelta(hours=policy.lock_hours), reason, ids)
