"""Observed prices: the latest price per pair and every price seen (``price_ticks``).

The latest price moves only forward in observed time (a late write of an older price never
replaces a newer one), and carries when it was observed at its source and when it arrived, so
the price-age rules measure the market, not the write. Every price a write observes (a new high,
a new low, the close; or the one price ``set_price`` was given) is kept as a tick, so the stop
monitor sees an excursion between two of its passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import LatestPrice, PriceTick
from helios.db.stale import expire_stale

_LATEST_PRICES = select(LatestPrice.pair, LatestPrice.price)
_LATEST = LatestPrice.__table__
# each pair's latest price's observation time (what a write of candles reads)
LATEST_TS = select(_LATEST.c.pair, _LATEST.c.ts).where(
    _LATEST.c.pair.in_(bindparam("pairs", expanding=True))
)
_LATEST_INSERT = insert(_LATEST)
_LATEST_UPDATE = update(_LATEST).where(_LATEST.c.pair == bindparam("key"))


def latest_prices(session: Session) -> dict[str, Decimal]:
    """``{pair: price}`` of every pair that has a price (two columns, not whole rows)."""
    return {pair: value for pair, value in session.execute(_LATEST_PRICES)}


def set_latest(
    session: Session,
    inserts: Mapping[str, Mapping[str, Any]],
    updates: Mapping[str, Mapping[str, Any]],
) -> None:
    """The latest prices a write planned (``helios.market.write_plan``: each close recorded as
    its pair's latest unless a newer one is stored): the rows of pairs never priced inserted,
    the others updated (Core statements, one set for every pair; a ``LatestPrice`` the session
    holds is expired)."""
    connection = session.connection()
    if inserts:
        connection.execute(_LATEST_INSERT, list(inserts.values()))
    if updates:
        connection.execute(_LATEST_UPDATE, [{"key": pair, **v} for pair, v in updates.items()])
        expire_stale(session, LatestPrice, list(updates))


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
