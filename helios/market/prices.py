"""Observed prices: the latest price per pair and every price seen (``price_ticks``).

The latest price moves only forward in observed time (a late write of an older price never
replaces a newer one), and carries when it was observed at its source and when it arrived, so
the price-age rules measure the market, not the write. Every price a write observes (a new high,
a new low, the close; or the one price ``set_price`` was given) is kept as a tick, so the stop
monitor sees an excursion between two of its passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import LatestPrice, PriceTick
from helios.db.stale import expire_stale
from helios.market.candles import CandleRow

_LATEST_PRICES = select(LatestPrice.pair, LatestPrice.price)
_LATEST = LatestPrice.__table__
_LATEST_TS = select(_LATEST.c.pair, _LATEST.c.ts).where(
    _LATEST.c.pair.in_(bindparam("pairs", expanding=True))
)
_LATEST_INSERT = insert(_LATEST)
_LATEST_UPDATE = update(_LATEST).where(_LATEST.c.pair == bindparam("key"))


def latest_prices(session: Session) -> dict[str, Decimal]:
    """``{pair: price}`` of every pair that has a price (two columns, not whole rows)."""
    return {pair: value for pair, value in session.execute(_LATEST_PRICES)}


@dataclass(frozen=True)
class Latest:
    """A close to record as a pair's latest price, observed at ``observed``."""

    pair: str
    close: Decimal
    observed: datetime


def set_latest_many(session: Session, prices: Sequence[Latest], now: datetime, source: str) -> None:
    """Record each close as its pair's latest price unless a newer one is stored (Core
    statements, one set for every pair: every write of candles comes here; a ``LatestPrice``
    the session holds is expired)."""
    if not prices:
        return
    session.flush()
    connection = session.connection()
    found = connection.execute(_LATEST_TS, {"pairs": [p.pair for p in prices]})
    stored = {pair: ts for pair, ts in found}
    inserts, updates = [], []
    for p in prices:
        values = {"price": p.close, "ts": p.observed, "received_at": now, "source": source}
        if p.pair not in stored:
            inserts.append({"pair": p.pair, **values})
            stored[p.pair] = p.observed
        elif p.observed >= ensure_utc(stored[p.pair]):
            updates.append({"key": p.pair, **values})
    if inserts:
        connection.execute(_LATEST_INSERT, inserts)
    if updates:
        connection.execute(_LATEST_UPDATE, updates)
        expire_stale(session, LatestPrice, [u["key"] for u in updates])


def new_prices(row: CandleRow, high: Decimal | None, low: Decimal | None) -> list[Decimal]:
    """What a write of ``row`` observed that its stored bar (``high``/``low``, None: a new bar)
    did not show: a new high, a new low (or the whole range of a new bar), and the close."""
    seen = []
    if high is None or row.high > high:
        seen.append(row.high)
    if low is None or row.low < low:
        seen.append(row.low)
    seen.append(row.close)
    return list(dict.fromkeys(seen))  # each price once, in that order


def price_ticks(
    session: Session, pairs: Iterable[str], since: datetime, until: datetime
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """The prices observed per pair in (``since``, ``until``], oldest first."""
    found: dict[str, list[tuple[datetime, Decimal]]] = {}
    rows = session.execute(
        select(PriceTick.pair, PriceTick.ts, PriceTick.price)
        .where(PriceTick.pair.in_(list(pairs)), PriceTick.ts > since, PriceTick.ts <= until)
        .order_by(PriceTick.ts, PriceTick.id)
    )
    for pair, ts, value in rows:
        found.setdefault(pair, []).append((ensure_utc(ts), value))
    return found
