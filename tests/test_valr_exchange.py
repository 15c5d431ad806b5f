"""LIVE trading on VALR (issue #8): the signed client, the pair rules and the exchange adapter,
against the fake VALR on 127.0.0.1 (``tests/fakes/valr.py``). No database, never the internet.

The fake fills a market order 0.05 s after its 202, at the price the test sets, charging the
taker fee as VALR does (a BUY pays it in the coin it receives, a SELL in ZAR).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from fakes.valr import MARKET_ORDER_PATH, FakeValr, Reply

from helios.clock import ManualClock
from helios.config import Settings, load_settings
from helios.errors import HeliosError, InvalidInput
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus
from helios.exchange.valr import (
    PairRules,
    ValrAuthError,
    ValrClient,
    ValrError,
    ValrExchange,
    ValrRateLimited,
    ValrRejected,
    ValrUnavailable,
    gross_for_fee,
    round_quote_down,
    round_to_tick,
    sign_request,
    truncate_base,
)

D = Decimal
KEY = "4b1d9e5ac0ffee11" * 4  # 64 characters, easy to find if it leaks
SECRET = "5ecre7c0de5ecre7" * 4
DOC_SECRET = "4961b74efac86b25cce8fbe4c9811c4c7a787b7a5996660afcc2e287ad864363"
BTC = D("1200000")
SUMMARY_BY_COID = "/v1/orders/history/summary/customerorderid/"
SUMMARY_BY_ID = "/v1/orders/history/summary/orderid/"


class Sleeps:
    """The injected sleep: records every wait and sleeps a little (the fake fills in real
    time), never the full backoff."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        import time

        time.sleep(min(seconds, 0.02))


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr(api_key=KEY, api_secret=SECRET) as server:
        server.set_price("BTCZAR", BTC)
        server.set_price("ETHZAR", "60000")
        server.set_balance("ZAR", "100000")
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def live_settings(fake: FakeValr, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "valr_base_url": fake.url,
        "valr_api_key": KEY,
        "valr_api_secret": SECRET,
        "valr_timeout_seconds": 2.0,
        "valr_fill_wait_seconds": 3.0,
        "valr_max_retries": 3,
        "valr_backoff_seconds": 0.01,
    }
    values.update(overrides)
    return load_settings(**values)


def venue(
    fake: FakeValr,
    sleeps: Sleeps,
    *,
    clock: Any = None,
    session: requests.Session | None = None,
    price_source: Any = None,
    **overrides: Any,
) -> ValrExchange:
    settings = live_settings(fake, **overrides)
    client = ValrClient(settings, sleep=sleeps, jitter=lambda: 0.5, clock=clock, session=session)
    return ValrExchange(
        settings,
        client=client,
        price_source=price_source,
        poll_interval_seconds=0.02,
        unknown_confirm_seconds=0.1,
    )


def order(coid: str, side: str = "BUY", pair: str = "BTCZAR", **amount: Any) -> OrderRequest:
    return OrderRequest.build(coid, pair, side, **amount)


def posts(fake: FakeValr) -> list[dict[str, Any]]:
    return [request.json() for request in fake.requests_to(MARKET_ORDER_PATH, "POST")]


# --- signing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "verb", "path", "body", "expected"),
    [
        (
            1558014486185,
            "GET",
            "/v1/account/balances",
            "",
            "9d52c181ed69460b49307b7891f04658e938b21181173844b5018b2fe783a6d4"
            "c62b8e67a03de4d099e7437ebfabe12c56233b73c6a0cc0f7ae87e05f6289928",
        ),
        (
            "1558017528946",
            "POST",
            "/v1/orders/market",
            '{"customerOrderId":"ORDER-000001","pair":"BTCUSDC","side":"BUY","quoteAmount":"80000"}',
            "09f536e3dfdad58443f16010a97a0a21ad27486b7b8d6d4103170d885410ed77"
            "f037f1fa628474190d4f5c08ca12c1acc850901f1c2e75c6d906ec3b32b008d0",
        ),
    ],
    ids=["GET balances", "POST market order"],
)
def test_the_two_documented_signature_vectors_are_reproduced(
    timestamp: Any, verb: str, path: str, body: str, expected: str
):
    assert sign_request(DOC_SECRET, timestamp, verb, path, body) == expected
    assert sign_request(DOC_SECRET, timestamp, verb.lower(), path, body) == expected


def test_the_subaccount_id_is_part_of_the_signed_text_and_goes_in_its_header(
    fake: FakeValr, sleeps: Sleeps
):
    plain = sign_request(DOC_SECRET, 1, "GET", "/v1/account/balances")
    with_sub = sign_request(DOC_SECRET, 1, "GET", "/v1/account/balances", "", "1234567")
    assert with_sub != plain
    manual = hmac.new(
        DOC_SECRET.encode(), b"1GET/v1/account/balances1234567", hashlib.sha512
    ).hexdigest()
    assert with_sub == manual

    exchange = venue(fake, sleeps, valr_subaccount_id="1234567")
    assert exchange.balances()["ZAR"] == D("100000")
    sent = fake.requests_to("/v1/account/balances")[-1]
    assert sent.headers["x-valr-sub-account-id"] == "1234567"
    assert len(sent.headers["x-valr-signature"]) == 128


def test_a_query_string_is_signed_as_sent(fake: FakeValr, sleeps: Sleeps):
    client = venue(fake, sleeps).client
    items = client.get("/v1/account/balances", {"excludeZeroBalances": "true"})
    assert [item["currency"] for item in items] == ["ZAR"]
    assert fake.requests_to("/v1/account/balances")[-1].target == (
        "/v1/account/balances?excludeZeroBalances=true"
    )


# --- the fake refuses badly signed requests, the client says why ----------------------------------


def test_a_wrong_secret_is_refused_with_code_11252_and_the_operator_told_what_to_check(
    fake: FakeValr, sleeps: Sleeps
):
    exchange = venue(fake, sleeps, valr_api_secret="not-the-secret-of-this-key")
    with pytest.raises(ValrAuthError) as caught:
        exchange.balances()
    error = caught.value
    assert (error.status, error.code) == (401, -11252)
    assert error.valr_message == "Request has an invalid signature"
    assert (error.method, error.path) == ("GET", "/v1/account/balances")
    assert "VALR_API_SECRET is the secret of VALR_API_KEY" in str(error)
    assert "not-the-secret-of-this-key" not in str(error)
    assert KEY not in str(error)
    assert len(fake.requests_to("/v1/account/balances")) == 1  # an auth error is not retried


def test_a_stale_timestamp_is_refused_and_reported_as_a_clock_problem(
    fake: FakeValr, sleeps: Sleeps
):
    slow_clock = ManualClock(datetime.now(UTC) - timedelta(seconds=60))
    exchange = venue(fake, sleeps, clock=slow_clock)
    with pytest.raises(ValrAuthError) as caught:
        exchange.balances()
    assert caught.value.status == 401
    assert "outside the allowed window" in (caught.value.valr_message or "")
    assert "check this machine's clock" in str(caught.value)

    slow_clock.set(datetime.now(UTC) - timedelta(seconds=3))  # inside the fake's 5 s window
    assert exchange.balances()["ZAR"] == D("100000")


class _DropHeader(requests.Session):
    """A session that loses one header on the way out (to provoke the fake)."""

    def __init__(self, header: str) -> None:
        super().__init__()
        self.header = header

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.headers.pop(self.header, None)
        return super().send(request, **kwargs)


def test_a_post_without_a_json_content_type_is_refused_with_403_and_no_order_exists(
    fake: FakeValr, sleeps: Sleeps
):
    signed = sign_request(SECRET, 0, "POST", MARKET_ORDER_PATH, "{}")
    raw = requests.post(
        fake.url + MARKET_ORDER_PATH,
        data=b"{}",
        headers={"X-VALR-API-KEY": KEY, "X-VALR-SIGNATURE": signed, "X-VALR-TIMESTAMP": "0"},
        timeout=5,
    )
    assert raw.status_code == 403

    exchange = venue(fake, sleeps, session=_DropHeader("Content-Type"))
    with pytest.raises(ValrAuthError) as caught:
        exchange.submit_market_order(order("ct-1", quote_amount="1000"))
    assert caught.value.status == 403
    assert "application/json" in str(caught.value)
    assert fake.orders_placed() == 0


def test_a_missing_api_key_is_refused_with_403_code_11268(fake: FakeValr, sleeps: Sleeps):
    raw = requests.get(fake.url + "/v1/account/balances", timeout=5)
    assert raw.status_code == 403
    assert raw.json()["code"] == -11268

    exchange = venue(fake, sleeps, session=_DropHeader("X-VALR-API-KEY"))
    with pytest.raises(ValrAuthError) as caught:
        exchange.balances()
    assert (caught.value.status, caught.value.code) == (403, -11268)
    assert "set VALR_API_KEY" in str(caught.value)


def test_without_keys_nothing_private_is_sent(fake: FakeValr, sleeps: Sleeps):
    exchange = venue(fake, sleeps, valr_api_key="", valr_api_secret="")
    with pytest.raises(ValrAuthError, match="no VALR API key is configured"):
        exchange.balances()
    assert fake.requests_to("/v1/account/balances") == []


# --- market orders end to end ---------------------------------------------------------------------


def test_a_R1000_BUY_fills_and_reports_the_coins_held_after_the_fee_and_the_fee_in_rand(
    fake: FakeValr, sleeps: Sleeps
):
    exchange = venue(fake, sleeps)
    result = exchange.submit_market_order(order("pos-1-open", quote_amount="1000"))

    assert posts(fake) == [
        {"side": "BUY", "pair": "BTCZAR", "quoteAmount": "1000.00", "customerOrderId": "pos-1-open"}
    ]
    placed = fake.orders()
    assert len(placed) == 1
    # R1000 / R1,200,000 = 0.00083333 BTC (8 places, cut); 0.35% taker fee in BTC: 0.00000292
    assert placed[0].executed_quantity == D("0.00083333")
    assert placed[0].fee == D("0.00000292")
    assert placed[0].fee_currency == "BTC"
    assert result.status is OrderStatus.FILLED
    assert result.exchange_order_id == placed[0].order_id
    assert result.quantity == D("0.00083041")  # what the account now holds
    assert result.price == BTC
    assert result.fee == D("3.504")  # 0.00000292 BTC x R1,200,000
    assert (result.pair, result.side, result.duplicate) == ("BTCZAR", "BUY", False)
    assert result.reason is None
    assert fake.balance("BTC") == D("0.00083041")
    assert fake.balance("ZAR") == D("100000") - D("0.00083333") * BTC
    assert len(fake.requests_to(SUMMARY_BY_ID + placed[0].order_id)) >= 1  # the fill was polled


def test_a_SELL_of_a_quarter_bitcoin_fills_with_the_fee_in_rand(fake: FakeValr, sleeps: Sleeps):
    fake.set_balance("BTC", "0.5")
    fake.set_price("BTCZAR", "1180000")
    exchange = venue(fake, sleeps)
    result = exchange.submit_market_order(order("pos-2-close", "SELL", base_amount="0.25"))

    assert posts(fake)[0] == {
        "side": "SELL",
        "pair": "BTCZAR",
        "baseAmount": "0.25000000",
        "customerOrderId": "pos-2-close",
    }
    assert result.status is OrderStatus.FILLED
    assert result.quantity == D("0.25")
    assert result.price == D("1180000")
    assert result.fee == D("1032.5")  # R295,000 x 0.35%
    assert fake.balance("BTC") == D("0.25")
    assert fake.balance("ZAR") == D("100000") + D("295000") - D("1032.5")


def test_an_order_not_filled_within_the_wait_is_PENDING_and_a_resubmit_returns_its_fill(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fill_delay_seconds = 0.3
    exchange = venue(fake, sleeps, valr_fill_wait_seconds=0)
    first = exchange.submit_market_order(order("pos-3-open", quote_amount="500"))
    assert first.status is OrderStatus.PENDING
    assert first.exchange_order_id == fake.orders()[0].order_id

    assert exchange.get_order("pos-3-open").status is OrderStatus.PENDING  # type: ignore[union-attr]
    fake.wait_settled()
    again = venue(fake, sleeps).submit_market_order(order("pos-3-open", quote_amount="500"))
    assert again.status is OrderStatus.FILLED
    assert again.duplicate is True
    assert again.exchange_order_id == first.exchange_order_id
    assert fake.orders_placed() == 1
    assert len(posts(fake)) == 1


def test_a_partial_IOC_fill_reports_the_executed_quantity(fake: FakeValr, sleeps: Sleeps):
    fake.partial_fill_next("0.5")
    result = venue(fake, sleeps).submit_market_order(order("pos-4-open", base_amount="0.01"))
    assert result.status is OrderStatus.FILLED
    # a BUY by base amount asks for 0.01 net of the fee (0.01003513 gross); half of it executed
    # arrives as half of 0.01, give or take the 8th decimal of the fee
    assert abs(result.quantity - D("0.005")) <= D("0.00000002")  # type: ignore[operator]
    assert result.reason == "partly executed: VALR status Cancelled"


# --- lost answers: never two orders ---------------------------------------------------------------


def test_an_order_whose_202_times_out_is_found_by_its_id_and_a_resubmit_places_nothing(
    fake: FakeValr, sleeps: Sleeps
):
    fake.accept_then_timeout_next(seconds=3.0)
    exchange = venue(fake, sleeps, valr_timeout_seconds=0.3)
    result = exchange.submit_market_order(order("pos-5-open", quote_amount="1000"))

    placed = fake.orders()
    assert len(placed) == 1
    assert result.status is OrderStatus.FILLED
    assert result.exchange_order_id == placed[0].order_id
    assert result.quantity == D("0.00083041")
    assert result.fee == D("3.504")
    assert len(posts(fake)) == 1  # looked up, never resent

    again = exchange.submit_market_order(order("pos-5-open", quote_amount="1000"))
    assert again.duplicate is True
    assert (again.exchange_order_id, again.quantity) == (result.exchange_order_id, result.quantity)
    assert fake.orders_placed() == 1
    assert len(posts(fake)) == 1


def test_a_connection_dropped_after_the_order_was_taken_is_looked_up_not_resent(
    fake: FakeValr, sleeps: Sleeps
):
    fake.drop_next(method="POST", path=MARKET_ORDER_PATH)
    result = venue(fake, sleeps).submit_market_order(order("pos-6-open", quote_amount="1000"))
    assert result.status is OrderStatus.FILLED
    assert result.exchange_order_id == fake.orders()[0].order_id
    assert fake.orders_placed() == 1
    assert len(posts(fake)) == 1


@pytest.mark.parametrize(
    "unknown",
    [Reply.error(400, -1, "Invalid Order. "), Reply.error(404, -1, "Not Found")],
    ids=["400 Invalid Order", "404"],
)
def test_a_5xx_on_the_order_is_looked_up_first_then_placed_again_once(
    fake: FakeValr, sleeps: Sleeps, unknown: Reply
):
    fake.unknown_order_reply = unknown  # how VALR says "no such order"
    fake.fail_next(1, 500, method="POST", path=MARKET_ORDER_PATH)  # VALR never took it
    result = venue(fake, sleeps).submit_market_order(order("pos-7-open", quote_amount="1000"))

    assert result.status is OrderStatus.FILLED
    assert fake.orders_placed() == 1
    trail = [(r.method, r.path) for r in fake.requests if r.path != "/v1/public/pairs"]
    first_post = trail.index(("POST", MARKET_ORDER_PATH))
    second_post = trail.index(("POST", MARKET_ORDER_PATH), first_post + 1)
    between = trail[first_post + 1 : second_post]
    assert ("GET", SUMMARY_BY_COID + "pos-7-open") in between
    assert ("GET", "/v1/orders/BTCZAR/customerorderid/pos-7-open") in between


def test_a_5xx_after_VALR_took_the_order_returns_that_order(fake: FakeValr, sleeps: Sleeps):
    fake.fail_next(1, 502, method="POST", path=MARKET_ORDER_PATH, process_first=True)
    result = venue(fake, sleeps).submit_market_order(order("pos-8-open", quote_amount="1000"))
    assert result.status is OrderStatus.FILLED
    assert result.exchange_order_id == fake.orders()[0].order_id
    assert len(posts(fake)) == 1
    assert fake.orders_placed() == 1


def test_a_5xx_on_the_order_when_VALR_cannot_be_asked_raises_and_never_resends(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fail_next(1, 500, method="POST", path=MARKET_ORDER_PATH, process_first=True)
    # the two look-ups before placing pass; every look-up after the failure gets a 503
    fake.fail_next(100, 503, method="GET", path=r"/v1/orders/.*customerorderid/.*", after=2)
    with pytest.raises(ValrUnavailable) as caught:
        venue(fake, sleeps).submit_market_order(order("pos-9-open", quote_amount="1000"))
    assert caught.value.ambiguous is True
    assert "looking it up by customerOrderId failed" in str(caught.value)
    assert "not resent" in str(caught.value)
    assert len(posts(fake)) == 1
    assert fake.orders_placed() == 1  # the order VALR took, which reconcile will find


def test_when_VALR_cannot_say_whether_it_knows_the_id_the_order_is_not_placed(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fail_next(4, 503, method="GET", path=SUMMARY_BY_COID + "pos-16-open")
    with pytest.raises(ValrUnavailable) as caught:
        venue(fake, sleeps).submit_market_order(order("pos-16-open", quote_amount="1000"))
    assert caught.value.ambiguous is False
    assert caught.value.status == 503
    assert "the order was NOT placed" in str(caught.value)
    assert fake.requests_to(MARKET_ORDER_PATH) == []


def test_an_order_lost_twice_and_unknown_to_VALR_is_not_sent_a_third_time(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fail_next(5, 503, method="POST", path=MARKET_ORDER_PATH)
    with pytest.raises(ValrUnavailable, match="not sent a third time"):
        venue(fake, sleeps).submit_market_order(order("pos-10-open", quote_amount="1000"))
    assert len(posts(fake)) == 2
    assert fake.orders_placed() == 0


def test_an_order_that_never_left_this_machine_is_retried_and_reported_as_not_sent(
    sleeps: Sleeps,
):
    with FakeValr() as closed:
        url = closed.url  # a port nobody listens on once the fake stops
    settings = load_settings(
        valr_base_url=url,
        valr_api_key=KEY,
        valr_api_secret=SECRET,
        valr_max_retries=2,
        valr_backoff_seconds=0.01,
    )
    client = ValrClient(settings, sleep=sleeps, jitter=lambda: 0.0)
    with pytest.raises(ValrUnavailable) as caught:
        client.post(MARKET_ORDER_PATH, {"side": "BUY"})
    assert caught.value.sent is False
    assert caught.value.ambiguous is False
    assert "never made" in str(caught.value)
    assert sleeps.calls == pytest.approx([0.005, 0.01])  # base x 2^n x (0.5 + 0.5 x jitter 0)


# --- rate limits and server errors ----------------------------------------------------------------


def test_a_429_storm_on_the_order_is_waited_out_and_one_order_is_placed(
    fake: FakeValr, sleeps: Sleeps
):
    fake.rate_limit_next(2, method="POST", path=MARKET_ORDER_PATH)
    result = venue(fake, sleeps).submit_market_order(order("pos-11-open", quote_amount="1000"))
    assert result.status is OrderStatus.FILLED
    assert len(posts(fake)) == 3
    assert fake.orders_placed() == 1
    assert sleeps.calls[:2] == pytest.approx(
        [0.0075, 0.015]
    )  # 0.01 x 2^n x (0.5 + 0.5 x jitter 0.5)


def test_VALR_s_retry_after_is_honoured(fake: FakeValr, sleeps: Sleeps):
    fake.rate_limit_next(1, method="GET", path="/v1/account/balances", retry_after=1.5)
    assert venue(fake, sleeps).balances()["ZAR"] == D("100000")
    assert sleeps.calls == [1.5]


def test_a_429_storm_beyond_the_retries_raises_rate_limited_and_places_nothing(
    fake: FakeValr, sleeps: Sleeps
):
    fake.rate_limit_next(4, method="POST", path=MARKET_ORDER_PATH)  # 1 try + 3 retries
    exchange = venue(fake, sleeps)
    with pytest.raises(ValrRateLimited) as caught:
        exchange.submit_market_order(order("pos-12-open", quote_amount="1000"))
    assert caught.value.status == 429
    assert "x-valr-ratelimited: true" in str(caught.value)
    assert len(posts(fake)) == 4
    assert fake.orders_placed() == 0

    later = exchange.submit_market_order(order("pos-12-open", quote_amount="1000"))
    assert later.status is OrderStatus.FILLED
    assert later.duplicate is False
    assert fake.orders_placed() == 1


def test_a_5xx_burst_on_a_read_is_retried(fake: FakeValr, sleeps: Sleeps):
    fake.fail_next(2, 503, method="GET", path="/v1/account/balances")
    assert venue(fake, sleeps).balances() == {"ZAR": D("100000")}
    assert len(fake.requests_to("/v1/account/balances")) == 3
    assert len(sleeps.calls) == 2

    fake.fail_next(4, 500, method="GET", path="/v1/account/balances")
    with pytest.raises(ValrUnavailable) as caught:
        venue(fake, sleeps).balances()
    assert caught.value.status == 500


def test_a_non_json_answer_to_a_read_is_retried(fake: FakeValr, sleeps: Sleeps):
    fake.malformed_next(1, method="GET", path="/v1/account/balances")
    assert venue(fake, sleeps).balances() == {"ZAR": D("100000")}


# --- refusals -------------------------------------------------------------------------------------


def test_an_order_VALR_fails_is_REJECTED_with_its_reason(fake: FakeValr, sleeps: Sleeps):
    reason = "We did not execute this order since it would have matched with your own order"
    fake.fail_next_order(reason)
    result = venue(fake, sleeps).submit_market_order(order("pos-13-open", quote_amount="1000"))
    assert result.status is OrderStatus.REJECTED
    assert result.reason == f"VALR: {reason}"
    assert result.exchange_order_id == fake.orders()[0].order_id
    assert fake.balance("ZAR") == D("100000")


def test_an_order_beyond_the_balance_is_REJECTED_insufficient_balance(
    fake: FakeValr, sleeps: Sleeps
):
    fake.set_balance("ZAR", "50")
    result = venue(fake, sleeps).submit_market_order(order("pos-14-open", quote_amount="1000"))
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "VALR: Insufficient Balance"


def test_the_fake_fails_a_second_order_reusing_an_open_orders_customer_id(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fill_delay_seconds = 0.3
    client = venue(fake, sleeps).client
    body = {"side": "BUY", "pair": "BTCZAR", "quoteAmount": "100", "customerOrderId": "dup-1"}
    first, second = client.post(MARKET_ORDER_PATH, body), client.post(MARKET_ORDER_PATH, body)
    fake.wait_settled()
    outcome = {o.order_id: o for o in fake.orders()}
    assert outcome[first["id"]].status == "Filled"
    assert outcome[second["id"]].status == "Failed"
    assert "Duplicate customerOrderId" in outcome[second["id"]].failed_reason


def test_a_4xx_on_the_order_is_REJECTED_with_VALR_s_code(fake: FakeValr, sleeps: Sleeps):
    fake.set_pair_rules("ETHZAR", marginTradingAllowed=True)
    result = venue(fake, sleeps).submit_market_order(
        order("pos-15-open", "SELL", "ETHZAR", base_amount="0.1", margin=True)
    )
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "VALR refused the order: Margin trading is not enabled (code -19213)"
    assert fake.orders_placed() == 0


def test_the_margin_flag_is_sent_only_when_asked(fake: FakeValr, sleeps: Sleeps):
    fake.set_pair_rules("ETHZAR", marginTradingAllowed=True)
    fake.margin_enabled = True
    exchange = venue(fake, sleeps)
    plain = exchange.submit_market_order(order("m-1", "SELL", "ETHZAR", base_amount="0.1"))
    assert plain.status is OrderStatus.REJECTED  # no ETH and no margin: VALR fails it
    short = exchange.submit_market_order(
        order("m-2", "SELL", "ETHZAR", base_amount="0.1", margin=True)
    )
    assert short.status is OrderStatus.FILLED
    assert fake.balance("ETH") == D("-0.1")
    sent = posts(fake)
    assert "allowMargin" not in sent[0]
    assert sent[1]["allowMargin"] is True

    with pytest.raises(InvalidInput, match="VALR does not allow margin trading"):
        exchange.submit_market_order(order("m-3", "BUY", base_amount="0.01", margin=True))
    assert len(posts(fake)) == 2


def test_OrderRequest_margin_defaults_to_false_and_must_be_a_bool():
    assert order("x-1", quote_amount="100").margin is False
    assert order("x-2", quote_amount="100", margin=True).validated().margin is True
    with pytest.raises(InvalidInput, match="margin"):
        order("x-3", quote_amount="100", margin="yes")


# --- pair rules: refused or rounded before sending ------------------------------------------------


def test_amounts_are_cut_to_VALR_s_decimals_and_cents_before_sending(
    fake: FakeValr, sleeps: Sleeps
):
    fake.set_balance("BTC", "1")
    exchange = venue(fake, sleeps)
    exchange.submit_market_order(order("r-1", "SELL", base_amount="0.1234567891"))
    exchange.submit_market_order(order("r-2", quote_amount="1000.129"))
    sent = posts(fake)
    assert sent[0]["baseAmount"] == "0.12345678"
    assert sent[1]["quoteAmount"] == "1000.12"


@pytest.mark.parametrize(
    ("amount", "field", "words", "min_base", "price"),
    [
        ({"base_amount": "0.000009"}, "base_amount", "at least 0.00001 BTC", "0.00001", BTC),
        # 0.0000199 BTC at R400,000 is worth R7.96
        (
            {"base_amount": "0.0000199"},
            "base_amount",
            "worth at least 10 ZAR",
            "0.00001",
            D(400000),
        ),
        ({"base_amount": "10"}, "base_amount", "at most 9 BTC", "0.00001", BTC),
        ({"quote_amount": "9.99"}, "quote_amount", "at least 10 ZAR", "0.00001", BTC),
        ({"quote_amount": "5000001"}, "quote_amount", "at most 5000000 ZAR", "0.00001", BTC),
        # R50 at R1,200,000 buys 0.0000417 BTC
        ({"quote_amount": "50"}, "quote_amount", "enough for at least 0.0001 BTC", "0.0001", BTC),
    ],
    ids=[
        "below min base",
        "below min value",
        "above max base",
        "below min quote",
        "above max quote",
        "quote buys too little",
    ],
)
def test_an_order_outside_VALR_s_limits_is_refused_before_sending(
    fake: FakeValr,
    sleeps: Sleeps,
    amount: dict[str, str],
    field: str,
    words: str,
    min_base: str,
    price: Decimal,
):
    fake.set_pair_rules("BTCZAR", minBaseAmount=min_base)
    exchange = venue(fake, sleeps, price_source=lambda pair: price)
    side = "SELL" if "base_amount" in amount else "BUY"  # a BUY by base is grossed up for fees
    with pytest.raises(InvalidInput) as caught:
        exchange.submit_market_order(order("lim-1", side, **amount))
    assert caught.value.field == field
    assert caught.value.value == D(next(iter(amount.values())))
    assert words in str(caught.value)
    assert fake.requests_to(MARKET_ORDER_PATH) == []
    assert fake.orders_placed() == 0


def test_an_inactive_or_unlisted_pair_is_refused_before_sending(fake: FakeValr, sleeps: Sleeps):
    fake.set_pair_rules("ETHZAR", active=False)
    exchange = venue(fake, sleeps)
    with pytest.raises(InvalidInput, match="VALR lists this pair as inactive"):
        exchange.submit_market_order(order("in-1", pair="ETHZAR", quote_amount="1000"))
    with pytest.raises(InvalidInput, match="a spot pair VALR lists"):
        exchange.submit_market_order(order("in-2", pair="DOGEZAR", quote_amount="1000"))
    assert fake.requests_to(MARKET_ORDER_PATH) == []


def test_pair_rules_are_read_from_VALR_and_cached(fake: FakeValr, sleeps: Sleeps):
    fake.set_pair_rules("SOLZAR", tickSize="0.01", baseDecimalPlaces="4", minQuoteAmount="20")
    exchange = venue(fake, sleeps)
    rules = exchange.pair_rules("solzar")
    assert rules == PairRules(
        symbol="SOLZAR",
        active=True,
        base_currency="SOL",
        quote_currency="ZAR",
        tick_size=D("0.01"),
        base_decimal_places=4,
        min_base=D("0.00001"),
        max_base=D("9"),
        min_quote=D("20"),
        max_quote=D("5000000"),
        margin_trading_allowed=False,
    )
    exchange.pair_rules("BTCZAR")
    assert len(fake.requests_to("/v1/public/pairs")) == 1
    assert rules.truncate_base(D("1.23456")) == D("1.2345")
    assert rules.round_price(D("2500.555")) == D("2500.56")


def test_rounding_helpers_cut_down_and_snap_to_the_tick():
    assert truncate_base(D("0.123456789"), 8) == D("0.12345678")
    assert truncate_base(D("0.99999"), 2) == D("0.99")
    assert round_quote_down(D("1000.129")) == D("1000.12")
    assert round_quote_down(D("0.009")) == D("0.00")
    assert round_to_tick(D("1234.6"), D("1")) == D("1235")
    assert round_to_tick(D("1234.6"), D("0.5")) == D("1234.5")
    assert round_to_tick(D("1234.6"), D("1"), rounding="ROUND_DOWN") == D("1234")


# --- look-ups and account -------------------------------------------------------------------------


def test_get_order_knows_filled_failed_and_unknown_orders_and_raises_when_VALR_cannot_answer(
    fake: FakeValr, sleeps: Sleeps
):
    exchange = venue(fake, sleeps)
    filled = exchange.submit_market_order(order("g-1", quote_amount="1000"))
    fake.fail_next_order("No liquidity")
    exchange.submit_market_order(order("g-2", quote_amount="1000"))

    fresh = venue(fake, sleeps)  # another process: nothing remembered
    assert fresh.get_order("g-1") == filled
    rejected = fresh.get_order("g-2")
    assert rejected is not None
    assert (rejected.status, rejected.reason) == (OrderStatus.REJECTED, "VALR: No liquidity")
    assert fresh.get_order("never-sent") is None

    fake.fail_next(100, 503, method="GET", path=r"/v1/orders/.*")
    with pytest.raises(ValrUnavailable):
        fresh.get_order("never-sent")


def test_get_order_of_an_open_order_is_PENDING_even_without_the_pair(
    fake: FakeValr, sleeps: Sleeps
):
    fake.fill_delay_seconds = 1.0
    venue(fake, sleeps, valr_fill_wait_seconds=0).submit_market_order(
        order("g-3", quote_amount="1000")
    )
    found = venue(fake, sleeps).get_order("g-3")
    assert isinstance(found, OrderResult)
    assert found.status is OrderStatus.PENDING
    assert found.exchange_order_id == fake.orders()[0].order_id
    assert [o.customer_order_id for o in venue(fake, sleeps).open_orders()] == ["g-3"]


def test_balances_key_permissions_margin_and_fees(fake: FakeValr, sleeps: Sleeps):
    fake.set_balance("BTC", "0.25")
    fake.permissions = ["View access", "Trade", "Withdraw"]
    exchange = venue(fake, sleeps)
    assert exchange.balances() == {"BTC": D("0.25"), "ZAR": D("100000")}
    info = exchange.api_key_info()
    assert info.label == "helios-test"
    assert info.permissions == ("View access", "Trade", "Withdraw")
    assert (info.can_view, info.can_trade, info.can_withdraw) == (True, True, True)
    assert info.is_sub_account is False
    assert exchange.margin_enabled() is False
    fake.margin_enabled = True
    assert exchange.margin_enabled() is True

    fake.taker_fee_pct = D("0.3")
    assert exchange.fees()["BTCZAR"].taker == D("0.003")
    assert exchange.fees()["BTCZAR"].maker == D("0.0018")
    assert exchange.taker_fee("BTCZAR") == D("0.003")

    fake.fees_available = False
    no_fees = venue(fake, sleeps)
    assert no_fees.taker_fee("BTCZAR") == D("0.0035")  # PAPER_FEE_PCT, VALR ZAR tier 1


# --- secrets --------------------------------------------------------------------------------------


def test_keys_never_appear_in_errors_logs_or_reprs(
    fake: FakeValr, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    errors: list[HeliosError] = []
    exchange = venue(fake, sleeps)

    exchange.submit_market_order(order("s-1", quote_amount="1000"))  # a normal order
    fake.accept_then_timeout_next(seconds=2.0)
    venue(fake, sleeps, valr_timeout_seconds=0.3).submit_market_order(
        order("s-2", quote_amount="1000")
    )
    fake.fail_next(1, 400, {"code": -11, "message": f"bad key {KEY} / {SECRET}"}, method="GET")
    fake.rate_limit_next(4, method="GET", path="/v1/account/balances")  # 1 try + 3 retries
    scenarios = [
        lambda: exchange.api_key_info(),  # VALR echoes the key and secret back
        lambda: exchange.balances(),  # rate limited
        lambda: venue(fake, sleeps, valr_api_secret="wrong").balances(),
        lambda: venue(fake, sleeps, clock=ManualClock(datetime(2020, 1, 1))).balances(),
        lambda: exchange.submit_market_order(order("s-3", quote_amount="1")),
    ]
    for scenario in scenarios:
        with pytest.raises(HeliosError) as caught:
            scenario()
        errors.append(caught.value)

    assert [type(e) for e in errors] == [
        ValrRejected,
        ValrRateLimited,
        ValrAuthError,
        ValrAuthError,
        InvalidInput,
    ]
    assert "bad key *** / ***" in str(errors[0])
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(exchange), repr(exchange.client), str(exchange.settings)]
    assert len(caplog.records) > 5
    leaks = [text for text in texts if KEY in text or SECRET in text]
    assert leaks == []

    placed = [r.getMessage() for r in caplog.records if "market order placed" in r.getMessage()]
    order_id = fake.orders()[0].order_id
    assert placed[0] == (
        f"mode=LIVE VALR market order placed: BUY BTCZAR quoteAmount=1000.00 "
        f"customerOrderId=s-1 VALR orderId={order_id}"
    )
    assert all(
        r.name == "helios.exchange.valr" for r in caplog.records if "mode=LIVE" in r.getMessage()
    )


def test_errors_are_helios_errors_with_their_facts():
    error = ValrRejected(
        "VALR refused", method="GET", path="/x", status=400, code=-1, valr_message="Invalid Order. "
    )
    assert isinstance(error, ValrError) and isinstance(error, HeliosError)
    assert str(error) == "VALR GET /x [HTTP 400, code -1, 'Invalid Order. ']: VALR refused"
    assert error.ambiguous is False
    assert ValrUnavailable("lost", method="POST", path="/y").ambiguous is True


def test_a_buy_by_base_amount_asks_for_enough_to_cover_the_fee_in_the_coin(
    fake: FakeValr, sleeps: Sleeps
):
    """Covering a short buys by base amount; VALR takes its taker fee in the coin bought, so
    the order asks for amount / (1 - fee) rounded up to the pair's decimals, and what arrives
    covers the amount."""
    assert gross_for_fee(D("0.00041666"), D("0.0035"), 8) == D("0.00041813")
    assert gross_for_fee(D("1"), D("0"), 8) == D("1")
    with pytest.raises(InvalidInput):
        gross_for_fee(D("1"), D("1"), 8)
    result = venue(fake, sleeps).submit_market_order(order("cover-1", base_amount="0.00041666"))
    assert posts(fake)[0]["baseAmount"] == "0.00041813"
    assert result.status is OrderStatus.FILLED
    assert D("0.00041666") <= result.quantity <= D("0.00041668")  # type: ignore[operator]
