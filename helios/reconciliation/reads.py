"""Gathering a pass's inputs: the ledger's side, VALR's side, prices and fees.

Everything ``helios.reconciliation.compare`` judges is read here first and handed over frozen,
so the rule never reads halfway through. The ledger is read before and after VALR is asked; if
it changed in between (an order was being recorded) the reading is repeated once, then given up
(``None``: the pass waits for the next one), never judged on a torn picture. The positions named
by our open orders are looked up in the second reading of the ledger, the one that confirms it
did not move. VALR's balances are its ``total`` (available + reserved) per currency; its pair
list is public and optional (a failure falls back to the pair's name and 8 decimals); an order
stuck in flight past the grace is looked up by its customerOrderId. Prices (the market store's
latest) and taker fees (of every pair held) are read after the ledger and VALR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Fill, Order, Position
from helios.exchange.valr import ValrError, ValrExchange, ValrUnavailable
from helios.positions.lifecycle import CLOSING, OPEN, OPENING, TRANSITIONAL
from helios.reconciliation.baseline import LIVE, decimal_or_none, read_baseline
from helios.reconciliation.compare import (
    Baseline,
    Book,
    PairUnits,
    Quotes,
    Venue,
    VenueOrder,
    our_orders,
)

if TYPE_CHECKING:
    from helios.market.store import MarketData

log = logging.getLogger("helios.reconciliation")

BALANCES_PATH = "/v1/account/balances"


class Reads:
    """The reads of one pass (ledger, VALR, prices and fees); ``installation_id`` says which
    customerOrderIds are ours."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        exchange: ValrExchange,
        installation_id: Callable[[], str],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._exchange = exchange
        self.installation_id = installation_id

    def consistent(self, live_since: str) -> tuple[Baseline | None, Book, Venue] | None:
        """The baseline, the ledger and VALR, read so that the ledger did not move while VALR
        was asked (twice at most); None when it kept moving. Raises ``ValrError``."""
        for _attempt in (1, 2):
            with self._db.read() as session:
                baseline = read_baseline(session, live_since, self._clock)
                since = baseline.fill_id if baseline is not None else None
                book = read_book(session, since)
            venue = self.venue(book)
            with self._db.read() as session:
                again = generation(session)
                if again == book.generation:
                    return baseline, book, self._with_statuses(session, venue)
        return None

    def quotes(self, book: Book) -> Quotes:
        """The latest prices, and the taker fee of every pair held (OPEN or CLOSING)."""
        prices = self._market.latest_prices()
        fees = {pair: self._exchange.taker_fee(pair) for pair, *_rest in book.holdings}
        return Quotes(prices, fees)

    def venue(self, book: Book) -> Venue:
        """VALR's balances (``total``), open orders, the pair list (public; a failure falls
        back to the pair's name and 8 decimals) and the look-up of orders stuck past the
        grace."""
        balances = self.balances()
        open_orders = tuple(
            VenueOrder(
                customer_order_id=order.customer_order_id,
                pair=order.pair,
                side=order.side,
                status=order.status,
                original_quantity=order.original_quantity,
                remaining_quantity=order.remaining_quantity,
            )
            for order in self._exchange.open_orders()
        )
        try:
            rules = self._exchange.all_pair_rules()
        except ValrError as exc:
            log.warning("VALR pair list unavailable (%s): base currency from the pair name", exc)
            rules = {}
        pairs = {
            symbol: PairUnits(rule.base_currency, Decimal(1).scaleb(-rule.base_decimal_places))
            for symbol, rule in rules.items()
        }
        cutoff = self._clock.now() - timedelta(seconds=self._settings.live_reconcile_grace_seconds)
        unknown: dict[int, str] = {}
        for position_id, pair, _status, updated_at, coid in book.transitional:
            if coid is None or updated_at > cutoff:
                continue
            if self._exchange.get_order(coid, pair) is None:
                unknown[position_id] = coid
        return Venue(balances, open_orders, pairs, unknown)

    def balances(self) -> dict[str, Decimal]:
        """``GET /v1/account/balances``: the ``total`` (available + reserved) per currency, what
        the account holds whatever orders reserve."""
        items = self._exchange.client.get(BALANCES_PATH)
        if not isinstance(items, list):
            raise _malformed(items)
        result: dict[str, Decimal] = {}
        for item in items:
            if not isinstance(item, dict):
                raise _malformed(item)
            currency = item.get("currency")
            if isinstance(currency, dict):
                currency = currency.get("symbol")
            amount = decimal_or_none(item.get("total", item.get("available")))
            if not currency or amount is None:
                raise _malformed(item)
            result[str(currency).upper()] = amount
        return result

    def _with_statuses(self, session: Session, venue: Venue) -> Venue:
        """``venue`` with the ledger's status of each position our open orders name."""
        ours = our_orders(venue.open_orders, self.installation_id())
        if not ours:
            return venue
        statuses = dict(
            session.execute(
                select(Position.id, Position.status).where(
                    Position.id.in_({pid for _order, pid in ours})
                )
            ).all()
        )
        return Venue(venue.balances, venue.open_orders, venue.pairs, venue.unknown, statuses)


def generation(session: Session) -> tuple[Any, ...]:
    """What changes whenever the ledger's LIVE side does: the newest fill and order ids and the
    positions in flight."""
    max_fill = session.scalar(
        select(func.max(Fill.id)).join(Order, Fill.order_id == Order.id).where(Order.mode == LIVE)
    )
    max_order = session.scalar(select(func.max(Order.id)).where(Order.mode == LIVE))
    moving = session.execute(
        select(Position.id, Position.status)
        .where(Position.mode == LIVE, Position.status.in_(TRANSITIONAL))
        .order_by(Position.id)
    ).all()
    return (int(max_fill or 0), int(max_order or 0), tuple((i, s) for i, s in moving))


def read_book(session: Session, since_fill: int | None) -> Book:
    """The ledger's LIVE side in one transaction: the positions in flight (with their latest
    order's customerOrderId), the fills after ``since_fill`` (none without a baseline) and the
    positions held."""
    gen = generation(session)
    max_fill = gen[0]
    transitional = []
    for position_id, pair, status, updated_at in session.execute(
        select(Position.id, Position.pair, Position.status, Position.updated_at)
        .where(Position.mode == LIVE, Position.status.in_(TRANSITIONAL))
        .order_by(Position.id)
    ).all():
        action = "OPEN" if status == OPENING else "CLOSE"
        coid = session.scalar(
            select(Order.client_order_id)
            .where(Order.position_id == position_id, Order.action == action)
            .order_by(Order.id.desc())
            .limit(1)
        )
        transitional.append((position_id, pair, status, updated_at, coid))
    fills: list[tuple[str, str, Decimal, Decimal, Decimal]] = []
    if since_fill is not None:
        fills = [
            (pair, side, quantity, price, fee)
            for pair, side, quantity, price, fee in session.execute(
                select(Order.pair, Order.side, Fill.quantity, Fill.price, Fill.fee)
                .join(Order, Fill.order_id == Order.id)
                .where(Order.mode == LIVE, Fill.id > since_fill)
                .order_by(Fill.id)
            ).all()
        ]
    holdings = [
        (pair, side, quantity or Decimal(0), entry or Decimal(0))
        for pair, side, quantity, entry in session.execute(
            select(Position.pair, Position.side, Position.quantity, Position.entry_price).where(
                Position.mode == LIVE, Position.status.in_((OPEN, CLOSING))
            )
        ).all()
    ]
    return Book(gen, max_fill, tuple(transitional), tuple(fills), tuple(holdings))


def _malformed(item: Any) -> ValrError:
    return ValrUnavailable(
        f"unexpected answer from VALR: {repr(item)[:200]}",
        method="GET",
        path=BALANCES_PATH,
        status=200,
    )


__all__ = ["BALANCES_PATH", "Reads", "generation", "read_book"]
