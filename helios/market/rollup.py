"""The daily roll-up: intraday candles fold into the daily candle of their UTC day.

High = max, low = min, close = the newest bar's close, volume adjusted by the change, so daily
returns, volatility and correlation stay current while the market runs. The open moves only to
a new bar earlier than every bar of the day stored before (or one that opens at midnight): a day
that came from a daily source keeps its open when its last minutes arrive, and so does a bar
fetched again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import Candle
from helios.market.bar_time import floor_time
from helios.market.candles import DAY, CandleRow


def roll_up_days(
    session: Session,
    pair: str,
    rows: list[CandleRow],
    new: set[datetime],
    volume_change: dict[datetime, Decimal],
    source: str,
    rows_interval: int,
) -> None:
    """Fold intraday ``rows`` (``new``: the open times not stored before) into the daily
    candles of their UTC days."""
    by_day: dict[datetime, list[CandleRow]] = {}
    for row in rows:
        by_day.setdefault(floor_time(row.ts, DAY), []).append(row)
    for day, day_rows in by_day.items():
        daily = session.scalars(
            select(Candle).where(
                Candle.pair == pair, Candle.interval_seconds == DAY, Candle.ts == day
            )
        ).one_or_none()
        high = max(row.high for row in day_rows)
        low = min(row.low for row in day_rows)
        if daily is None:
            session.add(
                Candle(
                    pair=pair,
                    interval_seconds=DAY,
                    ts=day,
                    open=day_rows[0].open,
                    high=high,
                    low=low,
                    close=day_rows[-1].close,
                    volume=max(volume_change.get(day, Decimal(0)), Decimal(0)),
                    source=source,
                )
            )
        else:
            daily.high = max(daily.high, high)
            daily.low = min(daily.low, low)
            # the bars of this interval stored for the day, these rows included (autoflush)
            oldest, newest, count = session.execute(
                select(func.min(Candle.ts), func.max(Candle.ts), func.count()).where(
                    Candle.pair == pair,
                    Candle.interval_seconds == rows_interval,
                    Candle.ts >= day,
                    Candle.ts < day + timedelta(seconds=DAY),
                )
            ).one()
            first = day_rows[0]
            new_today = sum(1 for row in day_rows if row.ts in new)
            # The open moves to a new bar that is earlier than every bar of the day stored
            # before (or that opens at midnight). A day that came from a daily source keeps
            # its open when its last minutes arrive, and so does a bar fetched again.
            earliest_new = first.ts in new and first.ts == ensure_utc(oldest)
            if first.ts == day or (earliest_new and int(count) > new_today):
                daily.open = first.open
            if newest is None or day_rows[-1].ts >= ensure_utc(newest):
                daily.close = day_rows[-1].close
            daily.volume = max(daily.volume + volume_change.get(day, Decimal(0)), Decimal(0))
