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
  looked up in the (pair, interval, ts) index (scalar subqueries: one look-up per chart bar);
  the chart bar's open time is its first bar's, floored (every chart interval divides a day,
  so the epoch grid is the UTC day's grid).
- The GROUP BY key is the cheapest exact one for each database (``_bucket``), as it is computed
  for every minute row: on SQLite the stored UTC text 'YYYY-MM-DD HH:MM:SS...' itself (its first
  13 characters are the hour, 10 the day; 5m/15m/4h add one two-digit field divided by 5, 15 or
  4), not ``strftime('%s')``; on PostgreSQL ``date_bin`` from the epoch (PostgreSQL 14+), not
  ``extract(epoch)`` (a numeric per row), with JIT off for the query. Reading the minute rows
  out and bucketing them in numpy was measured too, and is slower: 525,600 rows through the
  driver cost more than the whole GROUP BY (bench/results/chart.md).
- The values leave as floats, for drawing (as ``series.candles_frame``): on SQLite the exact
  text columns are CAST to REAL for MAX/MIN/SUM; on PostgreSQL the NUMERIC aggregates are cast
  once per chart bar. Right for a chart, never used for money.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Float, Integer, cast, exists, func, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from helios.db.models import Candle
from helios.market.bars import BarRange
from helios.market.candles import SUPPORTED_INTERVALS

COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
DAY, HOUR, MINUTE = 86400, 3600, 60
# SQLite's stored UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': a unit's field (1-based start) and
# the length of the text up to the end of that field
_TEXT_FIELDS = {DAY: (9, 10), HOUR: (12, 13), MINUTE: (15, 16)}


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


def _bucket(dialect: str, seconds: int) -> list[ColumnElement[Any]]:
    """The GROUP BY key putting a stored bar in its ``seconds``-long chart bar (``seconds``
    divides a day, as every chart interval does).

    SQLite: the text up to the largest unit (day, hour, minute) that ``seconds`` is a whole
    number of, and when it is k > 1 of them, the unit's two digits divided by k (5m: the hour's
    text and minute / 5; 4h: the day's text and hour / 4): the epoch grid's bar, since k divides
    the unit above. PostgreSQL: ``date_bin`` from the epoch."""
    if dialect != "sqlite":
        origin = literal_column("TIMESTAMPTZ '1970-01-01 00:00:00+00'")
        step = literal_column(f"INTERVAL '{int(seconds)} seconds'")
        return [func.date_bin(step, Candle.ts, origin)]
    unit = next(u for u in (DAY, HOUR, MINUTE) if seconds % u == 0)
    start, through = _TEXT_FIELDS[unit]
    if seconds == unit:
        return [func.substr(Candle.ts, 1, through)]
    slot = cast(func.substr(Candle.ts, start, 2), Integer) // (seconds // unit)
    return [func.substr(Candle.ts, 1, start - 1), slot]


def rolled_candles(session: Session, pair: str, bars: BarRange) -> pd.DataFrame:
    """The chart's candles of ``pair`` over ``bars`` (columns timestamp, open, high, low, close,
    volume; floats; oldest first); empty when nothing is stored in the range."""
    source = source_interval(session, pair, bars)
    if source is None:
        return _frame([], bars.seconds)
    where = (
        Candle.pair == pair,
        Candle.interval_seconds == source,
        Candle.ts >= bars.start,
        Candle.ts < bars.end,
    )
    if source == bars.seconds:  # stored as they are drawn: no roll-up
        query = select(
            Candle.ts,
            cast(Candle.open, Float),
            cast(Candle.high, Float),
            cast(Candle.low, Float),
            cast(Candle.close, Float),
            cast(Candle.volume, Float),
        ).where(*where)
        return _frame(session.execute(query.order_by(Candle.ts)).all(), bars.seconds)
    sqlite = session.bind.dialect.name == "sqlite"  # type: ignore[union-attr]
    if not sqlite:
        # PostgreSQL counts a GROUP BY date_bin(...) as leaving every row it reads (525,600 for
        # a year, not 8,760), so it would JIT-compile, for about 0.2 s, a query that runs in
        # 0.3 s: not in this transaction
        session.execute(text("SET LOCAL jit = off"))
    grouped = (
        select(
            func.min(Candle.ts).label("first_ts"),
            func.max(Candle.ts).label("last_ts"),
            func.max(_number(Candle.high, sqlite)).label("high"),
            func.min(_number(Candle.low, sqlite)).label("low"),
            func.sum(_number(Candle.volume, sqlite)).label("volume"),
        )
        .where(*where)
        .group_by(*_bucket(session.bind.dialect.name, bars.seconds))  # type: ignore[union-attr]
        .subquery()
    )
    query = select(
        grouped.c.first_ts,
        cast(_bar_value(Candle.open, pair, source, grouped.c.first_ts), Float),
        cast(grouped.c.high, Float),
        cast(grouped.c.low, Float),
        cast(_bar_value(Candle.close, pair, source, grouped.c.last_ts), Float),
        cast(grouped.c.volume, Float),
    ).order_by(grouped.c.first_ts)
    return _frame(session.execute(query).all(), bars.seconds)


def _number(column: Any, sqlite: bool) -> Any:
    """A price or volume to aggregate: SQLite's exact text as REAL; PostgreSQL's NUMERIC as it
    is (its MAX/MIN/SUM are cast once per chart bar, not once per minute row)."""
    return cast(column, Float) if sqlite else column


def _bar_value(column: Any, pair: str, source: int, ts: Any) -> Any:
    """``column`` of the stored bar of ``pair`` and ``source`` opening at ``ts``: a scalar
    subquery, one look-up in the (pair, interval, ts) index per chart bar (as a join, PostgreSQL
    cannot tell that the GROUP BY leaves 8,760 rows, not 525,600, and hashes the whole table)."""
    return (
        select(column)
        .where(Candle.pair == pair, Candle.interval_seconds == source, Candle.ts == ts)
        .scalar_subquery()
    )


def _frame(rows: Sequence[Any], seconds: int) -> pd.DataFrame:
    """The rows (first bar's open time, open, high, low, close, volume) as the chart's frame,
    each time floored to its chart bar's open."""
    values = list(zip(*rows, strict=True)) or [()] * len(COLUMNS)  # by column: 5x faster
    frame = pd.DataFrame(dict(zip(COLUMNS, values, strict=True)))
    stamps = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["timestamp"] = stamps.dt.floor(f"{seconds}s")
    for column in COLUMNS[1:]:
        frame[column] = frame[column].astype(float)
    return frame
