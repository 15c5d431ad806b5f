"""``FillPoller``: the fill of an order VALR accepted, found by polling.

The rule it owns: VALR answers a market order with a 202 and an id, not a fill; the history
summary answers only once the order is completed (a 4xx before that means "not yet"), so the
summary is polled every ``poll_interval_seconds`` until ``fill_wait_seconds`` (the setting
``valr_fill_wait_seconds``) and the order is returned PENDING if still not known: never
REJECTED for being slow, since it may fill; the reconciliation settles it later. Every outcome
is logged (``mode=LIVE``), without keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from helios.exchange.base import OrderRequest, OrderResult, OrderStatus
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.errors import ValrError
from helios.exchange.valr.lookup import OrderLookup
from helios.exchange.valr.routes import MODE, logger, summary_by_order_id

log = logger()


@dataclass
class OrderTiming:
    """How long the order collaborators wait (mutable: ``ValrExchange``'s attributes of the same
    names read and set these, so a caller tuning them after construction is obeyed)."""

    fill_wait_seconds: float
    poll_interval_seconds: float = 0.25
    unknown_confirm_seconds: float = 1.0


class FillPoller:
    """Waits for the fill of an order VALR accepted."""

    def __init__(self, client: ValrClient, lookup: OrderLookup, timing: OrderTiming) -> None:
        self.client = client
        self.lookup = lookup
        self.timing = timing

    def follow(self, found: OrderResult, request: OrderRequest) -> OrderResult:
        """``found`` if final; its fill awaited if it is PENDING with a VALR id."""
        if found.status is OrderStatus.PENDING and found.exchange_order_id:
            return self.await_fill(request, found.exchange_order_id)
        return found

    def await_fill(self, request: OrderRequest, order_id: str) -> OrderResult:
        """The order FILLED/REJECTED once its summary says so, or PENDING after
        ``fill_wait_seconds`` (with the last look-up failure, if any, in its reason)."""
        coid = request.client_order_id
        deadline = self.client.monotonic() + self.timing.fill_wait_seconds
        path = summary_by_order_id(order_id)
        problem = ""
        while True:
            try:
                summary = self.lookup.lookup(path)
            except ValrError as exc:
                summary, problem = None, f"; last look-up failed: {exc}"
            if summary is not None:
                result = self.lookup.from_summary(summary, coid)
                if result.status is not OrderStatus.PENDING:
                    log_outcome(result)
                    return result
            remaining = deadline - self.client.monotonic()
            if remaining <= 0:
                log.warning(
                    "mode=%s VALR orderId=%s customerOrderId=%s: fill not known after %.1f s; "
                    "PENDING%s",
                    MODE,
                    order_id,
                    coid,
                    self.timing.fill_wait_seconds,
                    problem,
                )
                return OrderResult(
                    client_order_id=coid,
                    exchange_order_id=order_id,
                    status=OrderStatus.PENDING,
                    pair=request.pair,
                    side=request.side.value,
                    reason=f"accepted by VALR, fill not known after "
                    f"{self.timing.fill_wait_seconds:g} s{problem}",
                )
            self.client.sleep(min(self.timing.poll_interval_seconds, remaining))


def log_outcome(result: OrderResult) -> None:
    """One line per final order: the fill (quantity, price, fee) or why it did not fill."""
    if result.status is OrderStatus.FILLED:
        log.info(
            "mode=%s VALR order filled: %s %s quantity=%s price=%s fee=R%s "
            "customerOrderId=%s VALR orderId=%s%s",
            MODE,
            result.side,
            result.pair,
            result.quantity,
            result.price,
            result.fee,
            result.client_order_id,
            result.exchange_order_id,
            f" ({result.reason})" if result.reason else "",
        )
    else:
        log.warning(
            "mode=%s VALR order %s: %s customerOrderId=%s VALR orderId=%s",
            MODE,
            result.status.value,
            result.reason,
            result.client_order_id,
            result.exchange_order_id,
        )
