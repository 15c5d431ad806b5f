"""The pre-checks of an opening trade as pure functions (issue 14): ``helios.risk.prechecks``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from helios.risk.prechecks import (
    affordable_margin,
    buying_power,
    live_free_cash,
    opening_cost,
    price_age,
)

D = Decimal
FEE = D("0.0035")


def test_the_issue_s_figures_needs_R19066_50_with_R4667_50_free():
    cost = opening_cost(19_000.0, 1.0, FEE)
    assert (cost.margin, cost.notional, cost.fee, cost.total) == (
        D("19000"),
        D("19000"),
        D("66.5"),
        D("19066.5"),
    )
    refused = buying_power(cost, D("4667.50"), "the ledger's cash")
    assert refused.passed is False
    assert refused.message.startswith(
        "Not enough free cash: needs R19,066.50 (margin R19,000.00 + fee R66.50), R4,667.50 free"
    )
    assert buying_power(cost, D("19066.50"), "the ledger's cash").passed  # exactly enough
    assert not buying_power(cost, D("19066.49999999"), "the ledger's cash").passed
    unknown = buying_power(cost, None, "VALR down")
    assert unknown.passed is False and "Buying power unknown (VALR down)" in unknown.message


@pytest.mark.parametrize(
    ("free", "leverage", "expected"),
    [("4667.50", "1", "4651.22"), ("1000", "3", "989.60"), ("0", "1", "0"), ("-5", "2", "0")],
)
def test_the_affordable_margin_is_the_most_that_fits_to_the_cent(
    free: str, leverage: str, expected: str
):
    margin = affordable_margin(D(free), D(leverage), FEE)
    assert margin == D(expected)
    if margin > 0:
        assert opening_cost(margin, D(leverage), FEE).total <= D(free)
        assert opening_cost(margin + D("0.01"), D(leverage), FEE).total > D(free)


def test_LIVE_free_cash_is_the_lesser_of_VALR_and_the_capped_ledger_less_what_is_being_opened():
    opening = [(D("1000"), D("1"))]  # R1,003.50 spoken for
    # the ledger: R100,000 of equity, cash R100,000, under a R5,000 cap: x 0.05
    capped = live_free_cash(D("1000000"), D("100000"), opening, FEE, D("100000"), D("5000"))
    assert capped.free == D("4949.825")  # (100,000 - 1,003.50) x 0.05
    short = live_free_cash(D("3000"), D("100000"), opening, FEE, D("100000"), D("5000"))
    assert short.free == D("1996.5")  # VALR's 3,000 less the 1,003.50 being opened
    assert "VALR's available R3,000.00 less R1,003.50 being opened" in short.source
    down = live_free_cash(None, D("100000"), [], FEE, D("100000"), D("5000"), "timeout")
    assert down.free is None and "could not be read: timeout" in down.source


@pytest.mark.parametrize(
    ("age", "passed", "text"),
    [
        (0.0, True, "observed 0 s ago (fresh)"),
        (60.0, True, "observed 60 s ago (fresh)"),
        (60.5, False, "is stale: observed 60 s ago, more than the 60 s allowed"),
        (3 * 3600.0, False, "observed 3.0 h ago"),
        (-3.0, True, "observed 0 s ago"),  # a source clock a little ahead
        (-7200.0, False, "stamped 2.0 h in the future"),
        (None, False, "No current price for BTCZAR"),
    ],
)
def test_the_price_age(age: float | None, passed: bool, text: str):
    check = price_age("BTCZAR", age, 60.0)
    assert check.passed is passed and text in check.message
