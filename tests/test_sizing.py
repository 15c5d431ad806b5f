"""Position sizing: fractional Kelly x volatility scalar x equity, capped by the limits.

The seed's Tier 3 example (R100,000, ML confidence 85%, 3:1 reward/risk, 4% daily vol) writes

    kelly_pct = (0.85 x 3 - (1 - 0.85)) / 3 = 0.23      <- the seed's arithmetic slip
    fractional = 0.0575; vol scalar (252 days) 0.157; size = R903

The formula is right and the number is not: (2.55 - 0.15) / 3 = 2.40 / 3 = 0.80 (DESIGN.md,
"Kelly"). So the correct chain is

    full Kelly 0.80 -> x 0.25 = 0.20
    vol scalar 0.10 / (0.04 x sqrt(365)) = 0.130856   (crypto trades 365 days a year)
    size 0.20 x 0.130856 x R100,000 = R2,617.12        (R3,149.70 with the seed's 252 days)

and R903 is not reproduced anywhere. The size is the trade's exposure (notional); leverage only
lowers the margin that carries it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_risk_service import connect_frictionless, give_history, open_position

import helios
from helios.clock import ManualClock
from helios.errors import InvalidInput
from helios.risk.checks import MarketStats, OpenExposure, PortfolioState, ProposedTrade, evaluate
from helios.risk.limits import RiskLimits
from helios.risk.sizing import kelly, size

SEED = {
    "equity": 100_000.0,
    "win_probability": 0.85,
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.06,  # b = 0.06 / 0.02 = 3
    "daily_vol": 0.04,
    "kelly_fraction": 0.25,
    "vol_target_annual": 0.10,
    "periods_per_year": 365,
    "max_single_position_pct": 0.20,
}


def sized(**changes: Any):
    return size(**{**SEED, **changes})


# --- the seed's example, corrected ------------------------------------------------------------


def test_the_seeds_85pct_3_to_1_BTC_signal_at_4pct_vol_sizes_R2617_12_not_R903():
    result = sized()
    assert result.reward_risk == pytest.approx(3.0)
    assert result.full_kelly == pytest.approx(0.80, abs=1e-12)  # the seed says 0.23
    assert result.fractional_kelly == pytest.approx(0.20, abs=1e-12)
    assert result.annual_vol == pytest.approx(0.04 * math.sqrt(365))  # 76.42%
    assert result.vol_scalar == pytest.approx(0.130856, abs=1e-6)
    assert result.target_notional_zar == pytest.approx(2_617.1196, abs=1e-4)
    assert result.position_size_zar == 2_617.12
    assert result.notional_zar == 2_617.12
    assert result.capped is False
    assert result.cap_zar == 20_000.0
    assert result.explanation == (
        "Kelly 0.8000 x 0.25 = 0.2000; vol scalar 0.1 / (0.0400 x sqrt(365)) = 0.1309; "
        "x equity R100,000.00 = R2,617.12 of notional"
    )


def test_with_the_seeds_252_trading_days_the_same_signal_sizes_R3149_70():
    result = sized(periods_per_year=252)
    assert result.vol_scalar == pytest.approx(0.157485, abs=1e-6)  # the seed's 0.157
    assert result.position_size_zar == 3_149.70


def test_kelly_is_p_b_minus_q_over_b():
    assert kelly(0.85, 3.0) == pytest.approx(0.80, abs=1e-15)
    assert kelly(0.5, 1.0) == pytest.approx(0.0, abs=1e-15)
    assert kelly(0.6, 2.0) == pytest.approx(0.4, abs=1e-15)  # (1.2 - 0.4) / 2
    assert kelly(0.2, 3.0) == pytest.approx(-0.2 / 3, abs=1e-15)


def test_a_signal_without_an_edge_sizes_zero_and_says_why():
    result = sized(win_probability=0.2)
    assert result.position_size_zar == 0.0
    assert result.full_kelly == pytest.approx(-0.0666667, abs=1e-6)
    assert result.fractional_kelly == 0.0
    assert result.explanation == "no edge: full Kelly -0.0667 <= 0 at p=0.20, b=3.00"


@pytest.mark.parametrize("vol", [None, 0.0, float("nan"), float("inf")])
def test_without_a_usable_volatility_estimate_the_size_is_zero_fail_closed(vol):
    result = sized(daily_vol=vol)
    assert result.position_size_zar == 0.0
    assert result.notional_zar == 0.0
    assert result.vol_scalar is None
    assert result.explanation == "no volatility estimate: cannot size (fail closed)"


# --- caps --------------------------------------------------------------------------------------


def test_a_strong_signal_in_a_calm_market_is_capped_by_the_single_position_limit():
    """p = 0.95, b = 3 at 0.5% daily vol: 0.2333 x 1.0468 x R100,000 = R24,426 > R20,000."""
    result = sized(win_probability=0.95, daily_vol=0.005)
    assert result.target_notional_zar == pytest.approx(24_426.45, abs=0.01)
    assert result.capped is True
    assert result.cap_limit == "max_single_position_pct"
    assert result.position_size_zar == 20_000.0
    assert result.explanation.endswith(
        "; capped at R20,000.00 of margin by max_single_position_pct"
    )


def test_the_pairs_existing_notional_counts_against_the_single_position_cap():
    result = sized(existing_pair_notional=18_500.0)
    assert result.cap_zar == 1_500.0
    assert (result.position_size_zar, result.capped) == (1_500.0, True)
    full = sized(existing_pair_notional=25_000.0)  # already over the limit: nothing more
    assert (full.position_size_zar, full.cap_zar) == (0.0, 0.0)


def test_the_leverage_limit_caps_the_size_when_the_book_is_nearly_fully_levered():
    result = sized(max_leverage=3.0, existing_gross_notional=299_000.0)
    assert result.cap_limit == "max_leverage"
    assert (result.position_size_zar, result.capped) == (1_000.0, True)
    roomy = sized(max_leverage=3.0, existing_gross_notional=100_000.0)
    assert (roomy.position_size_zar, roomy.capped) == (2_617.12, False)


def test_leverage_lowers_the_margin_and_keeps_the_exposure():
    """Vol targeting sizes the exposure: at 2x the same R2,617.12 of notional needs R1,308.56."""
    result = sized(leverage=2.0)
    assert result.position_size_zar == 1_308.56
    assert result.notional_zar == 2_617.12
    assert result.explanation.endswith("; at 2x leverage R1,308.56 of margin")


def test_a_capped_size_is_rounded_down_so_the_check_it_feeds_still_passes():
    """At 3x the single-position cap is R20,000 / 3 = R6,666.666...: R6,666.67 would be a
    R20,000.01 position, over the limit; the size is R6,666.66."""
    result = sized(win_probability=0.95, daily_vol=0.005, leverage=3.0)
    assert result.position_size_zar == 6_666.66
    trade = ProposedTrade("BTCZAR", "BUY", result.position_size_zar, 3.0, "crypto", 1.2e6)
    stats = MarketStats({"BTCZAR": 0.005}, ("BTCZAR",), ((0.005**2,),), 365)
    verdict = evaluate(PortfolioState(100_000.0, 100_000.0, 100_000.0), RiskLimits(), trade, stats)
    assert verdict.passed is True, verdict.reason


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    equity=st.floats(1_000, 1e7),
    p=st.floats(0.51, 0.99),
    vol=st.floats(0.001, 0.1),
    leverage=st.floats(1.0, 3.0),
    existing_pair=st.floats(0.0, 0.3),
    existing_other=st.floats(0.0, 3.0),
    single=st.floats(0.01, 1.0),
    max_leverage=st.floats(1.0, 10.0),
)
def test_a_sized_trade_never_breaks_the_single_position_or_leverage_limit(
    equity, p, vol, leverage, existing_pair, existing_other, single, max_leverage
):
    leverage = min(leverage, max_leverage)
    pair_notional = existing_pair * equity
    other_notional = existing_other * equity
    result = sized(
        equity=equity,
        win_probability=p,
        daily_vol=vol,
        leverage=leverage,
        max_single_position_pct=single,
        existing_pair_notional=pair_notional,
        max_leverage=max_leverage,
        existing_gross_notional=pair_notional + other_notional,
    )
    assert result.position_size_zar >= 0
    assert result.position_size_zar == round(result.position_size_zar, 2)
    if result.position_size_zar == 0:
        return
    positions = (
        OpenExposure("BTCZAR", "BUY", pair_notional, "crypto"),
        OpenExposure("USDTZAR", "BUY", other_notional, "stablecoin"),
    )
    state = PortfolioState(equity, equity, equity, positions)
    trade = ProposedTrade("BTCZAR", "BUY", result.position_size_zar, leverage, "crypto", 1.2e6)
    limits = RiskLimits(max_single_position_pct=single, max_leverage=max_leverage)
    stats = MarketStats({"BTCZAR": vol, "USDTZAR": 0.001}, (), (), 0)
    by_name = {c.name: c for c in evaluate(state, limits, trade, stats).checks}
    assert by_name["single_position"].passed, by_name["single_position"].message
    assert by_name["leverage"].passed, by_name["leverage"].message


# --- hx.risk.size_position: the same sizing fed from the database ----------------------------


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """A frictionless R100,000 book whose BTC moves exactly 4% a day (tests/test_risk_service)."""
    with connect_frictionless(database_url, clock) as hx:
        give_history(hx, {"BTCZAR": 40, "ETHZAR": 40, "SOLZAR": 40})
        yield hx


def test_hx_sizes_the_seeds_signal_at_R2617_12_and_shows_every_intermediate(book: helios.Helios):
    result = book.risk.size_position("BTCZAR", "BUY", 0.85)
    assert result.position_size_zar == 2_617.12
    assert result.to_dict() == {
        "position_size_zar": 2_617.12,
        "notional_zar": 2_617.12,
        "win_probability": 0.85,
        "reward_risk": pytest.approx(3.0),
        "full_kelly": pytest.approx(0.8),
        "kelly_fraction": 0.25,
        "fractional_kelly": pytest.approx(0.2),
        "daily_vol": pytest.approx(0.04, rel=1e-9),
        "annual_vol": pytest.approx(0.04 * math.sqrt(365), rel=1e-9),
        "vol_target_annual": 0.10,
        "periods_per_year": 365,
        "vol_scalar": pytest.approx(0.130856, abs=1e-6),
        "target_notional_zar": pytest.approx(2_617.1196, abs=1e-3),
        "uncapped_size_zar": pytest.approx(2_617.1196, abs=1e-3),
        "cap_zar": 20_000.0,
        "cap_limit": "max_single_position_pct",
        "capped": False,
        "equity": 100_000.0,
        "leverage": 1.0,
        "explanation": "Kelly 0.8000 x 0.25 = 0.2000; vol scalar 0.1 / (0.0400 x sqrt(365)) = "
        "0.1309; x equity R100,000.00 = R2,617.12 of notional",
        "sizing_method": "kelly_vol",  # SIZING_METHOD's default
        "optimizer_cap": None,
    }
    # the sized trade passes the checks as it is
    verdict = book.risk.preview("BTCZAR", "BUY", {"position_size_zar": result.position_size_zar})
    assert verdict.passed is True


def test_hx_sizing_uses_the_periods_per_year_setting(database_url: str, clock: ManualClock):
    with helios.connect(
        database_url, clock=clock, market_feed="manual", periods_per_year=252
    ) as hx:
        give_history(hx, {"BTCZAR": 40})
        assert hx.risk.size_position("BTCZAR", "BUY", 0.85).position_size_zar == 3_149.70


def test_hx_sizing_counts_what_is_already_open_in_the_pair(book: helios.Helios):
    open_position(book, "BTCZAR", "BUY", "9000", "2")  # R18,000 of BTC open
    result = book.risk.size_position("BTCZAR", "BUY", 0.85, take_profit_pct=0.06)
    # 18,000 / 1,200,000 = 0.015 BTC exactly (no fee, no slippage): R2,000 of room is left
    assert result.cap_zar == 2_000.0
    assert (result.position_size_zar, result.capped) == (2_000.0, True)
    assert result.target_notional_zar == pytest.approx(2_617.12, abs=0.01)
    assert book.ledger.valuation().equity == Decimal("100000")


def test_hx_sizing_without_a_volatility_estimate_is_zero(database_url: str, clock: ManualClock):
    with connect_frictionless(database_url, clock) as hx:
        give_history(hx, {"BTCZAR": 5})
        result = hx.risk.size_position("BTCZAR", "BUY", 0.85)
        assert (result.position_size_zar, result.daily_vol) == (0.0, None)
        assert result.explanation == "no volatility estimate: cannot size (fail closed)"


BAD_SIZING = [
    ({"pair": "DOGEZAR"}, "pair"),
    ({"signal": "HOLD"}, "signal"),
    ({"confidence": 0}, "confidence"),
    ({"confidence": 1}, "confidence"),
    ({"confidence": 1.2}, "confidence"),
    ({"confidence": float("nan")}, "confidence"),
    ({"confidence": "high"}, "confidence"),
    ({"confidence": True}, "confidence"),
    ({"confidence": None}, "confidence"),
    ({"stop_loss_pct": 1.5}, "trade_params.stop_loss_pct"),
    ({"stop_loss_pct": 0}, "trade_params.stop_loss_pct"),
    ({"take_profit_pct": 0}, "trade_params.take_profit_pct"),
    ({"leverage": 0.5}, "trade_params.leverage"),
    ({"leverage": 3.5}, "trade_params.leverage"),
]


def test_bad_sizing_input_is_refused_naming_the_field(book: helios.Helios):
    for change, field in BAD_SIZING:
        call = {"pair": "BTCZAR", "signal": "BUY", "confidence": 0.85, **change}
        with pytest.raises(InvalidInput) as caught:
            book.risk.size_position(**call)
        assert caught.value.field == field, change
