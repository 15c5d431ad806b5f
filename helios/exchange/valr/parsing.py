"""Turning VALR's JSON into Helios' records: ``OrderResult``, ``PairRules``, ``TradeFee``,
``ApiKeyInfo``, ``OpenOrder`` and balances. Pure functions: no request, no state.

The rules it owns:

- A completed order (history summary, API §4.3) is FILLED with the quantity HELD: VALR's
  ``totalExecutedQuantity`` is gross, and the taker fee is charged in the currency VALR names
  in ``feeCurrency`` (by the side only when absent: a BUY pays in the base asset it receives,
  so the quantity held is executed minus fee; a SELL pays in ZAR). The fee is reported in ZAR;
  the price is VALR's average (else total / executed).
- ``Failed``, or completed with nothing executed, is REJECTED with VALR's reason; a status VALR
  is still working on (``OPEN_STATUSES``) is PENDING.
- Numbers arrive as strings; an unreadable number is "not given", never zero by accident; an
  answer of the wrong shape is a ``ValrUnavailable`` (no usable answer), never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from helios.exchange.base import OrderResult, OrderStatus
from helios.exchange.valr.account import ApiKeyInfo, OpenOrder, TradeFee
from helios.exchange.valr.errors import ValrUnavailable, malformed
from helios.exchange.valr.pairs import PairRules
from helios.exchange.valr.routes import (
    API_KEY_PATH,
    BALANCES_PATH,
    MARGIN_STATUS_PATH,
    OPEN_ORDERS_PATH,
    PAIRS_PATH,
    logger,
)
from helios.money import ZERO, qty, zar
from helios.money import price as as_price

log = logger()

# statuses of an order VALR is still working on (API §4.3, §6)
OPEN_STATUSES = frozenset(
    {"Placed", "Active", "Partially Filled", "Order Modified", "Instant Order Balance Reserved"}
)


# --- values -----------------------------------------------------------------------------------
def decimal_or_none(value: Any) -> Decimal | None:
    """A finite ``Decimal`` from VALR's number (a string, usually), None when absent or not a
    finite number."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from VALR's ISO time (``Z`` or an offset; naive taken as UTC), None when
    absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- market and account -----------------------------------------------------------------------
def pair_table(items: Any) -> dict[str, PairRules]:
    """``GET /v1/public/pairs``: the SPOT pairs by symbol; a malformed entry is skipped (logged)."""
    if not isinstance(items, list):
        raise ValrUnavailable(
            f"expected a list of pairs, got {type(items).__name__}",
            method="GET",
            path=PAIRS_PATH,
        )
    table: dict[str, PairRules] = {}
    for item in items:
        if isinstance(item, dict) and item.get("currencyPairType", "SPOT") == "SPOT":
            try:
                rules = PairRules.from_valr(item)
            except ValueError as exc:
                log.warning("VALR pair list: %s (skipped)", exc)
                continue
            table[rules.symbol] = rules
    return table


def fee_table(items: Any) -> dict[str, TradeFee]:
    """``GET /v1/account/fees/trade``: the fees per pair as fractions (VALR sends percent); a
    malformed entry is skipped (logged), an answer that is not a list gives no fees."""
    table: dict[str, TradeFee] = {}
    for item in items if isinstance(items, list) else []:
        try:
            pair = str(item["currencyPair"]).upper()
            table[pair] = TradeFee(
                pair,
                Decimal(str(item["makerPercentage"])) / 100,
                Decimal(str(item["takerPercentage"])) / 100,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            log.warning("VALR fees: malformed entry %r (skipped)", item)
    return table


def balances(items: Any) -> dict[str, Decimal]:
    """``GET /v1/account/balances``: the AVAILABLE balance per currency."""
    if not isinstance(items, list):
        raise malformed("GET", BALANCES_PATH, items)
    result: dict[str, Decimal] = {}
    for item in items:
        try:
            currency = item["currency"]
            if isinstance(currency, dict):  # the WebSocket form, just in case
                currency = currency["symbol"]
            result[str(currency).upper()] = Decimal(str(item["available"]))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise malformed("GET", BALANCES_PATH, item) from None
    return result


def api_key_info(item: Any) -> ApiKeyInfo:
    """``GET /v1/account/api-keys/current``: what the configured key may do."""
    if not isinstance(item, dict):
        raise malformed("GET", API_KEY_PATH, item)
    permissions = item.get("permissions") or []
    return ApiKeyInfo(
        label=str(item.get("label", "")),
        permissions=tuple(str(p) for p in permissions),
        is_sub_account=bool(item.get("isSubAccount", False)),
        allowed_ip_cidr=item.get("allowedIpAddressCidr"),
        added_at=item.get("addedAt"),
    )


def margin_enabled(item: Any) -> bool:
    """``GET /v1/margin/account/status``: whether margin is enabled on the account."""
    if not isinstance(item, dict):
        raise malformed("GET", MARGIN_STATUS_PATH, item)
    return bool(item.get("marginEnabled", False))


def open_orders(items: Any) -> list[OpenOrder]:
    """``GET /v1/orders/open``: the orders VALR is still working on."""
    if not isinstance(items, list):
        raise malformed("GET", OPEN_ORDERS_PATH, items)
    return [
        OpenOrder(
            order_id=str(item.get("orderId", "")),
            customer_order_id=item.get("customerOrderId") or None,
            pair=str(item.get("currencyPair", "")).upper(),
            side=str(item.get("side", "")).upper(),
            status=str(item.get("status", "")),
            type=str(item.get("type", "")),
            price=decimal_or_none(item.get("price")),
            original_quantity=decimal_or_none(item.get("originalQuantity")),
            remaining_quantity=decimal_or_none(item.get("remainingQuantity")),
            created_at=parse_time(item.get("createdAt")),
        )
        for item in items
        if isinstance(item, dict)
    ]


# --- orders -----------------------------------------------------------------------------------
def order_record(item: Any, path: str) -> dict[str, Any]:
    """The record of one order (a dict with an ``orderId`` or an ``orderStatusType``), or
    ``ValrUnavailable`` for any other answer."""
    if not isinstance(item, dict) or not (item.get("orderId") or item.get("orderStatusType")):
        raise malformed("GET", path, item)
    return item


def open_order_result(order: OpenOrder, coid: str) -> OrderResult:
    """An order in ``GET /v1/orders/open``: PENDING."""
    return OrderResult(
        client_order_id=coid,
        exchange_order_id=order.order_id,
        status=OrderStatus.PENDING,
        pair=order.pair,
        side=order.side,
        reason=f"open on VALR ({order.status})",
        created_at=order.created_at,
    )


def result_from_status(item: dict[str, Any], coid: str, pair: str) -> OrderResult:
    """An order from the status route: REJECTED when ``Failed``, else PENDING (the status route
    is asked only for orders not completed yet)."""
    status = str(item.get("orderStatusType", ""))
    side = str(item.get("orderSide", "")).upper()
    order_id = str(item.get("orderId")) if item.get("orderId") else None
    created = parse_time(item.get("orderCreatedAt"))
    symbol = str(item.get("currencyPair") or pair).upper()
    if status == "Failed":
        return OrderResult(
            client_order_id=coid,
            exchange_order_id=order_id,
            status=OrderStatus.REJECTED,
            pair=symbol,
            side=side,
            quantity=ZERO,
            reason=f"VALR: {item.get('failedReason') or 'Failed'}",
            created_at=created,
        )
    return OrderResult(
        client_order_id=coid,
        exchange_order_id=order_id,
        status=OrderStatus.PENDING,
        pair=symbol,
        side=side,
        reason=f"on VALR ({status or 'status unknown'})",
        created_at=created,
    )


def result_from_summary(
    item: dict[str, Any], coid: str, currencies: Callable[[str], tuple[str, str]]
) -> OrderResult:
    """A completed order (history summary) as an ``OrderResult``: quantity held after the
    fee, average price, fee in ZAR. ``currencies(pair)`` gives the pair's (base, quote)."""
    status = str(item.get("orderStatusType", ""))
    pair = str(item.get("currencyPair", "")).upper()
    side = str(item.get("orderSide", "")).upper()
    order_id = str(item.get("orderId")) if item.get("orderId") else None
    created = parse_time(item.get("orderCreatedAt"))
    coid = str(item.get("customerOrderId") or coid)
    common: dict[str, Any] = {
        "client_order_id": coid,
        "exchange_order_id": order_id,
        "pair": pair,
        "side": side,
        "created_at": created,
    }
    if status in OPEN_STATUSES:
        return OrderResult(status=OrderStatus.PENDING, reason=f"on VALR ({status})", **common)
    failed_reason = str(item.get("failedReason") or "")
    if status == "Failed":
        return OrderResult(
            status=OrderStatus.REJECTED,
            quantity=ZERO,
            reason=f"VALR: {failed_reason or 'Failed'}",
            **common,
        )
    executed = decimal_or_none(item.get("totalExecutedQuantity")) or ZERO
    if executed <= 0:
        why = f" ({failed_reason})" if failed_reason else ""
        return OrderResult(
            status=OrderStatus.REJECTED,
            quantity=ZERO,
            reason=f"VALR: {status or 'completed'} with nothing executed{why}",
            **common,
        )
    average = decimal_or_none(item.get("averagePrice")) or ZERO
    if average <= 0:
        total = decimal_or_none(item.get("total")) or ZERO
        average = total / executed
    fee = decimal_or_none(item.get("totalFee")) or ZERO
    base_ccy, quote_ccy = currencies(pair)
    fee_ccy = str(item.get("feeCurrency") or (base_ccy if side == "BUY" else quote_ccy))
    fee_ccy = fee_ccy.upper()
    quantity = executed
    fee_zar: Decimal | None
    if fee_ccy == base_ccy:  # a taker BUY pays in the base asset it receives
        quantity = executed - fee
        fee_zar = fee * average
    elif fee_ccy == quote_ccy:  # a taker SELL pays in ZAR
        fee_zar = fee
    else:
        log.warning(
            "VALR order %s: fee in %s, neither %s nor %s",
            order_id,
            fee_ccy,
            base_ccy,
            quote_ccy,
        )
        fee_zar = None
    reason = None if status == "Filled" else f"partly executed: VALR status {status}"
    return OrderResult(
        status=OrderStatus.FILLED,
        quantity=qty(quantity),
        price=as_price(average),
        fee=zar(fee_zar) if fee_zar is not None else None,
        reason=reason,
        **common,
    )
