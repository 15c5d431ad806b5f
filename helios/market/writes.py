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

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.db.models import Candle, PriceTick
from helios.market.bar_time import floor_time, not_ahead
from helios.market.candles import DAY, CandleRow
from helios.market.history_epoch import bump_history_epoch
from helios.market.prices import new_prices, set_latest
from helios.market.rollup import roll_up_days


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
    if not rows:
        return 0
    now = clock.now()
    not_ahead(rows[-1].ts, now, "candles.timestamp", "a bar that opens")
    if observed is not None:
        not_ahead(observed, now, "observed")
    existing = {
        candle.ts: candle
        for candle in session.scalars(
            select(Candle).where(
                Candle.pair == pair,
                Candle.interval_seconds == seconds,
                Candle.ts >= rows[0].ts,
                Candle.ts <= rows[-1].ts,
            )
        )
    }
    # the newest bar's range before this write: what the write adds to it was just observed
    prior = {ts: (candle.high, candle.low) for ts, candle in existing.items()}
    volume_change: dict[datetime, Decimal] = {}
    written: list[CandleRow] = []
    for incoming in rows:
        old = existing.get(incoming.ts)
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
        if old is None:
            session.add(
                Candle(
                    pair=pair,
                    interval_seconds=seconds,
                    ts=row.ts,
                    open=row.open,
                    high=row.high,
                    low=row.low,
                    close=row.close,
                    volume=row.volume,
                    source=source,
                )
            )
            delta = row.volume
        else:
            delta = row.volume - old.volume
            old.open, old.high, old.low, old.close = row.open, row.high, row.low, row.close
            old.volume, old.source = row.volume, source
        if seconds < DAY:
            day = floor_time(row.ts, DAY)
            volume_change[day] = volume_change.get(day, Decimal(0)) + delta
    rows = written
    if seconds < DAY:
        new = {row.ts for row in rows if row.ts not in existing}
        roll_up_days(session, pair, rows, new, volume_change, source, seconds)
    last = rows[-1]
    if observed is None:  # history: as old as its newest bar proves
        end = last.ts + timedelta(seconds=seconds)
        observed = end if end <= now else last.ts
    set_latest(session, pair, last.close, observed, now, source)
    high, low = prior.get(last.ts, (None, None))
    seen = [tick] if tick is not None else new_prices(last, high, low)
    session.add_all(PriceTick(pair=pair, ts=observed, price=value) for value in seen)
    if floor_time(rows[0].ts, DAY) < floor_time(now, DAY):
        bump_history_epoch(session, now)  # a completed day's candle changed
    session.flush()
    return len(rows)
