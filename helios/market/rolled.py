"""Candles of a chart interval, rolled up in SQL from the finer stored candles.

- Source: the chart interval's own stored candles when there are any in the range (the daily
  candles, kept for ever, are the roll-up ``rollup`` keeps current from the minute bars); else
  the finest stored interval that divides it (the 1-minute bars, kept for
  ``INTRADAY_RETENTION_DAYS``), rolled up.
- Roll-up: the bars of one chart bar are those whose open time floors to its open on the
  epoch-aligned UTC grid (``bar_time.floor_time``: epoch seconds minus their remainder); open =
  the first bar's open, high = max, low = min, close = the last bar's close, volume = sum.
- In SQL, so a year of minute bars (525,600 rows) never leaves the database: one GROUP BY gives
  each chart bar's high, low, volume and its first and last bar, whose open and close are then
  found through the (pair, interval, ts) index. The values leave as floats, for drawing (as
  ``series.candles_frame``): on SQLite the exact text columns are CAST to REAL for MAX/MIN/SUM,
  which is right for a chart and never used for money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Float, Integer, cast, exists, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from helios.db.models import Candle
from helios.market.bars import BarRange
from helios.market.candles import SUPPORTED_INTERVALS

COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]


def source_interval(session: Session, pair: str, bars: BarRange) -> int | None:
    """The stored interval the chart's bars are made of (see the module docstring), or None
    when no candle of a usable interval is stored in the range."""
    own_first = [bars.seconds] + [
        s for s in SUPPORTED_INTERVALS if s < bars.seconds and bars.seconds % s == 0
    ]
    for seconds in own_first:
        found = session.scalar(
            select(
                exists().where(
                    Candle.pair == pair,
                    Candle.interval_seconds == seconds,
                    Candle.ts >= bars.start,
                    Candle.ts < bars.end,
                )
            )
        )
        if found:
            return seconds
    return None


def _epoch(dialect: str, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """A stored time as whole UTC epoch seconds (SQLite holds naive UTC text)."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def rolled_candles(session: Session, pair: str, bars: BarRange) -> pd.DataFrame:
    """The chart's candles of ``pair`` over ``bars`` (columns timestamp, open, high, low, close,
    volume; floats; oldest first); empty when nothing is stored in the range."""
    source = source_interval(session, pair, bars)
    if source is None:
        return pd.DataFrame({column: [] for column in COLUMNS}).astype(
            {"timestamp": "datetime64[ns, UTC]"}
        )
    where = (
        Candle.pair == pair,
        Candle.interval_seconds == source,
        Candle.ts >= bars.start,
        Candle.ts < bars.end,
    )
    if source == bars.seconds:  # stored as they are drawn: no roll-up
        query = select(
            _epoch(session.bind.dialect.name, Candle.ts),  # type: ignore[union-attr]
            cast(Candle.open, Float),
            cast(Candle.high, Float),
            cast(Candle.low, Float),
            cast(Candle.close, Float),
            cast(Candle.volume, Float),
        ).where(*where)
        rows = session.execute(query.order_by(Candle.ts)).all()
        return _frame(rows)
    epoch = _epoch(session.bind.dialect.name, Candle.ts)  # type: ignore[union-attr]
    bucket = (epoch - epoch % bars.seconds).label("bucket")
    grouped = (
        select(
            bucket,
            func.min(Candle.ts).label("first_ts"),
            func.max(Candle.ts).label("last_ts"),
            func.max(cast(Candle.high, Float)).label("high"),
            func.min(cast(Candle.low, Float)).label("low"),
            func.sum(cast(Candle.volume, Float)).label("volume"),
        )
        .where(*where)
        .group_by(bucket)
        .subquery()
    )
    first, last = aliased(Candle), aliased(Candle)
    query = (
        select(
            grouped.c.bucket,
            cast(first.open, Float),
            grouped.c.high,
            grouped.c.low,
            cast(last.close, Float),
            grouped.c.volume,
        )
        .join(first, _same_bar(first, pair, source, grouped.c.first_ts))
        .join(last, _same_bar(last, pair, source, grouped.c.last_ts))
        .order_by(grouped.c.bucket)
    )
    return _frame(session.execute(query).all())


def _same_bar(candle: Any, pair: str, source: int, ts: Any) -> ColumnElement[bool]:
    """The stored bar of ``pair`` and ``source`` opening at ``ts`` (the unique index)."""
    return (candle.pair == pair) & (candle.interval_seconds == source) & (candle.ts == ts)


def _frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS) if rows else None
    if frame is None:
        frame = pd.DataFrame({column: [] for column in COLUMNS})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="s", utc=True)
    for column in COLUMNS[1:]:
        frame[column] = frame[column].astype(float)
    return frame
