"""The demo's stop, target and holding time (helios.demo_levels): sane against the fees and the
pair's volatility, so a reached target is a net win; and how the console knows a demo record."""

from __future__ import annotations

import math

import pytest

from helios.demo_levels import REASONING, SOURCE, DemoMarket, demo_levels, is_demo

FEE, SLIP = 0.0035, 0.0005  # the PAPER defaults: 0.8% round trip
COSTS = 2 * (FEE + SLIP)


def market(vol: float | None, longest: float = 72.0) -> DemoMarket:
    return DemoMarket(
        fee_pct=FEE, slippage_pct=SLIP, hourly_volatility=vol, max_holding_hours=longest
    )


def test_a_calm_pair_gets_a_target_three_times_the_fees_and_a_stop_at_half():
    btc = 0.55 / math.sqrt(365 * 24)  # the sim's BTC: 0.59% an hour
    levels = demo_levels(market(btc))
    assert levels.round_trip_cost_pct == pytest.approx(0.008)
    assert levels.take_profit_pct == pytest.approx(0.024)  # 3 x 0.8%, above 2 x 0.59%
    assert levels.stop_loss_pct == pytest.approx(0.012)
    # a one-sigma move reaches 2.4% in (2.4 / 0.588)^2 = 16.6 hours
    assert levels.max_holding_hours == pytest.approx((0.024 / btc) ** 2, rel=1e-3)
    assert 16 < levels.max_holding_hours < 17
    # the old demo: a 0.3% target against 0.8% of costs lost on every win
    assert levels.take_profit_pct - levels.round_trip_cost_pct > 0.015
    assert "3 x round-trip costs 0.80%" in levels.reason


def test_a_wild_pair_gets_a_target_of_two_hours_of_movement_and_the_stop_follows():
    levels = demo_levels(market(0.02))  # 2% an hour
    assert levels.take_profit_pct == pytest.approx(0.04)  # 2 x 2% > 2.4%
    assert levels.stop_loss_pct == pytest.approx(0.02)  # max(4% / 2, 1 x 2%)
    assert levels.max_holding_hours == pytest.approx(4.0)  # (4% / 2%)^2
    assert levels.trade_params() == {
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.04,
        "max_holding_hours": 4.0,
    }


def test_the_holding_time_stays_within_bounds():
    assert demo_levels(market(0.0001)).max_holding_hours == 24.0  # very calm: capped at a day
    assert demo_levels(market(0.0001, longest=6.0)).max_holding_hours == 6.0  # the settings' max
    assert demo_levels(market(0.5)).max_holding_hours == 4.0  # (2 x vol / vol)^2
    assert demo_levels(market(0.0001, longest=0.5)).max_holding_hours == 0.5


@pytest.mark.parametrize("vol", [None, 0.0, float("nan"), -0.01])
def test_without_a_volatility_the_fees_alone_set_the_levels(vol: float | None):
    levels = demo_levels(market(vol, longest=12.0))
    assert levels.take_profit_pct == pytest.approx(0.024)
    assert levels.stop_loss_pct == pytest.approx(0.012)
    assert levels.max_holding_hours == 12.0
    assert "no recent volatility" in levels.reason


def test_higher_fees_raise_the_target():
    dear = DemoMarket(
        fee_pct=0.01, slippage_pct=0.001, hourly_volatility=0.005, max_holding_hours=72
    )
    assert demo_levels(dear).take_profit_pct == pytest.approx(3 * 2 * 0.011)


def test_demo_records_are_known_by_source_or_reasoning():
    assert is_demo(source=SOURCE)
    assert is_demo(reasoning=REASONING)
    assert not is_demo(source="api:ml-tier", reasoning="manual trade from the dashboard by x")
    assert not is_demo(reasoning="a DEMO: mentioned later")
    assert not is_demo()
