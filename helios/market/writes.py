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

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.db.models import Candle, PriceTick
from helios.db.stale import expire_where
from helios.market.candles import DAY, CandleRow
from helios.market.history_epoch import bump_history_epoch
from helios.market.prices import LATEST_TS, set_latest
from helios.market.write_plan import (
    Bar,
    Moment,
    Stored,
    WritePlan,
    days_of,
    spans_of,
)

# Core statements built once (the compiled form is cached): a write is a handful of
# executemany round trips, not one ORM object per bar (issue 19: a replay writes every bar).
_CANDLES = Candle.__table__
# a stored bar as a write reads it (``write_plan.Bar``)
_BAR = (
    _CANDLES.c.pair,
    _CANDLES.c.ts,
    _CANDLES.c.open,
    _CANDLES.c.high,
    _CANDLES.c.low,
    _CANDLES.c.volume,
)
_STORED = select(*_BAR).where(
    _CANDLES.c.pair.in_(bindparam("pairs", expanding=True)),
    _CANDLES.c.interval_seconds == bindparam("seconds"),
    _CANDLES.c.ts >= bindparam("first"),
)
_STORED_SPAN = _STORED.where(_CANDLES.c.ts <= bindparam("last"))
# the daily bars of the written days, and each day's span of stored bars of the written interval
# (what the roll-up reads)
_DAILY = select(*_BAR).where(
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
# SET: the columns of the parameters (a bar's open, high, low, close, volume, source; a daily
# bar's that changed); the bar by its unique key, so a write needs no ids (a writer that holds
# what it wrote never reads them back)
_UPDATE = update(_CANDLES).where(
    _CANDLES.c.pair == bindparam("k_pair"),
    _CANDLES.c.interval_seconds == bindparam("k_seconds"),
    _CANDLES.c.ts == bindparam("k_ts"),
)
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
    moment = Moment(batches, observed, clock.now(), merge, tick)
    return write_moments(session, seconds, source, [moment])


def write_moments(
    session: Session,
    seconds: int,
    source: str,
    moments: Sequence[Moment],
    held: Stored | None = None,
) -> dict[str, int]:
    """The moments' writes, in order, as one write (``helios.market.write_plan``): the stored
    state they touch read once, each moment applied to it by ``write_candles``' rule, and the
    net statements executed (the same rows as the moments written one by one). Returns the
    rows each pair's last write wrote.

    ``held``: the state a writer keeps from one write to the next because nothing else
    writes its pairs' candles (a replay in its own database): used as it is when it covers the
    moments (``Stored.covers``), else read again into it (each pair's bars without an upper
    bound); left as the write leaves it, pruned to what later writes in time order touch."""
    moments = [m for m in moments if any(m.batches.values())]
    if not moments:
        return {}
    session.flush()  # what the caller added is in the database before the statements below
    stored = held if held is not None else Stored()
    if held is None or not held.covers(moments, seconds < DAY):
        read_stored(session.connection(), seconds, moments, stored, open_ended=held is not None)
    plan = WritePlan(seconds, source, stored)
    for moment in moments:
        plan.add(moment)
    apply_plan(session, plan)
    if held is not None:
        held.prune()
    return dict(plan.written)


def read_stored(
    connection: Connection,
    seconds: int,
    moments: Sequence[Moment],
    into: Stored,
    *,
    open_ended: bool = False,
) -> None:
    """What the moments' writes read of the database, into ``into`` (emptied first), in a few
    statements for every pair: the bars of their spans (``open_ended``: every bar from each
    span's start on), the latest prices' times, and for intraday bars the daily bars of their
    days and each day's span of stored bars."""
    spans = spans_of(moments)
    into.clear()
    into.bars = {pair: {} for pair in spans}
    if not spans:
        return
    params: dict[str, Any] = {
        "pairs": list(spans),
        "seconds": seconds,
        "first": min(first for first, _ in spans.values()),
    }
    if not open_ended:
        params["last"] = max(last for _, last in spans.values())
    for bar in connection.execute(_STORED if open_ended else _STORED_SPAN, params):
        first, last = spans[bar.pair]
        if first <= bar.ts and (open_ended or bar.ts <= last):
            into.bars[bar.pair][bar.ts] = Bar(bar.open, bar.high, bar.low, bar.volume)
    into.bars_from = {pair: first for pair, (first, _last) in spans.items()}
    into.latest = dict(connection.execute(LATEST_TS, {"pairs": list(spans)}).all())
    into.priced = set(spans)
    if seconds >= DAY:
        return
    days = days_of(moments)
    pairs = sorted({pair for held in days.values() for pair in held})
    for daily in connection.execute(_DAILY, {"pairs": pairs, "days": sorted(days)}):
        key = (daily.pair, ensure_utc(daily.ts))
        into.daily[key] = Bar(daily.open, daily.high, daily.low, daily.volume)
    for day in days:
        found = connection.execute(
            _SPAN,
            {
                "pairs": sorted(into.bars),
                "seconds": seconds,
                "day": day,
                "day_end": day + timedelta(seconds=DAY),
            },
        )
        for pair, oldest, newest, count in found:
            into.spans[(pair, day)] = (oldest, newest, int(count))
    into.days = set(days)


def apply_plan(session: Session, plan: WritePlan) -> None:
    """The plan's statements: the new bars (one INSERT, in the order written), the stored
    bars' updates (one per set of columns), the latest prices, the ticks, the epoch."""
    connection = session.connection()
    if plan.inserts:
        connection.execute(_INSERT, plan.inserts)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for (pair, interval, ts), columns in plan.updates.items():
        row = {"k_pair": pair, "k_seconds": interval, "k_ts": ts, **columns}
        by_columns.setdefault(tuple(sorted(columns)), []).append(row)
    for same in by_columns.values():
        connection.execute(_UPDATE, same)
    if plan.updates:
        keys = plan.updates.keys()
        expire_where(
            session,
            Candle,
            lambda loaded: (
                (loaded.get("pair"), loaded.get("interval_seconds"), loaded.get("ts")) in keys
            ),
        )
    set_latest(session, plan.latest_inserts, plan.latest_updates)
    if plan.ticks:
        connection.execute(_TICKS, plan.ticks)
    if plan.epoch_bumps:
        assert plan.epoch_at is not None
        bump_history_epoch(session, plan.epoch_at, plan.epoch_bumps)  # completed days changed
    session.flush()
