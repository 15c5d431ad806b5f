"""The paper exchange: fills at the latest price with slippage and fee, never twice per client
order id, and refuses bad input before writing anything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

import helios
from helios.clock import ManualClock
from helios.db.models import PaperVenueOrder
from helios.errors import InvalidInput
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus, Side

D = Decimal


def venue_rows(hx: helios.Helios) -> int:
    with hx.db.read() as session:
        return session.scalar(select(func.count()).select_from(PaperVenueOrder)) or 0


def submit(
    hx: helios.Helios, client_order_id: str, pair: str, side: str, **amount: Any
) -> OrderResult:
    return hx.paper_exchange.submit_market_order(
        OrderRequest.build(client_order_id, pair, side, **amount)
    )


# --- fills ----------------------------------------------------------------------------------


def test_a_BUY_of_half_a_bitcoin_fills_at_R1200600_and_pays_R2101_05(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-1-open", "BTCZAR", "BUY", base_amount="0.5")
    assert result.status is OrderStatus.FILLED
    assert result.duplicate is False
    assert result.price == D("1200600")  # 1,200,000 x 1.0005
    assert result.quantity == D("0.5")
    assert result.fee == D("2101.05")  # 1,200,600 x 0.5 x 0.0035
    assert result.reason is None
    assert result.side == "BUY"
    assert result.pair == "BTCZAR"
    assert result.exchange_order_id
    assert result.created_at == priced_hx.clock.now()


def test_a_SELL_of_half_a_bitcoin_fills_at_R1199400_and_pays_R2098_95(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-1-close", "BTCZAR", "SELL", base_amount=D("0.5"))
    assert result.status is OrderStatus.FILLED
    assert result.price == D("1199400")  # 1,200,000 x 0.9995
    assert result.quantity == D("0.5")
    assert result.fee == D("2098.95")


def test_a_R15000_order_buys_15000_over_the_fill_price_to_12_places(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-7-open", "BTCZAR", "BUY", quote_amount="15000")
    # 15,000 / 1,200,600 = 0.01249375312343...
    assert result.quantity == D("0.012493753123")
    assert result.price == D("1200600")
    assert result.fee == D("52.5")  # 14,999.9999994738 x 0.0035 = 52.49999999816


def test_a_R1000_SOL_sell_fills_below_the_price(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-9-open", "SOLZAR", "SELL", quote_amount="1000")
    assert result.price == D("2498.75")  # 2,500 x 0.9995
    assert result.quantity == D("0.400200100050")  # 1,000 / 2,498.75
    assert result.fee == D("3.5")


def test_fee_and_slippage_come_from_the_settings(database_url: str, clock: ManualClock):
    with helios.connect(
        database_url,
        clock=clock,
        market_feed="manual",
        paper_fee_pct="0.001",
        paper_slippage_pct="0",
    ) as hx:
        hx.market.set_price("ETHZAR", "60000")
        result = submit(hx, "pos-2-open", "ETHZAR", "BUY", base_amount="2")
        assert result.price == D("60000")
        assert result.fee == D("120")


def test_hx_exchange_is_the_paper_exchange_in_PAPER_mode(priced_hx: helios.Helios):
    assert priced_hx.exchange is priced_hx.paper_exchange
    assert priced_hx.exchange.balances() == {"ZAR": D("100000")}


# --- never twice ----------------------------------------------------------------------------


def test_resubmitting_an_id_returns_the_first_order_even_after_the_price_moved(
    priced_hx: helios.Helios,
):
    hx = priced_hx
    first = submit(hx, "pos-3-open", "BTCZAR", "BUY", quote_amount="15000")
    hx.market.set_price("BTCZAR", "1300000")
    again = submit(hx, "pos-3-open", "BTCZAR", "BUY", quote_amount="15000")
    assert again.duplicate is True
    assert again.exchange_order_id == first.exchange_order_id
    assert again.price == D("1200600")
    assert again.quantity == D("0.012493753123")
    assert again.fee == D("52.5")
    assert venue_rows(hx) == 1
    assert hx.paper_exchange.get_order("pos-3-open") == first


def test_get_order_of_an_unknown_id_is_None(priced_hx: helios.Helios):
    assert priced_hx.paper_exchange.get_order("pos-404-open") is None


def run_together(count: int, action: Callable[[], OrderResult]) -> list[OrderResult]:
    barrier = threading.Barrier(count)
    results: list[OrderResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            result = action()
            with lock:
                results.append(result)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_eight_threads_submitting_one_id_produce_exactly_one_fill(priced_hx: helios.Helios):
    hx = priced_hx
    request = OrderRequest.build("pos-5-open", "BTCZAR", "BUY", quote_amount="15000")
    results = run_together(8, lambda: hx.paper_exchange.submit_market_order(request))
    assert len(results) == 8
    assert [result.duplicate for result in results].count(False) == 1
    assert {result.exchange_order_id for result in results} == {
        hx.paper_exchange.get_order("pos-5-open").exchange_order_id  # type: ignore[union-attr]
    }
    assert {(result.status, result.price, result.quantity) for result in results} == {
        (OrderStatus.FILLED, D("1200600"), D("0.012493753123"))
    }
    assert venue_rows(hx) == 1


# --- rejections -----------------------------------------------------------------------------


def test_an_unknown_pair_is_rejected_with_the_pairs_it_trades(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-6-open", "DOGEZAR", "BUY", quote_amount="1000")
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "unknown pair DOGEZAR: this venue trades BTCZAR, ETHZAR, SOLZAR"
    assert result.quantity is None
    assert result.price is None
    assert result.fee is None


def test_a_pair_without_a_price_is_rejected_and_its_id_stays_rejected(hx: helios.Helios):
    first = submit(hx, "pos-8-open", "BTCZAR", "BUY", quote_amount="15000")
    assert first.status is OrderStatus.REJECTED
    assert first.reason == "no market price for BTCZAR yet"

    hx.market.set_price("BTCZAR", "1200000")
    again = submit(hx, "pos-8-open", "BTCZAR", "BUY", quote_amount="15000")
    assert again.status is OrderStatus.REJECTED
    assert again.duplicate is True
    assert again.reason == "no market price for BTCZAR yet"
    assert again.quantity is None
    assert venue_rows(hx) == 1


def test_an_amount_that_rounds_to_no_quantity_is_rejected(priced_hx: helios.Helios):
    result = submit(priced_hx, "pos-10-open", "BTCZAR", "BUY", base_amount="0.0000000000001")
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "order amount rounds to zero quantity"


BAD_INPUT = [
    (("pos 1 open", "BTCZAR", "BUY", {"quote_amount": "1000"}), "client_order_id"),
    (("p" * 51, "BTCZAR", "BUY", {"quote_amount": "1000"}), "client_order_id"),
    (("pos-1-open\n", "BTCZAR", "BUY", {"quote_amount": "1000"}), "client_order_id"),
    (("", "BTCZAR", "BUY", {"quote_amount": "1000"}), "client_order_id"),
    ((17, "BTCZAR", "BUY", {"quote_amount": "1000"}), "client_order_id"),
    (("pos-1-open", "", "BUY", {"quote_amount": "1000"}), "pair"),
    (("pos-1-open", "BTCZAR", "HOLD", {"quote_amount": "1000"}), "side"),
    (("pos-1-open", "BTCZAR", "BUY", {"quote_amount": "-1000"}), "quote_amount"),
    (("pos-1-open", "BTCZAR", "BUY", {"quote_amount": "0"}), "quote_amount"),
    (("pos-1-open", "BTCZAR", "BUY", {"quote_amount": float("nan")}), "quote_amount"),
    (("pos-1-open", "BTCZAR", "BUY", {"quote_amount": "NaN"}), "quote_amount"),
    (("pos-1-open", "BTCZAR", "BUY", {"quote_amount": "1e16"}), "quote_amount"),
    (("pos-1-open", "BTCZAR", "SELL", {"base_amount": "-0.5"}), "base_amount"),
    (("pos-1-open", "BTCZAR", "SELL", {"base_amount": float("inf")}), "base_amount"),
    (("pos-1-open", "BTCZAR", "SELL", {"base_amount": True}), "base_amount"),
    (
        ("pos-1-open", "BTCZAR", "BUY", {"base_amount": "1", "quote_amount": "1000"}),
        "base_amount/quote_amount",
    ),
    (("pos-1-open", "BTCZAR", "BUY", {}), "base_amount/quote_amount"),
]


@pytest.mark.parametrize(("arguments", "field"), BAD_INPUT, ids=lambda value: repr(value)[:40])
def test_bad_input_raises_InvalidInput_naming_the_field(
    arguments: tuple[Any, Any, Any, dict[str, Any]], field: str
):
    client_order_id, pair, side, amounts = arguments
    with pytest.raises(InvalidInput) as caught:
        OrderRequest.build(client_order_id, pair, side, **amounts)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}=")


def test_bad_input_writes_nothing(priced_hx: helios.Helios):
    for (client_order_id, pair, side, amounts), field in BAD_INPUT:
        with pytest.raises(InvalidInput) as caught:
            submit(priced_hx, client_order_id, pair, side, **amounts)
        assert caught.value.field == field
    assert venue_rows(priced_hx) == 0


def test_a_request_built_by_hand_is_checked_too(priced_hx: helios.Helios):
    request = OrderRequest("pos 1", "BTCZAR", Side.BUY, None, D("-5"))
    with pytest.raises(InvalidInput, match="client_order_id='pos 1'"):
        priced_hx.paper_exchange.submit_market_order(request)
    request = OrderRequest("pos-1-open", "BTCZAR", Side.BUY, None, D("-5"))
    with pytest.raises(InvalidInput, match="quote_amount"):
        priced_hx.paper_exchange.submit_market_order(request)
    assert venue_rows(priced_hx) == 0


def test_an_absurd_amount_is_refused_with_the_allowed_range():
    with pytest.raises(InvalidInput) as caught:
        OrderRequest.build("pos-1-open", "BTCZAR", "BUY", quote_amount="1e16")
    assert str(caught.value) == (
        "quote_amount='1e16' is not allowed: a number > 0 and <= 1000000000000000"
    )


def test_a_side_and_pair_are_read_case_insensitively(priced_hx: helios.Helios):
    request = OrderRequest.build("pos-1-open", " btczar ", "buy", base_amount=1)
    assert (request.pair, request.side) == ("BTCZAR", Side.BUY)
    assert request.base_amount == D("1")
