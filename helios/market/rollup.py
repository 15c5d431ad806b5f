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

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import Candle
from helios.db.stale import expire_stale
from helios.market.bar_time import floor_time
from helios.market.candles import DAY, CandleRow

# Core statements built once (their compiled form is cached); see ``helios.market.writes``
_CANDLES = Candle.__table__
_DAILY = select(_CANDLES.c.id, _CANDLES.c.high, _CANDLES.c.low, _CANDLES.c.volume).where(
    _CANDLES.c.pair == bindparam("pair"),
    _CANDLES.c.interval_seconds == DAY,
    _CANDLES.c.ts == bindparam("day"),
)
_SPAN = select(func.min(_CANDLES.c.ts), func.max(_CANDLES.c.ts), func.count()).where(
    _CANDLES.c.pair == bindparam("pair"),
    _CANDLES.c.interval_seconds == bindparam("seconds"),
    _CANDLES.c.ts >= bindparam("day"),
    _CANDLES.c.ts < bindparam("day_end"),
)
_INSERT = insert(_CANDLES)
_UPDATE = update(_CANDLES).where(_CANDLES.c.id == bindparam("row_id"))


def roll_up_days(
    session: Session,
    pair: str,
    rows: list[CandleRow],
    new: set[datetime],
    volume_change: dict[datetime, Decimal],
    source: str,
    rows_interval: int,
) -> None:
    """Fold intraday ``rows`` (``new``: the open times not stored before; the rows are written
    already, in the session's transaction) into the daily candles of their UTC days."""
    connection = session.connection()
    by_day: dict[datetime, list[CandleRow]] = {}
    for row in rows:
        by_day.setdefault(floor_time(row.ts, DAY), []).append(row)
    for day, day_rows in by_day.items():
        daily = connection.execute(_DAILY, {"pair": pair, "day": day}).one_or_none()
        high = max(row.high for row in day_rows)
        low = min(row.low for row in day_rows)
        if daily is None:
            connection.execute(
                _INSERT,
                {
                    "pair": pair,
                    "interval_seconds": DAY,
                    "ts": day,
                    "open": day_rows[0].open,
                    "high": high,
                    "low": low,
                    "close": day_rows[-1].close,
                    "volume": max(volume_change.get(day, Decimal(0)), Decimal(0)),
                    "source": source,
                },
            )
            continue
        changes: dict[str, object] = {
            "row_id": daily.id,
            "high": max(daily.high, high),
            "low": min(daily.low, low),
            "volume": max(daily.volume + volume_change.get(day, Decimal(0)), Decimal(0)),
        }
        # the bars of this interval stored for the day, these rows included
        oldest, newest, count = connection.execute(
            _SPAN,
            {
                "pair": pair,
                "seconds": rows_interval,
                "day": day,
                "day_end": day + timedelta(seconds=DAY),
            },
        ).one()
        first = day_rows[0]
        new_today = sum(1 for row in day_rows if row.ts in new)
        # The open moves to a new bar that is earlier than every bar of the day stored
        # before (or that opens at midnight). A day that came from a daily source keeps
        # its open when its last minutes arrive, and so does a bar fetched again.
        earliest_new = first.ts in new and first.ts == ensure_utc(oldest)
        if first.ts == day or (earliest_new and int(count) > new_today):
            changes["open"] = first.open
        if newest is None or day_rows[-1].ts >= ensure_utc(newest):
            changes["close"] = day_rows[-1].close
        connection.execute(_UPDATE, changes)
        expire_stale(session, Candle, [daily.id])
