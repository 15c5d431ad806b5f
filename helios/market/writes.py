"""Writing candles: validated rows upserted into the caller's transaction, and what follows.

A write replaces the stored bar (or, with ``merge``, extends it: open kept, high = max,
low = min, close = the row's, for a feed that saw only part of a bar); intraday rows roll up
into the daily candles of their UTC days (``rollup``); the newest close becomes the latest price
(``prices``) stamped with when it was observed: a live feed's poll time, or for history the end
of its bar (its open while the bar is still open), so ingested history never makes an old price
look fresh; what the write observed is kept as price ticks; a change to a completed day bumps
the history epoch. Nothing may be stamped ahead of the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.db.models import Candle, PriceTick
from helios.db.stale import expire_stale
from helios.market.bar_time import floor_time, not_ahead
from helios.market.candles import DAY, CandleRow
from helios.market.history_epoch import bump_history_epoch
from helios.market.prices import Latest, new_prices, set_latest_many
from helios.market.rollup import DayFold, roll_up_days

# Core statements built once (the compiled form is cached): a write is a handful of
# executemany round trips, not one ORM object per bar (issue 19: a replay writes every bar).
_CANDLES = Candle.__table__
_STORED = select(
    _CANDLES.c.pair,
    _CANDLES.c.id,
    _CANDLES.c.ts,
    _CANDLES.c.open,
    _CANDLES.c.high,
    _CANDLES.c.low,
    _CANDLES.c.volume,
).where(
    _CANDLES.c.pair.in_(bindparam("pairs", expanding=True)),
    _CANDLES.c.interval_seconds == bindparam("seconds"),
    _CANDLES.c.ts >= bindparam("first"),
    _CANDLES.c.ts <= bindparam("last"),
)
_INSERT = insert(_CANDLES)
# SET: the columns of the parameters (open, high, low, close, volume, source)
_UPDATE = update(_CANDLES).where(_CANDLES.c.id == bindparam("row_id"))
_TICKS = insert(PriceTick.__table__)


def write_candles(
    session: Session,
    clock: Clock,
    pair: str,
    seconds: int,
    rows: list[CandleRow],
    source: str,
    observed: datetime | None = None,
    *,
    merge: bool = False,
    tick: Decimal | None = None,
) -> int:
    """Upsert validated rows inside the caller's transaction (feeds use this directly).

    ``observed`` is when the newest close was seen at its source (a live feed's poll time;
    ``set_price``'s time). Without it the rows are history: the newest close is stamped with
    the end of its bar, or with its open time while the bar is still open (the latest moment
    the table proves), so ingested history never makes an old price look fresh.
    ``merge``: a row extends the stored bar instead of replacing it (open kept, high = max,
    low = min, close = the row's), for a feed that may have seen only part of a bar (the
    simulation after a restart). ``tick``: the price observed (``set_price``); default: what
    the newest row shows that was not known before (a new high or low, its close), each
    recorded in ``price_ticks`` at ``observed``.
    """
    written = write_candle_batches(
        session, clock, seconds, {pair: rows}, source, observed, merge=merge, tick=tick
    )
    return written.get(pair, 0)


def write_candle_batches(
    session: Session,
    clock: Clock,
    seconds: int,
    batches: Mapping[str, list[CandleRow]],
    source: str,
    observed: datetime | None = None,
    *,
    merge: bool = False,
    tick: Decimal | None = None,
) -> dict[str, int]:
    """``write_candles`` for several pairs at once, one moment of the market: each pair's rows
    (oldest first) follow ``write_candles``'s rule exactly, and every statement serves all the
    pairs (a handful of round trips per write, not per pair: a replay or a feed writes every
    pair at every moment). Returns ``{pair: rows written}``."""
    batches = {pair: rows for pair, rows in batches.items() if rows}
    if not batches:
        return {}
    now = clock.now()
    for rows in batches.values():
        not_ahead(rows[-1].ts, now, "candles.timestamp", "a bar that opens")
    if observed is not None:
        not_ahead(observed, now, "observed")
    session.flush()  # what the caller added is in the database before the statements below
    connection = session.connection()
    spans = {pair: (rows[0].ts, rows[-1].ts) for pair, rows in batches.items()}
    existing: dict[str, dict[datetime, Any]] = {pair: {} for pair in batches}
    for stored in connection.execute(
        _STORED,
        {
            "pairs": list(batches),
            "seconds": seconds,
            "first": min(first for first, _ in spans.values()),
            "last": max(last for _, last in spans.values()),
        },
    ):
        first, last = spans[stored.pair]
        if first <= stored.ts <= last:
            existing[stored.pair][stored.ts] = stored
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    folds: list[DayFold] = []
    latest: list[Latest] = []
    ticks: list[dict[str, Any]] = []
    completed_day_changed = False
    for pair, incoming_rows in batches.items():
        stored_rows = existing[pair]
        volume_change: dict[datetime, Decimal] = {}
        written: list[CandleRow] = []
        for incoming in incoming_rows:
            old = stored_rows.get(incoming.ts)
            row = incoming
            if old is not None and merge:  # the stored bar, extended by what the feed saw
                row = CandleRow(
                    incoming.ts,
                    old.open,
                    max(old.high, incoming.high),
                    min(old.low, incoming.low),
                    incoming.close,
                    max(old.volume, incoming.volume),
                )
            written.append(row)
            values = {
                "open": row.open,
                "high": row.high,
                "low": row.low,
                "close": row.close,
                "volume": row.volume,
                "source": source,
            }
            if old is None:
                inserts.append({"pair": pair, "interval_seconds": seconds, "ts": row.ts, **values})
                delta = row.volume
            else:
                updates.append({"row_id": old.id, **values})
                delta = row.volume - old.volume
            if seconds < DAY:
                day = floor_time(row.ts, DAY)
                volume_change[day] = volume_change.get(day, Decimal(0)) + delta
        if seconds < DAY:
            new = {row.ts for row in written if row.ts not in stored_rows}
            folds.append(DayFold(pair, written, new, volume_change))
        last = written[-1]
        seen_at = observed
        if seen_at is None:  # history: as old as its newest bar proves
            end = last.ts + timedelta(seconds=seconds)
            seen_at = end if end <= now else last.ts
        latest.append(Latest(pair, last.close, seen_at))
        # the newest bar's range before this write: what the write adds to it was just observed
        old_last = stored_rows.get(last.ts)
        high, low = (old_last.high, old_last.low) if old_last is not None else (None, None)
        seen = [tick] if tick is not None else new_prices(last, high, low)
        ticks.extend({"pair": pair, "ts": seen_at, "price": value} for value in seen)
        completed_day_changed |= floor_time(written[0].ts, DAY) < floor_time(now, DAY)
    if inserts:
        connection.execute(_INSERT, inserts)
    if updates:
        connection.execute(_UPDATE, updates)
        expire_stale(session, Candle, [u["row_id"] for u in updates])
    if folds:
        roll_up_days(session, folds, source, seconds)
    set_latest_many(session, latest, now, source)
    connection.execute(_TICKS, ticks)
    if completed_day_changed:
        bump_history_epoch(session, now)  # a completed day's candle changed
    session.flush()
    return {pair: len(rows) for pair, rows in batches.items()}
