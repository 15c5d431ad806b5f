"""The exchange interface every venue implements (paper now, VALR in issue #8).

Market orders only (the seed trades at market). An order is identified by a client order id that
the caller derives deterministically (position id + action), so a resend after a timeout or crash
is recognised: ``submit_market_order`` with an id the venue already knows returns that first
order (``duplicate=True``) and never fills twice.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from helios.errors import InvalidInput
from helios.money import positive

CLIENT_ORDER_ID = re.compile(r"^[0-9A-Za-z-]{1,50}$")  # VALR's customerOrderId rule
# No order is worth 1e15 units or ZAR; the bound keeps every figure inside the exact columns.
MAX_AMOUNT = Decimal("1e15")


class OrderStatus(StrEnum):
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"  # accepted, fill not known yet (VALR v1 places asynchronously)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


@dataclass(frozen=True)
class OrderRequest:
    """A market order for ``base_amount`` units, or for ``quote_amount`` ZAR worth.

    ``stop_price``: the level a stop monitor saw crossed. The paper venue then fills no better
    than that level (a sell at most, a buy at least that price), as a resting stop order would
    have; a real venue fills at its market and ignores it.

    ``margin``: the order may borrow (VALR ``allowMargin``); only a margin-enabled account on a
    pair that allows margin trading accepts it. The paper venue ignores it.

    ``sent_at``: when the caller sent it, by the caller's clock (a monitor pass run for a given
    time): the paper venue records its fill then; a real venue keeps its own time.
    """

    client_order_id: str
    pair: str
    side: Side
    base_amount: Decimal | None = None
    quote_amount: Decimal | None = None
    stop_price: Decimal | None = None
    margin: bool = False
    sent_at: datetime | None = None

    @classmethod
    def build(
        cls,
        client_order_id: Any,
        pair: Any,
        side: Any,
        *,
        base_amount: Any = None,
        quote_amount: Any = None,
        stop_price: Any = None,
        margin: Any = False,
        sent_at: datetime | None = None,
    ) -> OrderRequest:
        if not isinstance(client_order_id, str) or not CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise InvalidInput("client_order_id", client_order_id, "1-50 letters, digits or dashes")
        if not isinstance(pair, str) or not pair.strip():
            raise InvalidInput("pair", pair, "a pair such as BTCZAR")
        try:
            chosen_side = Side(str(side).upper())
        except ValueError:
            raise InvalidInput("side", side, "BUY or SELL") from None
        if (base_amount is None) == (quote_amount is None):
            raise InvalidInput(
                "base_amount/quote_amount", (base_amount, quote_amount), "exactly one of them"
            )
        base = (
            positive(base_amount, "base_amount", maximum=MAX_AMOUNT)
            if base_amount is not None
            else None
        )
        quote = (
            positive(quote_amount, "quote_amount", maximum=MAX_AMOUNT)
            if quote_amount is not None
            else None
        )
        stop = (
            positive(stop_price, "stop_price", maximum=MAX_AMOUNT)
            if stop_price is not None
            else None
        )
        if not isinstance(margin, bool):
            raise InvalidInput("margin", margin, "True or False")
        if sent_at is not None and not isinstance(sent_at, datetime):
            raise InvalidInput("sent_at", sent_at, "a datetime")
        return cls(
            client_order_id, pair.strip().upper(), chosen_side, base, quote, stop, margin, sent_at
        )

    def validated(self) -> OrderRequest:
        """The same request checked as ``build`` checks it (for one constructed directly)."""
        return OrderRequest.build(
            self.client_order_id,
            self.pair,
            self.side,
            base_amount=self.base_amount,
            quote_amount=self.quote_amount,
            stop_price=self.stop_price,
            margin=self.margin,
            sent_at=self.sent_at,
        )


@dataclass(frozen=True)
class OrderResult:
    client_order_id: str
    exchange_order_id: str | None
    status: OrderStatus
    pair: str
    side: str
    quantity: Decimal | None = None  # base units filled
    price: Decimal | None = None  # average fill price (ZAR)
    fee: Decimal | None = None  # ZAR
    reason: str | None = None
    created_at: datetime | None = None
    duplicate: bool = False  # True when this id was already known and no new order was placed


class Exchange(ABC):
    """What the position manager needs from a venue."""

    name: str

    @abstractmethod
    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        """Place a market order, or return the order already placed under its client id."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> OrderResult | None:
        """The order known under ``client_order_id``, or None if the venue never saw it."""

    @abstractmethod
    def balances(self) -> dict[str, Decimal]:
        """Available balance per currency."""

    def margin_enabled(self) -> bool:
        """Whether the account may short and borrow (VALR: a margin-enabled subaccount). The
        paper venue simulates margin."""
        return True
