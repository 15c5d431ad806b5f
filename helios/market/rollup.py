"""The daily roll-up: intraday candles fold into the daily candle of their UTC day.

High = max, low = min, close = the newest bar's close, volume adjusted by the change, so daily
returns, volatility and correlation stay current while the market runs. The open moves only to
a new bar earlier than every bar of the day stored before (or one that opens at midnight): a day
that came from a daily source keeps its open when its last minutes arrive, and so does a bar
fetched again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import Candle
from helios.db.stale import expire_stale
from helios.market.bar_time import floor_time
from helios.market.candles import DAY, CandleRow

# Core statements built once (their compiled form is cached); see ``helios.market.writes``
_CANDLES = Candle.__table__
_DAILY = select(
    _CANDLES.c.pair,
    _CANDLES.c.ts,
    _CANDLES.c.id,
    _CANDLES.c.high,
    _CANDLES.c.low,
    _CANDLES.c.volume,
).where(
    _CANDLES.c.pair.in_(bindparam("pairs", expanding=True)),
    _CANDLES.c.interval_seconds == DAY,
    _CANDLES.c.ts.in_(bindparam("days", expanding=True)),
)
_SPAN = (
    select(_CANDLES.c.pair, func.min(_CANDLES.c.ts), func.max(_CANDLES.c.ts), func.count())
    .where(
        _CANDLES.c.pair.in_(bindparam("pairs", expanding=True)),
        _CANDLES.c.interval_seconds == bindparam("seconds"),
        _CANDLES.c.ts >= bindparam("day"),
        _CANDLES.c.ts < bindparam("day_end"),
    )
    .group_by(_CANDLES.c.pair)
)
_INSERT = insert(_CANDLES)
_UPDATE = update(_CANDLES).where(_CANDLES.c.id == bindparam("row_id"))


@dataclass(frozen=True)
class DayFold:
    """One pair's intraday rows of a write (oldest first, already written in the session's
    transaction); ``new``: their open times not stored before; ``volume_change``: per UTC day,
    how much the write changed the day's volume."""

    pair: str
    rows: list[CandleRow]
    new: set[datetime]
    volume_change: dict[datetime, Decimal]


def roll_up_days(
    session: Session, folds: Sequence[DayFold], source: str, rows_interval: int
) -> None:
    """Fold each pair's intraday rows into the daily candles of their UTC days (the module's
    rule), every pair's in the same few statements."""
    connection = session.connection()
    groups: dict[tuple[str, datetime], tuple[DayFold, list[CandleRow]]] = {}
    for fold in folds:
        for row in fold.rows:
            key = (fold.pair, floor_time(row.ts, DAY))
            groups.setdefault(key, (fold, []))[1].append(row)
    if not groups:
        return
    pairs = sorted({pair for pair, _ in groups})
    days = sorted({day for _, day in groups})
    stored = {
        (daily.pair, ensure_utc(daily.ts)): daily
        for daily in connection.execute(_DAILY, {"pairs": pairs, "days": days})
    }
    spans: dict[tuple[str, datetime], Any] = {}
    for day in {day for pair, day in groups if (pair, day) in stored}:
        for pair, oldest, newest, count in connection.execute(
            _SPAN,
            {
                "pairs": [p for p, d in groups if d == day and (p, d) in stored],
                "seconds": rows_interval,
                "day": day,
                "day_end": day + timedelta(seconds=DAY),
            },
        ):
            spans[(pair, day)] = (oldest, newest, count)
    inserts: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for (pair, day), (fold, day_rows) in groups.items():
        daily = stored.get((pair, day))
        high = max(row.high for row in day_rows)
        low = min(row.low for row in day_rows)
        change = fold.volume_change.get(day, Decimal(0))
        if daily is None:
            inserts.append(
                {
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
            )
            continue
        changes: dict[str, Any] = {
            "row_id": daily.id,
            "high": max(daily.high, high),
            "low": min(daily.low, low),
            "volume": max(daily.volume + change, Decimal(0)),
        }
        # the bars of this interval stored for the day, these rows included
        oldest, newest, count = spans.get((pair, day), (None, None, 0))
        first = day_rows[0]
        new_today = sum(1 for row in day_rows if row.ts in fold.new)
        # The open moves to a new bar that is earlier than every bar of the day stored
        # before (or that opens at midnight). A day that came from a daily source keeps
        # its open when its last minutes arrive, and so does a bar fetched again.
        earliest_new = (
            first.ts in fold.new and oldest is not None and first.ts == ensure_utc(oldest)
        )
        if first.ts == day or (earliest_new and int(count) > new_today):
            changes["open"] = first.open
        if newest is None or day_rows[-1].ts >= ensure_utc(newest):
            changes["close"] = day_rows[-1].close
        updates.setdefault(tuple(sorted(changes)), []).append(changes)
    if inserts:
        connection.execute(_INSERT, inserts)
    for same_columns in updates.values():  # one executemany per set of columns changed
        connection.execute(_UPDATE, same_columns)
        expire_stale(session, Candle, [u["row_id"] for u in same_columns])
