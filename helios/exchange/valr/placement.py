"""``OrderPlacer``: placing a market order on VALR exactly once.

The rules it owns:

- Checked before anything is sent: the pair rules (``PairRules.check_market_order``, at the
  market price when known), margin only where VALR allows it, and a BUY by base amount (covering
  a short) grossed up by the taker fee VALR takes in the coin bought.
- ``customerOrderId`` is unique only among OPEN orders on VALR (API §5): a market order closes
  at once, so VALR would accept the same id again and fill twice. The id is therefore looked up
  BEFORE placing, and a known order is returned (``duplicate=True``), never placed again; if
  VALR cannot be asked, the order is not placed.
- After an AMBIGUOUS failure (a read timeout, a 5xx, a connection dropped after sending) the
  order may exist, so it is looked up by its ``customerOrderId``; only when VALR says for
  ``unknown_confirm_seconds`` that it does not know the id is it placed again, ONCE. If the
  look-up itself fails the ambiguous error is raised: never resent blind. A refusal is REJECTED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from helios.errors import InvalidInput
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus, Side
from helios.exchange.valr.catalog import PairCatalog
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.errors import ValrError, ValrRejected, ValrUnavailable, said
from helios.exchange.valr.fills import FillPoller, OrderTiming
from helios.exchange.valr.lookup import OrderLookup
from helios.exchange.valr.pairs import gross_for_fee
from helios.exchange.valr.routes import MARKET_ORDER_PATH, MODE, logger

log = logger()


class OrderPlacer:
    """Places market orders by ``customerOrderId``; ``market_price(pair)`` gives the latest
    known price (or None) for the minimum checks."""

    def __init__(
        self,
        client: ValrClient,
        catalog: PairCatalog,
        lookup: OrderLookup,
        fills: FillPoller,
        timing: OrderTiming,
        market_price: Callable[[str], Decimal | None],
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.lookup = lookup
        self.fills = fills
        self.timing = timing
        self.market_price = market_price

    def submit(self, request: OrderRequest) -> OrderResult:
        """Place a market order and wait (up to ``valr_fill_wait_seconds``) for its fill.

        InvalidInput before anything is sent (pair rules). An order VALR already knows under
        the client order id is returned (``duplicate=True``), never placed again. A definitive
        refusal is REJECTED; an order accepted whose fill is not known in time is PENDING.
        Raises ``ValrUnavailable`` when the order may exist but VALR cannot be asked,
        ``ValrRateLimited``/``ValrAuthError`` when VALR refused to take it."""
        request = request.validated()
        rules = self.catalog.pair_rules(request.pair)
        market_price = self.market_price(request.pair)
        asked = request.base_amount
        if request.side is Side.BUY and asked is not None:
            # A BUY by base amount covers a short: VALR takes its taker fee in the coin bought,
            # so ask for enough that what arrives, net of the fee, covers the amount (rounded
            # UP to the pair's decimals), or the short would stay open by the fee.
            fee = self.catalog.taker_fee(request.pair)
            asked = gross_for_fee(asked, fee, rules.base_decimal_places)
        base, quote = rules.check_market_order(
            base_amount=asked, quote_amount=request.quote_amount, price=market_price
        )
        if request.margin and not rules.margin_trading_allowed:
            raise InvalidInput(
                "margin",
                True,
                f"False on {rules.symbol}: VALR does not allow margin trading on it",
            )
        try:
            known = self.lookup.find(request.client_order_id, request.pair)
        except ValrUnavailable as exc:
            raise ValrUnavailable(
                f"could not ask VALR whether it already knows customerOrderId="
                f"{request.client_order_id} ({exc.detail}): the order was NOT placed",
                sent=False,
                method=exc.method,
                path=exc.path,
                status=exc.status,
                code=exc.code,
                valr_message=exc.valr_message,
            ) from None
        if known is not None:
            log.info(
                "mode=%s VALR already knows customerOrderId=%s (VALR id %s, %s): not placed again",
                MODE,
                request.client_order_id,
                known.exchange_order_id,
                known.status.value,
            )
            self.lookup.remember(request.client_order_id, request.pair, known.exchange_order_id)
            return replace(self.fills.follow(known, request), duplicate=True)
        body: dict[str, Any] = {"side": request.side.value, "pair": rules.symbol}
        if base is not None:
            body["baseAmount"] = format(base, "f")
        else:
            assert quote is not None
            body["quoteAmount"] = format(quote, "f")
        body["customerOrderId"] = request.client_order_id
        if request.margin:
            body["allowMargin"] = True
        return self._place(request, body)

    def _place(self, request: OrderRequest, body: dict[str, Any]) -> OrderResult:
        coid = request.client_order_id
        amount = body.get("baseAmount") or body.get("quoteAmount")
        amount_kind = "baseAmount" if "baseAmount" in body else "quoteAmount"
        for sending in (1, 2):
            log.info(
                "mode=%s sending VALR market order: %s %s %s=%s customerOrderId=%s%s%s",
                MODE,
                request.side.value,
                body["pair"],
                amount_kind,
                amount,
                coid,
                " allowMargin=true" if request.margin else "",
                " (placed again: VALR did not know it)" if sending == 2 else "",
            )
            try:
                answer = self.client.post(MARKET_ORDER_PATH, body)
                if not isinstance(answer, dict) or not answer.get("id"):
                    raise ValrUnavailable(
                        f"VALR accepted without an order id ({answer!r})",
                        method="POST",
                        path=MARKET_ORDER_PATH,
                        status=202,
                    )
            except ValrRejected as exc:
                log.warning(
                    "mode=%s VALR refused market order customerOrderId=%s: %s", MODE, coid, exc
                )
                return self._rejected(request, f"VALR refused the order: {said(exc)}")
            except ValrUnavailable as exc:
                if not exc.sent:
                    raise  # the connection was never made: nothing was placed
                found = self._recover(request, exc)
                if found is not None:
                    return self.fills.follow(found, request)
                if sending == 2:
                    raise ValrUnavailable(
                        f"the order's answer was lost twice ({exc.detail}) and VALR does not "
                        "know it: not sent a third time; reconcile settles it",
                        method="POST",
                        path=MARKET_ORDER_PATH,
                        status=exc.status,
                        code=exc.code,
                        valr_message=exc.valr_message,
                    ) from None
                continue
            order_id = str(answer["id"])
            log.info(
                "mode=%s VALR market order placed: %s %s %s=%s customerOrderId=%s VALR orderId=%s",
                MODE,
                request.side.value,
                body["pair"],
                amount_kind,
                amount,
                coid,
                order_id,
            )
            self.lookup.remember(coid, request.pair, order_id)
            return self.fills.await_fill(request, order_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _recover(self, request: OrderRequest, error: ValrUnavailable) -> OrderResult | None:
        """After an ambiguous failure: the order if VALR knows it, None if VALR says (for
        ``unknown_confirm_seconds``) that it does not. Raises the ambiguous error when the
        look-up itself fails."""
        coid = request.client_order_id
        log.warning(
            "mode=%s VALR market order customerOrderId=%s: answer lost (%s); looking it up "
            "before anything else",
            MODE,
            coid,
            error,
        )
        deadline = self.client.monotonic() + self.timing.unknown_confirm_seconds
        while True:
            try:
                found = self.lookup.find(coid, request.pair)
            except ValrError as lookup:
                log.error(
                    "mode=%s customerOrderId=%s: the order may exist on VALR and the look-up "
                    "failed (%s): not resent",
                    MODE,
                    coid,
                    lookup,
                )
                raise ValrUnavailable(
                    f"the order may exist on VALR ({error.detail}) and looking it up by "
                    f"customerOrderId failed ({lookup}): not resent; reconcile settles it",
                    method="POST",
                    path=MARKET_ORDER_PATH,
                    status=error.status,
                    code=error.code,
                    valr_message=error.valr_message,
                ) from None
            if found is not None:
                log.info(
                    "mode=%s customerOrderId=%s found on VALR after the lost answer: "
                    "VALR orderId=%s (%s)",
                    MODE,
                    coid,
                    found.exchange_order_id,
                    found.status.value,
                )
                self.lookup.remember(coid, request.pair, found.exchange_order_id)
                return found
            if self.client.monotonic() >= deadline:
                log.warning(
                    "mode=%s customerOrderId=%s: VALR does not know it; safe to place again",
                    MODE,
                    coid,
                )
                return None
            self.client.sleep(self.timing.poll_interval_seconds)

    def _rejected(self, request: OrderRequest, reason: str) -> OrderResult:
        return OrderResult(
            client_order_id=request.client_order_id,
            exchange_order_id=None,
            status=OrderStatus.REJECTED,
            pair=request.pair,
            side=request.side.value,
            reason=reason,
        )
