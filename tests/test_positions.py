"""``hx.positions`` on real SQLite and PostgreSQL databases, through the real paper exchange:
the seed's example, stops, targets, timeouts and trailing stops for longs and shorts, closing
by hand, refusals, bad input and the queries.

The numbers are the seed's (portfolio-manager.md, "Execution"), worked by hand. The paper venue
charges the 0.35% taker fee and no slippage here, so fills are at the market (or the stop):

    R903 BTCZAR at 1x, bought at R1,200,000: quantity = 903 / 1,200,000 = 0.0007525 BTC
    stop = 1,200,000 x 0.98 = R1,176,000; target = 1,200,000 x 1.06 = R1,272,000
    entry fee = 903 x 0.0035 = R3.1605; cash after = 100,000 - 903 - 3.1605 = R99,093.8395

    sold at R1,175,000: gross = -25,000 x 0.0007525 = -18.8125
                        exit fee = 1,175,000 x 0.0007525 x 0.0035 = 3.09465625
                        realized = -18.8125 - 3.1605 - 3.09465625 = -25.06765625
    sold at R1,273,000: gross = 73,000 x 0.0007525 = 54.9325
                        exit fee = 957.9325 x 0.0035 = 3.35276375
                        realized = 54.9325 - 3.1605 - 3.35276375 = 48.41923625
    sold at R1,200,000 (timeout): realized = 0 - 3.1605 - 3.1605 = -6.321
    sold at the stop R1,176,000: gross = -18.06; exit fee 884.94 x 0.0035 = 3.09729;
                        realized = -18.06 - 3.1605 - 3.09729 = -24.31779

The short (SELL) mirrors it: stop R1,224,000 above the entry, target R1,128,000 below.

    bought back at R1,225,000: gross -18.8125, exit fee 921.8125 x 0.0035 = 3.22634375,
                               realized -25.19934375
    bought back at R1,127,000: gross 54.9325, exit fee 848.0675 x 0.0035 = 2.96823625,
                               realized 48.80376375
    bought back at the stop R1,224,000: gross -18.06, exit fee 3.22371, realized -24.44421

After every operation the ledger proves its books agree (``hx.ledger.check()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from factories import (
    PRICES,
    SEED_REASONING,
    SEED_TRADE,
    connect_book,
    count_rows,
    event_kinds,
    give_market,
    orders_of,
    position,
    venue_orders,
)
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import Fill, RiskDecision
from helios.errors import InvalidInput
from helios.positions.monitoring import MonitorResult

D = Decimal
CHECK_NAMES = [
    "drawdown",
    "daily_loss",
    "risk_capacity",
    "single_position",
    "sector_exposure",
    "correlation",
    "leverage",
]


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """The seed's R100,000 paper book with 200 days of history per pair, BTC at R1,200,000."""
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        yield hx


def open_seed_trade(hx: helios.Helios, side: str = "BUY", **params: Any) -> int:
    result = hx.positions.open_position("BTCZAR", side, {**SEED_TRADE, **params}, SEED_REASONING)
    assert result["success"] is True, result
    hx.ledger.check()
    return int(result["position_id"])


def step(hx: helios.Helios, *prices: str, minutes: float = 1) -> list[MonitorResult]:
    """A minute passes; BTC trades at ``prices`` in turn within it; then one monitor pass."""
    hx.clock.advance(timedelta(minutes=minutes))  # type: ignore[attr-defined]
    for value in prices:
        hx.market.set_price("BTCZAR", value)
    results = hx.positions.monitor_positions()
    hx.ledger.check()
    return results


def only(results: list[MonitorResult]) -> MonitorResult:
    assert len(results) == 1, results
    return results[0]


# --- the seed's example -------------------------------------------------------------------------


def test_the_seeds_R903_BTCZAR_buy_gets_0_0007525_BTC_a_R1176000_stop_and_a_R1272000_target(
    book: helios.Helios,
):
    result = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert result == {
        "success": True,
        "position_id": result["position_id"],
        "entry_price": D("1200000"),
        "quantity": D("0.0007525"),
        "stop_loss_price": D("1176000"),
        "take_profit_price": D("1272000"),
        "entry_fee": D("3.1605"),
        "status": "OPEN",
    }
    row = position(book, result["position_id"])
    assert (row.status, row.side, row.pair, row.mode) == ("OPEN", "BUY", "BTCZAR", "PAPER")
    assert row.notional == D("903")
    assert row.strategic_reasoning == "Kelly + Vol targeting, LLM approved"
    assert row.opened_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    with book.db.read() as session:
        decision = session.get(RiskDecision, row.risk_decision_id)
        assert decision is not None and decision.passed is True
        assert decision.reason == "All 7 checks passed"

    [order] = orders_of(book, row.id)
    installation = order.client_order_id.split("-")[1]
    assert order.client_order_id == f"HX-{installation}-{row.id}-OPEN"
    assert (order.action, order.side, order.status) == ("OPEN", "BUY", "FILLED")
    assert order.quote_amount == D("903")
    [venue] = venue_orders(book)
    assert venue.client_order_id == order.client_order_id
    assert (venue.fill_price, venue.quantity, venue.fee) == (
        D("1200000"),
        D("0.0007525"),
        D("3.1605"),
    )

    valuation = book.ledger.check()
    assert valuation.cash == D("99093.8395")
    assert valuation.margin == D("903")
    assert valuation.equity == D("99996.8395")  # the entry fee is the only loss so far


SEED_PATHS = [
    pytest.param(
        "BUY",
        ["1190000", "1180000", "1175000"],
        "STOPPED_OUT",
        "1175000",
        "-25.06765625",
        id="a fall to R1,175,000 stops the seeds buy out about R18 down less fees",
    ),
    pytest.param(
        "BUY",
        ["1230000", "1260000", "1273000"],
        "TAKE_PROFIT",
        "1273000",
        "48.41923625",
        id="a rise to R1,273,000 takes the seeds buy's profit of about R54 less fees",
    ),
    pytest.param(
        "SELL",
        ["1210000", "1220000", "1225000"],
        "STOPPED_OUT",
        "1225000",
        "-25.19934375",
        id="a rise to R1,225,000 stops the seeds short out above its entry",
    ),
    pytest.param(
        "SELL",
        ["1170000", "1140000", "1127000"],
        "TAKE_PROFIT",
        "1127000",
        "48.80376375",
        id="a fall to R1,127,000 takes the seeds short's profit below its entry",
    ),
]


@pytest.mark.parametrize(("side", "path", "status", "exit_price", "realized"), SEED_PATHS)
def test_the_seeds_trade_along_a_price_path(
    book: helios.Helios, side: str, path: list[str], status: str, exit_price: str, realized: str
):
    position_id = open_seed_trade(book, side)
    for value in path[:-1]:
        assert only(step(book, value)).action == "HOLD"
    last = only(step(book, path[-1]))

    assert last.action == status
    assert last.close is not None
    assert last.close["success"] is True
    assert last.close["realized_pnl"] == D(realized)
    assert last.close["exit_price"] == D(exit_price)
    row = position(book, position_id)
    assert row.status == status
    assert row.realized_pnl == D(realized)
    assert row.exit_price == D(exit_price)
    assert row.closed_at == datetime(2026, 11, 26, 8, 3, tzinfo=UTC)
    valuation = book.ledger.check()
    assert valuation.cash == D("100000") + D(realized)
    assert valuation.positions == []
    assert book.positions.get_open_positions() == []
    # one order each way, both filled once on the venue
    assert [(o.action, o.status) for o in orders_of(book, position_id)] == [
        ("OPEN", "FILLED"),
        ("CLOSE", "FILLED"),
    ]
    assert len(venue_orders(book)) == 2


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_73_hours_after_opening_the_seeds_trade_times_out_at_the_market(
    book: helios.Helios, side: str
):
    position_id = open_seed_trade(book, side)
    book.clock.advance(timedelta(hours=71, minutes=59))  # type: ignore[attr-defined]
    assert only(book.positions.monitor_positions()).action == "HOLD"
    [row] = book.positions.get_open_positions()
    assert row["time_left_hours"] == pytest.approx(1 / 60)

    result = only(step(book, minutes=61))  # 73 hours after the open
    assert result.action == "TIMEOUT"
    assert result.explanation == "held 73.0 h >= 72 h"
    assert result.close is not None
    assert result.close["realized_pnl"] == D("-6.321")  # both fees, no price move
    assert result.close["holding_hours"] == 73.0
    row = position(book, position_id)
    assert (row.status, row.exit_price, row.realized_pnl) == (
        "TIMEOUT",
        D("1200000"),
        D("-6.321"),
    )
    assert book.ledger.check().cash == D("99993.679")


RECROSSED = [
    pytest.param("BUY", "1170000", "1190000", "1176000", "-24.31779", id="long"),
    pytest.param("SELL", "1230000", "1210000", "1224000", "-24.44421", id="short"),
]


@pytest.mark.parametrize("apart", [False, True], ids=["within-one-minute", "a-minute-apart"])
@pytest.mark.parametrize(("side", "crossed", "back", "stop", "realized"), RECROSSED)
def test_a_stop_crossed_and_recrossed_between_two_passes_still_fires_and_fills_at_the_stop(
    book: helios.Helios,
    side: str,
    crossed: str,
    back: str,
    stop: str,
    realized: str,
    apart: bool,
):
    position_id = open_seed_trade(book, side)
    book.clock.advance(timedelta(seconds=20))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", crossed)
    book.clock.advance(timedelta(minutes=1 if apart else 0, seconds=20))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", back)

    result = only(book.positions.monitor_positions())

    assert result.action == "STOPPED_OUT"
    assert result.trigger_price == D(stop)
    # the market is back past the stop, but a stop order fills no better than its level
    assert result.close is not None and result.close["exit_price"] == D(stop)
    assert result.close["realized_pnl"] == D(realized)
    assert position(book, position_id).status == "STOPPED_OUT"
    [_, close] = venue_orders(book)
    assert (close.reference_price, close.fill_price) == (D(back), D(stop))
    assert book.ledger.check().cash == D("100000") + D(realized)


BOTH_CROSSED = [
    pytest.param("BUY", ["1280000", "1170000", "1200000"], "1176000", "-24.31779", id="long"),
    pytest.param("SELL", ["1120000", "1230000", "1200000"], "1224000", "-24.44421", id="short"),
]


@pytest.mark.parametrize(("side", "prices", "stop", "realized"), BOTH_CROSSED)
def test_when_one_bar_crossed_both_the_stop_and_the_target_the_stop_wins(
    book: helios.Helios, side: str, prices: list[str], stop: str, realized: str
):
    position_id = open_seed_trade(book, side)
    result = only(step(book, *prices))
    assert result.action == "STOPPED_OUT"
    assert result.close is not None and result.close["realized_pnl"] == D(realized)
    assert position(book, position_id).exit_price == D(stop)


def test_a_dip_through_the_stop_before_the_position_opened_never_stops_it_out(
    book: helios.Helios,
):
    book.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1100000")  # the same minute, before the buy
    book.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1200000")
    position_id = open_seed_trade(book)
    book.clock.advance(timedelta(seconds=20))  # type: ignore[attr-defined]
    result = only(book.positions.monitor_positions())
    assert (result.action, result.stop_loss_price) == ("HOLD", D("1176000"))
    assert position(book, position_id).status == "OPEN"
    # a new low after the open, still inside that minute, does count
    book.market.set_price("BTCZAR", "1175000")
    assert only(book.positions.monitor_positions()).action == "STOPPED_OUT"


def test_a_dip_stops_out_the_buy_held_through_it_but_not_the_buy_opened_after_it(
    book: helios.Helios,
):
    # two BTC buys are perfectly correlated: allow it (1.0 is not above a 1.0 limit)
    book.risk.update_limits({"max_correlation_threshold": 1.0}, changed_by="test")
    first = open_seed_trade(book)
    step(book, "1200000")
    book.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1170000")  # 08:03, no monitor pass sees it live
    book.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1200000")
    book.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    second = open_seed_trade(book)  # 08:05, after the dip

    results = {r.position_id: r for r in book.positions.monitor_positions()}

    assert results[first].action == "STOPPED_OUT"
    assert results[first].close is not None
    assert results[first].close["exit_price"] == D("1176000")
    assert results[second].action == "HOLD"
    assert position(book, second).status == "OPEN"
    book.ledger.check()


def test_a_buy_at_2x_leverage_doubles_quantity_fees_and_pnl_but_not_the_margin(
    book: helios.Helios,
):
    position_id = open_seed_trade(book, leverage=2.0)
    row = position(book, position_id)
    # N = 903 x 2 = 1,806; quantity 1,806 / 1,200,000 = 0.001505; entry fee 1,806 x 0.35%
    assert (row.notional, row.quantity, row.entry_fee) == (D("1806"), D("0.001505"), D("6.321"))
    assert (row.stop_loss_price, row.take_profit_price) == (D("1176000"), D("1272000"))
    assert book.ledger.check().cash == D("100000") - D("903") - D("6.321")

    result = only(step(book, "1175000"))

    # gross -25,000 x 0.001505 = -37.625; exit fee 1,768.375 x 0.35% = 6.1893125
    assert result.close is not None
    assert result.close["realized_pnl"] == D("-50.1353125")  # -37.625 - 6.321 - 6.1893125
    assert book.ledger.check().cash == D("99949.8646875")


# --- trailing stops -------------------------------------------------------------------------------

TRAILING = {"trailing_activation_pct": 0.03, "trailing_distance_pct": 0.02}
TRAILED = [
    # long: activates at 1,236,000; 1,240,000 x 0.98 = 1,215,200; 1,260,000 x 0.98 = 1,234,800
    # exit at the trail: gross 34,800 x 0.0007525 = 26.187, fee 929.187 x 0.0035 = 3.2521545,
    # realized 26.187 - 3.1605 - 3.2521545 = 19.7743455
    pytest.param(
        "BUY",
        [("1240000", "1215200"), ("1260000", "1234800"), ("1250000", "1234800")],
        ["1230000", "1236000"],
        "19.7743455",
        id="a long up 5pct then back closes at its trailed stop",
    ),
    # short: activates at 1,164,000; 1,160,000 x 1.02 = 1,183,200; 1,140,000 x 1.02 = 1,162,800
    # exit at the trail: gross 37,200 x 0.0007525 = 27.993, fee 875.007 x 0.0035 = 3.0625245,
    # realized 27.993 - 3.1605 - 3.0625245 = 21.7699755
    pytest.param(
        "SELL",
        [("1160000", "1183200"), ("1140000", "1162800"), ("1150000", "1162800")],
        ["1170000", "1160000"],
        "21.7699755",
        id="a short down 5pct then back closes at its trailed stop",
    ),
]


@pytest.mark.parametrize(("side", "rise", "fall", "realized"), TRAILED)
def test_a_trailing_stop_follows_the_best_price_and_closes_at_the_trailed_level(
    book: helios.Helios,
    side: str,
    rise: list[tuple[str, str]],
    fall: list[str],
    realized: str,
):
    position_id = open_seed_trade(book, side, **TRAILING)
    original = position(book, position_id).stop_loss_price
    stops = [original]
    for value, expected_stop in rise:
        result = only(step(book, value))
        assert result.action == ("STOP_MOVED" if D(expected_stop) != stops[-1] else "HOLD")
        assert result.stop_loss_price == D(expected_stop)
        assert position(book, position_id).stop_loss_price == D(expected_stop)
        stops.append(D(expected_stop))
    trailed = stops[-1]

    result = only(step(book, *fall))

    assert result.action == "STOPPED_OUT"
    assert result.trigger_price == trailed
    assert result.close is not None
    assert result.close["exit_price"] == trailed  # not the original stop
    assert result.close["realized_pnl"] == D(realized)
    assert D(realized) > 0  # the trail locked in a gain; the original stop was a loss
    history = book.positions.position_history(position_id)
    moves = [e for e in history["events"] if e["kind"] == "STOP_MOVED"]
    assert [(D(e["details"]["from"]), D(e["details"]["to"])) for e in moves] == [
        (original, D(rise[0][1])),
        (D(rise[0][1]), D(rise[1][1])),
    ]
    assert book.ledger.check().cash == D("100000") + D(realized)


# --- closing by hand ------------------------------------------------------------------------------


def test_a_manual_close_returns_the_seeds_dict_with_pnl_exit_price_fees_and_holding_time(
    book: helios.Helios,
):
    position_id = open_seed_trade(book)
    book.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1230000")

    result = book.positions.close_position(position_id, "CLOSED")

    # gross 30,000 x 0.0007525 = 22.575; exit fee 925.575 x 0.0035 = 3.2395125
    assert result == {
        "success": True,
        "position_id": position_id,
        "status": "CLOSED",
        "realized_pnl": D("16.1749875"),  # 22.575 - 3.1605 - 3.2395125
        "exit_price": D("1230000"),
        "entry_price": D("1200000"),
        "fees": D("6.4000125"),
        "holding_hours": 2.0,
    }
    row = position(book, position_id)
    assert (row.status, row.close_reason, row.exit_fee) == ("CLOSED", "CLOSED", D("3.2395125"))
    assert book.ledger.check().cash == D("100016.1749875")
    [_, close] = orders_of(book, position_id)
    installation = close.client_order_id.split("-")[1]
    assert close.client_order_id == f"HX-{installation}-{position_id}-CLOSE-1"
    assert (close.side, close.quantity, close.status) == ("SELL", D("0.0007525"), "FILLED")


def test_the_second_close_of_a_position_is_refused_and_sends_no_second_order(
    book: helios.Helios,
):
    position_id = open_seed_trade(book)
    assert book.positions.close_position(position_id, "CLOSED")["success"] is True
    before = count_rows(book)

    again = book.positions.close_position(position_id, "EMERGENCY_CLOSE")

    assert again == {
        "success": False,
        "position_id": position_id,
        "error": f"position {position_id} is already closing/closed (CLOSED)",
        "reason": f"position {position_id} is already closing/closed (CLOSED)",
        "status": "CLOSED",
    }
    assert count_rows(book) == before
    assert before["orders"] == 2 and before["venue_orders"] == 2
    assert position(book, position_id).status == "CLOSED"
    book.ledger.check()


def test_closing_an_unknown_or_malformed_position_id_is_refused_naming_position_id(
    book: helios.Helios,
):
    open_seed_trade(book)
    before = count_rows(book)
    for bad_id in (999, 0, -1, "1", 1.0, True, None):
        with pytest.raises(InvalidInput) as caught:
            book.positions.close_position(bad_id, "CLOSED")
        assert (caught.value.field, caught.value.value) == ("position_id", bad_id)
    assert count_rows(book) == before


def test_closing_with_an_invalid_reason_is_refused_and_writes_nothing(book: helios.Helios):
    position_id = open_seed_trade(book)
    before = count_rows(book)
    for reason in ("OPEN", "closed", "STOP", "", None, "CLOSING"):
        with pytest.raises(InvalidInput) as caught:
            book.positions.close_position(position_id, reason)
        assert (caught.value.field, caught.value.value) == ("reason", reason)
        assert caught.value.allowed == (
            "one of CLOSED, STOPPED_OUT, TAKE_PROFIT, TIMEOUT, EMERGENCY_CLOSE"
        )
    assert count_rows(book) == before
    assert position(book, position_id).status == "OPEN"


def test_close_all_closes_every_open_position_with_one_reason(book: helios.Helios):
    btc = open_seed_trade(book)
    eth = book.positions.open_position("ETHZAR", "SELL", {"position_size_zar": 1800}, "hedge")
    sol = book.positions.open_position("SOLZAR", "BUY", {"position_size_zar": 1000}, "trend")
    assert eth["success"] and sol["success"]
    book.ledger.check()
    book.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]

    results = book.positions.close_all("EMERGENCY_CLOSE")

    assert [(r["position_id"], r["success"], r["status"]) for r in results] == [
        (btc, True, "EMERGENCY_CLOSE"),
        (eth["position_id"], True, "EMERGENCY_CLOSE"),
        (sol["position_id"], True, "EMERGENCY_CLOSE"),
    ]
    # no price moved: each closes down both fees (903, 1,800 and 1,000 at 0.35% twice)
    assert [r["realized_pnl"] for r in results] == [D("-6.321"), D("-12.6"), D("-7")]
    assert book.positions.get_open_positions() == []
    valuation = book.ledger.check()
    assert valuation.cash == D("100000") - D("6.321") - D("12.6") - D("7")
    assert valuation.margin == D("0")
    assert book.positions.close_all("CLOSED") == []
    with pytest.raises(InvalidInput, match="reason"):
        book.positions.close_all("PANIC")


# --- opening refused ------------------------------------------------------------------------------


def test_a_R25000_buy_breaks_the_single_position_limit_and_writes_only_the_decision(
    book: helios.Helios,
):
    before = count_rows(book)
    result = book.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 25000}, "too big")
    assert result["success"] is False
    assert result["violated_limits"] == ["max_single_position_pct"]
    assert result["reason"].startswith("CHECK 4 single_position: ")
    assert result["halted"] is False
    assert count_rows(book) == {**before, "risk_decisions": before["risk_decisions"] + 1}
    with book.db.read() as session:
        decision = session.get(RiskDecision, result["decision_id"])
        assert decision is not None
        assert decision.passed is False
        assert decision.violated_limits == ["max_single_position_pct"]
    book.ledger.check()


def test_a_halted_system_refuses_to_open_before_the_checks_but_still_closes(
    book: helios.Helios,
):
    position_id = open_seed_trade(book)
    book.controls.halt("daily loss 6% > 5%", by="risk monitor")
    before = count_rows(book)

    result = book.positions.open_position("ETHZAR", "BUY", {"position_size_zar": 1000}, "")

    assert result["success"] is False
    assert result["halted"] is True
    assert result["reason"] == "Trading is halted: daily loss 6% > 5%"
    assert result["violated_limits"] == []
    assert count_rows(book) == {**before, "risk_decisions": before["risk_decisions"] + 1}
    with book.db.read() as session:
        decision = session.get(RiskDecision, result["decision_id"])
        assert decision is not None and decision.checks == []  # no check ran

    closed = book.positions.close_position(position_id, "EMERGENCY_CLOSE")
    assert closed["success"] is True
    assert closed["realized_pnl"] == D("-6.321")
    book.ledger.check()


def test_a_pair_with_no_price_yet_is_refused_fail_closed(database_url: str, clock: ManualClock):
    with connect_book(database_url, clock, pairs="BTCZAR,ETHZAR,SOLZAR,XRPZAR") as hx:
        give_market(hx, pairs=["BTCZAR", "ETHZAR", "SOLZAR"])  # XRPZAR: nothing arrived yet
        before = count_rows(hx)
        result = hx.positions.open_position("XRPZAR", "BUY", {"position_size_zar": 1000}, "")
        assert result["success"] is False
        assert "no current price for XRPZAR" in result["reason"]
        assert "max_single_position_pct" in result["violated_limits"]
        assert count_rows(hx) == {**before, "risk_decisions": before["risk_decisions"] + 1}
        hx.ledger.check()


BAD_OPENS = [  # (pair, signal, trade_params, strategic_reasoning) -> the field named
    ("DOGEZAR", "BUY", SEED_TRADE, "", "pair"),
    ("BTCZAR", "HOLD", SEED_TRADE, "", "signal"),
    ("BTCZAR", None, SEED_TRADE, "", "signal"),
    ("BTCZAR", "BUY", {"position_size_zar": -5}, "", "trade_params.position_size_zar"),
    ("BTCZAR", "BUY", {"position_size_zar": float("nan")}, "", "trade_params.position_size_zar"),
    ("BTCZAR", "BUY", {"position_size_zar": 903, "leverage": 50}, "", "trade_params.leverage"),
    (
        "BTCZAR",
        "BUY",
        {"position_size_zar": 903, "stop_loss_pct": 1.5},
        "",
        "trade_params.stop_loss_pct",
    ),
    ("BTCZAR", "BUY", {"position_size_zar": 903, "stoploss": 0.02}, "", "trade_params"),
    ("BTCZAR", "BUY", SEED_TRADE, 42, "strategic_reasoning"),
]


def test_opening_with_bad_input_raises_naming_the_field_and_writes_nothing(book: helios.Helios):
    before = count_rows(book)
    for pair, signal, params, reasoning, field in BAD_OPENS:
        with pytest.raises(InvalidInput) as caught:
            book.positions.open_position(pair, signal, params, reasoning)
        assert caught.value.field == field, (pair, signal, params, reasoning)
    assert count_rows(book) == before
    book.ledger.check()


# --- queries --------------------------------------------------------------------------------------


def test_open_positions_show_live_pnl_the_distance_to_stop_and_target_and_time_left(
    book: helios.Helios,
):
    btc = open_seed_trade(book)
    eth = book.positions.open_position("ETHZAR", "SELL", {"position_size_zar": 1800}, "hedge")
    book.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1230000")
    book.market.set_price("ETHZAR", "58800")

    rows = {row["position_id"]: row for row in book.positions.get_open_positions()}

    long, short = rows[btc], rows[eth["position_id"]]
    assert long["unrealized_pnl"] == D("22.575")  # 30,000 x 0.0007525
    assert long["unrealized_pnl_pct"] == pytest.approx(0.025)
    assert long["distance_to_stop_pct"] == pytest.approx(54000 / 1230000)
    assert long["distance_to_target_pct"] == pytest.approx(42000 / 1230000)
    assert long["time_left_hours"] == pytest.approx(70.0)
    assert long["strategic_reasoning"] == SEED_REASONING
    # the short: 1,800 / 60,000 = 0.03 ETH sold at 60,000; stop 61,200, target 56,400
    assert short["quantity"] == D("0.03")
    assert (short["stop_loss_price"], short["take_profit_price"]) == (D("61200"), D("56400"))
    assert short["unrealized_pnl"] == D("36")  # (60,000 - 58,800) x 0.03
    assert short["unrealized_pnl_pct"] == pytest.approx(0.02)
    assert short["distance_to_stop_pct"] == pytest.approx(2400 / 58800)
    assert short["distance_to_target_pct"] == pytest.approx(2400 / 58800)
    assert short["time_left_hours"] == pytest.approx(70.0)
    valuation = book.ledger.check()
    assert valuation.unrealized_pnl == D("58.575")

    # both prices jump past the stops before the monitor's next pass: the distances turn
    # negative (a crossed stop never reads as room left)
    book.market.set_price("BTCZAR", "1170000")
    book.market.set_price("ETHZAR", "61500")
    rows = {row["position_id"]: row for row in book.positions.get_open_positions()}
    long, short = rows[btc], rows[eth["position_id"]]
    assert long["distance_to_stop_pct"] == pytest.approx(-6000 / 1170000)
    assert long["distance_to_target_pct"] == pytest.approx(102000 / 1170000)
    assert short["distance_to_stop_pct"] == pytest.approx(-300 / 61500)
    assert short["distance_to_target_pct"] == pytest.approx(5100 / 61500)
    assert long["unrealized_pnl"] == D("-22.575")
    assert short["unrealized_pnl"] == D("-45")


def test_closed_positions_filter_by_status_pair_and_close_date(book: helios.Helios):
    day1 = datetime(2026, 11, 26, tzinfo=UTC)
    btc = open_seed_trade(book)
    book.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    book.positions.close_position(btc, "CLOSED")  # 2026-11-26 09:00
    for pair in ("ETHZAR", "SOLZAR"):  # prices of now: opening trades need fresh ones
        book.market.set_price(pair, PRICES[pair])
    eth = book.positions.open_position("ETHZAR", "SELL", {"position_size_zar": 1800}, "")
    sol = book.positions.open_position("SOLZAR", "BUY", {"position_size_zar": 1000}, "")
    book.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    book.positions.close_position(eth["position_id"], "EMERGENCY_CLOSE")  # 2026-11-27 09:00
    book.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    book.positions.close_position(sol["position_id"], "TIMEOUT")  # 2026-11-28 09:00
    book.ledger.check()
    positions = book.positions

    def ids(frame: Any) -> list[int]:
        return [int(x) for x in frame["position_id"]] if len(frame) else []

    eth_id, sol_id = eth["position_id"], sol["position_id"]
    assert ids(positions.closed_positions()) == [sol_id, eth_id, btc]
    assert ids(positions.closed_positions(status="CLOSED")) == [btc]
    assert ids(positions.closed_positions(status="TIMEOUT")) == [sol_id]
    assert ids(positions.closed_positions(status="STOPPED_OUT")) == []
    assert ids(positions.closed_positions(pair="ETHZAR")) == [eth_id]
    assert ids(positions.closed_positions(pair="ethzar")) == [eth_id]
    assert ids(positions.closed_positions(start=day1 + timedelta(days=1))) == [sol_id, eth_id]
    assert ids(positions.closed_positions(end=day1 + timedelta(days=1))) == [btc]
    assert ids(
        positions.closed_positions(start=day1 + timedelta(days=1), end=day1 + timedelta(days=2))
    ) == [eth_id]
    frame = positions.closed_positions(status="CLOSED")
    assert frame.loc[0, "realized_pnl"] == D("-6.321")
    assert frame.loc[0, "fees"] == D("6.321")
    assert frame.loc[0, "holding_hours"] == 1.0
    assert frame.loc[0, "exit_price"] == D("1200000")
    for status in ("LOST", "closed", "OPEN", "OPENING", "CLOSING"):
        with pytest.raises(InvalidInput) as caught:
            positions.closed_positions(status=status)
        assert caught.value.field == "status"
    with pytest.raises(InvalidInput) as caught:
        positions.closed_positions(pair="DOGEZAR")
    assert caught.value.field == "pair"


def test_a_positions_history_holds_its_decision_with_all_7_checks_orders_fills_and_events(
    book: helios.Helios,
):
    position_id = open_seed_trade(book, **TRAILING)
    step(book, "1240000")  # the trail activates: stop 1,176,000 -> 1,215,200
    step(book, "1210000")  # stopped out at 1,210,000 (the market is under the stop)

    history = book.positions.position_history(position_id)

    assert history["position"]["id"] == position_id
    assert history["position"]["status"] == "STOPPED_OUT"
    assert D(history["position"]["stop_loss_price"]) == D("1215200")
    decision = history["decision"]
    assert decision["passed"] is True
    assert decision["id"] == position(book, position_id).risk_decision_id
    assert [c["name"] for c in decision["checks"]] == CHECK_NAMES
    assert all(c["passed"] for c in decision["checks"])
    assert [(o["action"], o["side"], o["status"]) for o in history["orders"]] == [
        ("OPEN", "BUY", "FILLED"),
        ("CLOSE", "SELL", "FILLED"),
    ]
    assert [(D(f["price"]), D(f["quantity"])) for f in history["fills"]] == [
        (D("1200000"), D("0.0007525")),
        (D("1210000"), D("0.0007525")),
    ]
    assert [f["client_order_id"] for f in history["fills"]] == [
        o["client_order_id"] for o in history["orders"]
    ]
    assert event_kinds(book, position_id) == [
        "OPEN_REQUESTED",
        "OPENED",
        "STOP_MOVED",
        "CLOSE_REQUESTED",
        "CLOSED",
    ]
    assert [e["kind"] for e in history["events"]] == event_kinds(book, position_id)
    with book.db.read() as session:
        assert len(list(session.scalars(select(Fill)))) == 2
    for bad in (999, "1", None):
        with pytest.raises(InvalidInput) as caught:
            book.positions.position_history(bad)
        assert caught.value.field == "position_id"


@pytest.mark.parametrize("bad", [0, -1, 2**31, 10**20, True, "7", 1.0])
def test_a_position_id_outside_the_columns_range_is_refused_naming_it(
    hx: helios.Helios, bad: object
):
    """Closing or reading a position by an id the database could not even hold (above 2**31-1)
    is refused by the library, naming the field and the range, not by a database error."""
    for call in (
        lambda: hx.positions.close_position(bad),
        lambda: hx.positions.position_history(bad),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == "position_id"
        assert "from 1 to 2147483647" in caught.value.allowed
