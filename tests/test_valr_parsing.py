"""The pure pieces of the VALR adapter, table-driven, without a database or a server:
VALR's JSON into ``OrderResult`` and records (``helios.exchange.valr.parsing``), the
classification of VALR's refusals (``errors``), ``Retry-After`` (``client``), path segments
(``routes``) and the signature over the prepared request (``signing``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import requests

from helios.exchange.base import OrderStatus
from helios.exchange.valr.client import parse_retry_after
from helios.exchange.valr.errors import (
    ValrAuthError,
    ValrRejected,
    ValrUnavailable,
    classify_refusal,
    said,
)
from helios.exchange.valr.parsing import (
    api_key_info,
    balances,
    decimal_or_none,
    fee_table,
    margin_enabled,
    open_orders,
    order_record,
    pair_table,
    parse_time,
    result_from_status,
    result_from_summary,
)
from helios.exchange.valr.routes import seg, status_by_customer_id, summary_by_customer_id
from helios.exchange.valr.signing import sign_prepared, sign_request

D = Decimal


def zar_pairs(pair: str) -> tuple[str, str]:
    return pair[:-3], pair[-3:]


def summary(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "orderId": "v-1",
        "customerOrderId": "c-1",
        "currencyPair": "BTCZAR",
        "orderSide": "BUY",
        "orderStatusType": "Filled",
        "totalExecutedQuantity": "0.01",
        "averagePrice": "1200000",
        "totalFee": "0.000035",
        "feeCurrency": "BTC",
        "orderCreatedAt": "2026-11-26T08:00:00.000Z",
    }
    item.update(fields)
    return {key: value for key, value in item.items() if value is not None}


# --- values -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.50", D("1.50")),
        (2, D(2)),
        ("", None),
        (None, None),
        ("abc", None),
        ("NaN", None),
        ("Infinity", None),
    ],
)
def test_decimal_or_none(value: Any, expected: Decimal | None):
    assert decimal_or_none(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T08:00:00.000Z", datetime(2026, 11, 26, 8, tzinfo=UTC)),
        ("2026-11-26T08:00:00", datetime(2026, 11, 26, 8, tzinfo=UTC)),  # naive: UTC
        (
            "2026-11-26T10:00:00+02:00",
            datetime(2026, 11, 26, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1764144000, None),
    ],
)
def test_parse_time(value: Any, expected: datetime | None):
    assert parse_time(value) == expected


# --- completed orders ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "status", "quantity", "price", "fee", "reason"),
    [
        # a BUY pays its fee in the coin bought: held = executed - fee; fee in ZAR at the price
        ({}, OrderStatus.FILLED, D("0.009965"), D("1200000"), D("42.00"), None),
        # a SELL pays in ZAR: the quantity is the executed one
        (
            {"orderSide": "SELL", "totalFee": "42", "feeCurrency": "ZAR"},
            OrderStatus.FILLED,
            D("0.01"),
            D("1200000"),
            D("42.00"),
            None,
        ),
        # no feeCurrency: the side decides (BUY -> base)
        ({"feeCurrency": None}, OrderStatus.FILLED, D("0.009965"), D("1200000"), D("42.00"), None),
        # no average price: total / executed
        (
            {"averagePrice": None, "total": "12000"},
            OrderStatus.FILLED,
            D("0.009965"),
            D("1200000"),
            D("42.00"),
            None,
        ),
        # a fee in a third currency: filled, fee unknown
        ({"feeCurrency": "USDC"}, OrderStatus.FILLED, D("0.01"), D("1200000"), None, None),
        # partly executed, then cancelled: filled for what executed, with the status as reason
        (
            {"orderStatusType": "Cancelled", "totalExecutedQuantity": "0.005"},
            OrderStatus.FILLED,
            D("0.004965"),
            D("1200000"),
            D("42.00"),
            "partly executed: VALR status Cancelled",
        ),
        (
            {"orderStatusType": "Failed", "failedReason": "Insufficient Balance"},
            OrderStatus.REJECTED,
            D(0),
            None,
            None,
            "VALR: Insufficient Balance",
        ),
        (
            {"orderStatusType": "Cancelled", "totalExecutedQuantity": "0", "failedReason": "x"},
            OrderStatus.REJECTED,
            D(0),
            None,
            None,
            "VALR: Cancelled with nothing executed (x)",
        ),
        ({"orderStatusType": "Active"}, OrderStatus.PENDING, None, None, None, "on VALR (Active)"),
    ],
)
def test_a_completed_order_becomes_its_result(
    fields: dict[str, Any],
    status: OrderStatus,
    quantity: Decimal | None,
    price: Decimal | None,
    fee: Decimal | None,
    reason: str | None,
):
    result = result_from_summary(summary(**fields), "ignored", zar_pairs)
    assert result.status is status
    assert result.client_order_id == "c-1"  # VALR's customerOrderId wins
    assert result.exchange_order_id == "v-1"
    assert (result.pair, result.side) == ("BTCZAR", fields.get("orderSide", "BUY"))
    if quantity is not None:
        assert result.quantity == quantity
    if price is not None:
        assert result.price == price
    if status is OrderStatus.FILLED:
        assert result.fee == fee
    assert result.reason == reason
    assert result.created_at == datetime(2026, 11, 26, 8, tzinfo=UTC)


def test_a_summary_without_a_customer_order_id_keeps_ours():
    assert result_from_summary(
        summary(customerOrderId=None), "ours", zar_pairs
    ).client_order_id == ("ours")


@pytest.mark.parametrize(
    ("item", "status", "reason", "pair"),
    [
        (
            {"orderStatusType": "Placed", "orderId": "v"},
            OrderStatus.PENDING,
            "on VALR (Placed)",
            "ETHZAR",
        ),
        ({"orderId": "v"}, OrderStatus.PENDING, "on VALR (status unknown)", "ETHZAR"),
        (
            {"orderStatusType": "Failed", "failedReason": "no", "currencyPair": "btczar"},
            OrderStatus.REJECTED,
            "VALR: no",
            "BTCZAR",
        ),
        ({"orderStatusType": "Failed"}, OrderStatus.REJECTED, "VALR: Failed", "ETHZAR"),
    ],
)
def test_the_status_route_gives_pending_or_rejected(
    item: dict[str, Any], status: OrderStatus, reason: str, pair: str
):
    result = result_from_status(item, "c-1", "ethzar")
    assert (result.status, result.reason, result.pair) == (status, reason, pair)


@pytest.mark.parametrize(
    ("item", "ok"),
    [
        ({"orderId": "v"}, True),
        ({"orderStatusType": "Filled"}, True),
        ({}, False),
        ([], False),
        (None, False),
        ({"orderId": ""}, False),
    ],
)
def test_an_order_record_must_look_like_one(item: Any, ok: bool):
    if ok:
        assert order_record(item, "/p") is item
    else:
        with pytest.raises(ValrUnavailable) as raised:
            order_record(item, "/p")
        assert raised.value.status == 200 and raised.value.ambiguous


# --- market and account -------------------------------------------------------------------------
PAIR = {
    "symbol": "BTCZAR",
    "active": True,
    "baseCurrency": "BTC",
    "quoteCurrency": "ZAR",
    "tickSize": "1",
    "baseDecimalPlaces": "8",
    "minBaseAmount": "0.0001",
    "maxBaseAmount": "2",
    "minQuoteAmount": "10",
    "maxQuoteAmount": "2000000",
    "currencyPairType": "SPOT",
}


@pytest.mark.parametrize(
    ("items", "symbols"),
    [
        ([PAIR], ["BTCZAR"]),
        ([PAIR, {**PAIR, "symbol": "BTCZARPERP", "currencyPairType": "FUTURE"}], ["BTCZAR"]),
        ([PAIR, {"symbol": "BROKEN"}, "junk"], ["BTCZAR"]),
        ([], []),
    ],
)
def test_the_pair_table_keeps_spot_pairs_and_skips_malformed_ones(items: Any, symbols: list[str]):
    assert sorted(pair_table(items)) == symbols


def test_a_pair_list_that_is_not_a_list_is_no_answer():
    with pytest.raises(ValrUnavailable):
        pair_table({"symbol": "BTCZAR"})


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [{"currencyPair": "btczar", "makerPercentage": "0.1", "takerPercentage": "0.35"}],
            {"BTCZAR": (D("0.001"), D("0.0035"))},
        ),
        ([{"currencyPair": "BTCZAR", "makerPercentage": "x"}], {}),
        ({"not": "a list"}, {}),
    ],
)
def test_fees_arrive_in_percent_and_become_fractions(items: Any, expected: dict[str, Any]):
    table = fee_table(items)
    assert {pair: (fee.maker, fee.taker) for pair, fee in table.items()} == expected


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"currency": "zar", "available": "100.5"}], {"ZAR": D("100.5")}),
        ([{"currency": {"symbol": "BTC"}, "available": "1"}], {"BTC": D(1)}),
        ([], {}),
    ],
)
def test_balances_are_the_available_amounts(items: Any, expected: dict[str, Decimal]):
    assert balances(items) == expected


@pytest.mark.parametrize("items", [None, {}, [{"currency": "ZAR"}], [{"available": "1"}]])
def test_malformed_balances_are_no_answer(items: Any):
    with pytest.raises(ValrUnavailable):
        balances(items)


def test_key_permissions_margin_status_and_open_orders():
    info = api_key_info({"label": "bot", "permissions": ["View access", "Trade"]})
    assert (info.label, info.can_view, info.can_trade, info.can_withdraw) == (
        "bot",
        True,
        True,
        False,
    )
    assert margin_enabled({"marginEnabled": True}) is True
    assert margin_enabled({}) is False
    (order,) = open_orders(
        [
            {
                "orderId": "v",
                "customerOrderId": "",
                "currencyPair": "btczar",
                "side": "sell",
                "price": "x",
                "remainingQuantity": "0.5",
            },
            "junk",
        ]
    )
    assert (order.customer_order_id, order.pair, order.side) == (None, "BTCZAR", "SELL")
    assert (order.price, order.remaining_quantity, order.created_at) == (None, D("0.5"), None)
    for reader in (api_key_info, margin_enabled, open_orders):
        with pytest.raises(ValrUnavailable):
            reader("not json of the right shape")


# --- refusals, retries, routes, signatures ------------------------------------------------------
FACTS = {"method": "GET", "path": "/v1/x"}


@pytest.mark.parametrize(
    ("status", "code", "message", "kind", "hint"),
    [
        (401, None, None, ValrAuthError, "check VALR_API_KEY and VALR_API_SECRET"),
        (403, None, None, ValrAuthError, "has the permission this needs"),
        (400, -11252, "Invalid signature", ValrAuthError, "the signature is invalid"),
        (400, -11272, None, ValrAuthError, "IP whitelist"),
        (400, -11268, None, ValrAuthError, "VALR got no API key"),
        (400, None, "Request has expired, timestamp too old", ValrAuthError, "machine's clock"),
        (400, -1, "Insufficient Balance", ValrRejected, "took no effect"),
        (404, None, None, ValrRejected, "took no effect"),
        (302, None, None, ValrUnavailable, "unexpected HTTP 302"),
    ],
)
def test_refusals_are_classified(
    status: int, code: int | None, message: str | None, kind: type, hint: str
):
    error = classify_refusal(status, code, message, FACTS)
    assert type(error) is kind
    assert hint in str(error)
    assert (error.status, error.code, error.valr_message) == (status, code, message)
    assert error.ambiguous is (kind is ValrUnavailable)


@pytest.mark.parametrize(
    ("message", "code", "expected"),
    [("Insufficient Balance", -1, "Insufficient Balance (code -1)"), (None, None, "ours")],
)
def test_what_valr_said(message: str | None, code: int | None, expected: str):
    error = ValrRejected("ours", method="POST", path="/p", code=code, valr_message=message)
    assert said(error) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None)],
)
def test_retry_after_in_seconds(header: str | None, expected: float | None):
    assert parse_retry_after(header) == expected


def test_retry_after_as_an_http_date():
    later = datetime.now(UTC) + timedelta(seconds=30)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 25 <= seconds <= 30
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc-123", "abc-123"), ("a/b", "a%2Fb"), ("a b?c", "a%20b%3Fc"), ("../x", "..%2Fx")],
)
def test_an_id_is_one_path_segment(value: str, expected: str):
    assert seg(value) == expected
    assert summary_by_customer_id(value).endswith("/" + expected)
    assert status_by_customer_id("btczar", value) == f"/v1/orders/BTCZAR/customerorderid/{expected}"


@pytest.mark.parametrize("subaccount", ["", "123"])
def test_the_prepared_request_is_signed_over_the_bytes_sent(subaccount: str):
    prepared = requests.Request(
        "POST",
        "https://api.valr.com/v1/orders/market?x=1",
        data=b'{"pair":"BTCZAR"}',
    ).prepare()
    sign_prepared(prepared, key="k", secret="s", timestamp="1700", subaccount_id=subaccount)
    expected = sign_request(
        "s", "1700", "POST", "/v1/orders/market?x=1", '{"pair":"BTCZAR"}', subaccount
    )
    assert prepared.headers["X-VALR-SIGNATURE"] == expected
    assert prepared.headers["X-VALR-API-KEY"] == "k"
    assert prepared.headers["X-VALR-TIMESTAMP"] == "1700"
    assert prepared.headers.get("X-VALR-SUB-ACCOUNT-ID") == (subaccount or None)
