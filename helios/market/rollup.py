"""The daily roll-up: intraday candles fold into the daily candle of their UTC day (pure).

High = max, low = min, close = the newest bar's close, volume adjusted by the change, so daily
returns, volatility and correlation stay current while the market runs. The open moves only to
a new bar earlier than every bar of the day stored before (or one that opens at midnight): a day
that came from a daily source keeps its open when its last minutes arrive, and so does a bar
fetched again. ``helios.market.write_plan`` applies it to each write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.clock import ensure_utc
from helios.market.candles import DAY, CandleRow


@dataclass(frozen=True)
class DayFold:
    """One pair's intraday rows of a write (oldest first); ``new``: their open times not stored
    before; ``volume_change``: per UTC day, how much the write changed the day's volume."""

    pair: str
    rows: list[CandleRow]
    new: set[datetime]
    volume_change: dict[datetime, Decimal]


def daily_change(
    pair: str,
    day: datetime,
    day_rows: list[CandleRow],
    fold: DayFold,
    daily: tuple[Decimal, Decimal, Decimal] | None,
    span: tuple[Any, Any, int],
    source: str,
) -> dict[str, Any]:
    """The daily bar of ``pair`` on ``day`` after a write of ``day_rows`` (the fold's rows of
    that day, oldest first): the new bar's values when none is stored (``daily`` None), else
    the columns that change (``daily``: the stored high, low and volume; ``span``: the oldest
    and newest open time and the count of the day's stored bars of the written interval, these
    rows included). See the module's rule."""
    high = max(row.high for row in day_rows)
    low = min(row.low for row in day_rows)
    change = fold.volume_change.get(day, Decimal(0))
    if daily is None:
        return {
            "pair": pair,
            "interval_seconds": DAY,
            "ts": day,
            "open": day_rows[0].open,
            "high": high,
            "low": low,
            "close": day_rows[-1].close,
            "volume": max(change, Decimal(0)),
            "source": source,
        }
    stored_high, stored_low, stored_volume = daily
    changes: dict[str, Any] = {
        "high": max(stored_high, high),
        "low": min(stored_low, low),
        "volume": max(stored_volume + change, Decimal(0)),
    }
    oldest, newest, count = span
    first = day_rows[0]
    new_today = sum(1 for row in day_rows if row.ts in fold.new)
    # The open moves to a new bar that is earlier than every bar of the day stored before (or
    # that opens at midnight). A day that came from a daily source keeps its open when its last
    # minutes arrive, and so does a bar fetched again.
    earliest_new = first.ts in fold.new and oldest is not None and first.ts == ensure_utc(oldest)
    if first.ts == day or (earliest_new and int(count) > new_today):
        changes["open"] = first.open
    if newest is None or day_rows[-1].ts >= ensure_utc(newest):
        changes["close"] = day_rows[-1].close
    return changes
