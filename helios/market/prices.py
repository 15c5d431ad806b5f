"""Observed prices: the latest price per pair and every price seen (``price_ticks``).

The latest price moves only forward in observed time (a late write of an older price never
replaces a newer one), and carries when it was observed at its source and when it arrived, so
the price-age rules measure the market, not the write. Every price a write observes (a new high,
a new low, the close; or the one price ``set_price`` was given) is kept as a tick, so the stop
monitor sees an excursion between two of its passes.
"""

from __future__ import annotations

from collections.abc import Iterable
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
_LATEST_TS = select(_LATEST.c.ts).where(_LATEST.c.pair == bindparam("pair"))
_LATEST_INSERT = insert(_LATEST)
_LATEST_UPDATE = update(_LATEST).where(_LATEST.c.pair == bindparam("key"))


def latest_prices(session: Session) -> dict[str, Decimal]:
    """``{pair: price}`` of every pair that has a price (two columns, not whole rows)."""
    return {pair: value for pair, value in session.execute(_LATEST_PRICES)}


def set_latest(
    session: Session,
    pair: str,
    close: Decimal,
    observed: datetime,
    now: datetime,
    source: str,
) -> None:
    """Record ``close`` as the latest price of ``pair`` unless a newer one is stored (Core
    statements: every write of candles comes here; a ``LatestPrice`` the session holds is
    expired)."""
    session.flush()
    connection = session.connection()
    stored = connection.execute(_LATEST_TS, {"pair": pair}).scalar_one_or_none()
    values = {"price": close, "ts": observed, "received_at": now, "source": source}
    if stored is None:
        connection.execute(_LATEST_INSERT, {"pair": pair, **values})
    elif observed >= ensure_utc(stored):
        connection.execute(_LATEST_UPDATE, {"key": pair, **values})
        expire_stale(session, LatestPrice, [pair])


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
