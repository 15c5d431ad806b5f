"""``OrderLookup``: finding one of our orders on VALR by its ``customerOrderId``.

The rules it owns:

- A 4xx on an order route means "VALR does not know it (here, yet)", so it is None; any other
  failure (auth, rate limit, no answer) RAISES, because a caller that took "cannot ask" for
  "unknown" would place the order again.
- Where to look: the history summary for a completed order (no pair needed), the open orders,
  the status route (the pair in its path: the caller's, else the one remembered from placing)
  for an order accepted but not placed yet, and VALR's order id remembered from its 202. An
  order accepted here but not visible yet is PENDING, never None.
"""

from __future__ import annotations

import threading
from typing import Any

from helios.exchange.base import OrderResult, OrderStatus
from helios.exchange.valr.account import OpenOrder
from helios.exchange.valr.catalog import PairCatalog
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.errors import ValrRejected
from helios.exchange.valr.parsing import (
    open_order_result,
    open_orders,
    order_record,
    result_from_status,
    result_from_summary,
)
from helios.exchange.valr.routes import (
    OPEN_ORDERS_PATH,
    status_by_customer_id,
    summary_by_customer_id,
    summary_by_order_id,
)


class OrderLookup:
    """Looks orders up on VALR and remembers, per ``customerOrderId`` placed in this process,
    the pair and VALR's order id (thread-safe)."""

    def __init__(self, client: ValrClient, catalog: PairCatalog) -> None:
        self.client = client
        self.catalog = catalog
        self._lock = threading.Lock()
        self._placed: dict[str, tuple[str, str | None]] = {}  # coid -> (pair, VALR order id)

    def remember(self, coid: str, pair: str, order_id: str | None) -> None:
        with self._lock:
            self._placed[coid] = (pair.upper(), order_id)

    def open_orders(self) -> list[OpenOrder]:
        return open_orders(self.client.get(OPEN_ORDERS_PATH))

    def lookup(self, path: str) -> dict[str, Any] | None:
        """A GET of one order: its record, None when VALR answers 4xx (unknown, or not in this
        route yet), or a ``ValrError`` when VALR cannot be asked (auth, rate limit, transport)."""
        try:
            item = self.client.get(path)
        except ValrRejected:
            return None
        return order_record(item, path)

    def from_summary(self, item: dict[str, Any], coid: str) -> OrderResult:
        return result_from_summary(item, coid, self.catalog.currencies)

    def find(self, coid: str, pair: str) -> OrderResult | None:
        """The order under ``coid`` (completed, or known to the status route), None when VALR
        answers that it does not know it; raises when VALR cannot be asked."""
        summary = self.lookup(summary_by_customer_id(coid))
        if summary is not None:
            return self.from_summary(summary, coid)
        status = self.lookup(status_by_customer_id(pair, coid))
        if status is not None:
            return result_from_status(status, coid, pair)
        return None

    def get_order(self, client_order_id: str, pair: str | None = None) -> OrderResult | None:
        """The order VALR knows under ``client_order_id`` (see ``ValrExchange.get_order``)."""
        with self._lock:
            remembered = self._placed.get(client_order_id)
        pair = (pair or (remembered[0] if remembered else None) or "").upper() or None
        summary = self.lookup(summary_by_customer_id(client_order_id))
        if summary is not None:
            return self.from_summary(summary, client_order_id)
        for order in self.open_orders():
            if order.customer_order_id == client_order_id:
                return open_order_result(order, client_order_id)
        if pair is not None:
            status = self.lookup(status_by_customer_id(pair, client_order_id))
            if status is not None:
                return result_from_status(status, client_order_id, pair)
        if remembered is not None and remembered[1]:
            by_id = self.lookup(summary_by_order_id(remembered[1]))
            if by_id is not None:
                return self.from_summary(by_id, client_order_id)
            return OrderResult(
                client_order_id=client_order_id,
                exchange_order_id=remembered[1],
                status=OrderStatus.PENDING,
                pair=remembered[0],
                side="",
                reason="accepted by VALR (202), not visible in its order routes yet",
            )
        return None
