"""One injectable clock.

Everything that needs the time asks a ``Clock``: timeouts, day rolls, staleness and snapshots are
then testable without sleeping, and a replay of history can drive the same code. Inside Helios all
times are timezone-aware UTC; the trading-day time zone is used only for day boundaries.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests and replays move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start) if start else datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = ensure_utc(when)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now += step
            return self._now


# how far ahead of this process's clock a price's observation time may be (another process's
# clock, a venue's): further ahead, the time is wrong, and a wrong time could make an old price
# look fresh for as long as it stays ahead
MAX_CLOCK_SKEW = timedelta(seconds=5)


def ensure_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def trading_day(when: datetime, zone: str) -> date:
    """The trading day (a calendar date in ``zone``) that ``when`` falls in."""
    return ensure_utc(when).astimezone(ZoneInfo(zone)).date()


def trading_day_start(day: date, zone: str) -> datetime:
    """The UTC instant at which trading day ``day`` starts in ``zone``."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)
