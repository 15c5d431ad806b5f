"""The paper exchange: fills market orders at the latest price plus or minus slippage, charges
the configured fee, and remembers every client order id so a resubmission returns the first
order and never fills twice (DESIGN.md, "Modes and halts").

Its book lives in ``paper_venue_orders``, apart from our own ``orders``: like a real venue, it
knows client order ids, not positions. It fills instantly or rejects (no price, bad pair).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from helios.accounts.account import account_state
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import LatestPrice, PaperVenueOrder
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus, Side
from helios.money import ZERO, price, qty, qty_down, zar


class PaperExchange(Exchange):
    name = "paper"

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    @property
    def fee_pct(self) -> Decimal:
        return self._settings.paper_fee_pct

    def fill_price(self, side: Side, reference: Decimal, stop: Decimal | None = None) -> Decimal:
        """Market orders pay the slippage: buys above the reference price, sells below. A stop
        order fills no better than its stop: the worse of the stop and the market."""
        if stop is not None:
            reference = max(reference, stop) if side is Side.BUY else min(reference, stop)
        slip = self._settings.paper_slippage_pct
        factor = 1 + slip if side is Side.BUY else 1 - slip
        return price(reference * factor)

    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        request = request.validated()  # raises InvalidInput before anything is written
        now = request.sent_at or self._clock.now()
        try:
            return self._place(request, now)
        except IntegrityError:  # a concurrent submit with the same id won the insert
            raced = self.get_order(request.client_order_id)
            if raced is None:
                raise
            return _as_duplicate(raced)

    def _place(self, request: OrderRequest, now: datetime) -> OrderResult:
        with self._db.write() as session:
            # a known id returns the first order (checked inside the write transaction, so a
            # concurrent submit cannot slip between the look-up and the insert); the id and the
            # market price in one round trip
            known_id, latest_price = session.execute(
                _LOOK_UP, {"coid": request.client_order_id, "pair": request.pair}
            ).one()
            if known_id is not None:
                existing = session.get(PaperVenueOrder, known_id)
                assert existing is not None
                return _as_duplicate(_result(existing))
            order = PaperVenueOrder(
                client_order_id=request.client_order_id,
                exchange_order_id=str(uuid.uuid4()),
                pair=request.pair,
                side=request.side.value,
                created_at=now,
                quantity=ZERO,
                status=OrderStatus.REJECTED.value,
            )
            if request.pair not in self._settings.pairs:
                order.reason = f"unknown pair {request.pair}: this venue trades " + ", ".join(
                    self._settings.pairs
                )
            elif latest_price is None:
                order.reason = f"no market price for {request.pair} yet"
            else:
                fill = self.fill_price(request.side, latest_price, request.stop_price)
                quantity = (
                    qty(request.base_amount)
                    if request.base_amount is not None
                    else qty_down(request.quote_amount / fill)  # type: ignore[operator]
                )
                if quantity <= 0:
                    order.reason = "order amount rounds to zero quantity"
                else:
                    order.status = OrderStatus.FILLED.value
                    order.reference_price = latest_price
                    order.fill_price = fill
                    order.quantity = quantity
                    order.fee = zar(fill * quantity * self.fee_pct)
            session.add(order)
            session.flush()
            return _result(order)

    def offline(self, prices: dict[str, Decimal]) -> OfflinePaperVenue:
        """The same venue while the database is unreachable: fills from ``prices`` (the last
        ones known) with the same slippage and fee, remembering nothing; the close-out journal
        keeps its record and ``adopt`` writes it into the venue's book when the database
        returns."""
        return OfflinePaperVenue(self, prices, self._clock)

    def adopt(self, result: OrderResult, reference_price: Decimal | None) -> bool:
        """Enter an order the offline venue filled into the venue's book (idempotent: a known
        client order id changes nothing). True if written."""
        with self._db.write() as session:
            known = session.scalar(
                select(PaperVenueOrder.id).where(
                    PaperVenueOrder.client_order_id == result.client_order_id
                )
            )
            if known is not None:
                return False
            session.add(
                PaperVenueOrder(
                    client_order_id=result.client_order_id,
                    exchange_order_id=result.exchange_order_id or str(uuid.uuid4()),
                    pair=result.pair,
                    side=result.side,
                    created_at=result.created_at or self._clock.now(),
                    quantity=result.quantity or ZERO,
                    status=result.status.value,
                    reference_price=reference_price,
                    fill_price=result.price,
                    fee=result.fee,
                    reason=result.reason,
                )
            )
        return True

    def get_order(self, client_order_id: str) -> OrderResult | None:
        with self._db.read() as session:
            order = session.scalars(
                select(PaperVenueOrder).where(PaperVenueOrder.client_order_id == client_order_id)
            ).one_or_none()
            return _result(order) if order else None

    def balances(self) -> dict[str, Decimal]:
        """The paper account's ZAR cash (the ledger's), for parity with real venues."""
        with self._db.read() as session:
            return {"ZAR": account_state(session).cash}


class OfflinePaperVenue(Exchange):
    """The paper venue without its database (see ``PaperExchange.offline``)."""

    name = "paper-offline"

    def __init__(self, venue: PaperExchange, prices: dict[str, Decimal], clock: Clock) -> None:
        self._venue = venue
        self._prices = prices
        self._clock = clock

    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        request = request.validated()
        now = self._clock.now()
        reference = self._prices.get(request.pair)
        if reference is None or request.base_amount is None:
            return OrderResult(
                client_order_id=request.client_order_id,
                exchange_order_id=str(uuid.uuid4()),
                status=OrderStatus.REJECTED,
                pair=request.pair,
                side=request.side.value,
                reason=f"no known price for {request.pair}"
                if reference is None
                else "offline fills take a base amount",
                created_at=now,
            )
        fill = self._venue.fill_price(request.side, reference, request.stop_price)
        quantity = qty(request.base_amount)
        return OrderResult(
            client_order_id=request.client_order_id,
            exchange_order_id=str(uuid.uuid4()),
            status=OrderStatus.FILLED,
            pair=request.pair,
            side=request.side.value,
            quantity=quantity,
            price=fill,
            fee=zar(fill * quantity * self._venue.fee_pct),
            created_at=now,
        )

    def get_order(self, client_order_id: str) -> OrderResult | None:
        return None  # the journal is this venue's memory

    def balances(self) -> dict[str, Decimal]:
        return {}


_LOOK_UP = select(
    select(PaperVenueOrder.id)
    .where(PaperVenueOrder.client_order_id == bindparam("coid"))
    .scalar_subquery(),
    select(LatestPrice.price).where(LatestPrice.pair == bindparam("pair")).scalar_subquery(),
)


def _result(order: PaperVenueOrder) -> OrderResult:
    return OrderResult(
        client_order_id=order.client_order_id,
        exchange_order_id=order.exchange_order_id,
        status=OrderStatus(order.status),
        pair=order.pair,
        side=order.side,
        quantity=order.quantity if order.status == OrderStatus.FILLED else None,
        price=order.fill_price,
        fee=order.fee,
        reason=order.reason,
        created_at=order.created_at,
    )


def _as_duplicate(result: OrderResult) -> OrderResult:
    return replace(result, duplicate=True)
