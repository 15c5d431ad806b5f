"""``hx.risk.explain``: a stored decision read back (the why-this-trade notebook's figures), and the
pure sizing steps of ``helios.risk.explanation``."""

from __future__ import annotations

import pytest

import helios
from helios.errors import InvalidInput
from helios.risk.explanation import GIVEN, sizing_steps
from helios.risk.sizing import size
from tests.factories import SEED_TRADE, give_market


def test_the_sizing_steps_are_the_rules_own_figures():
    # the seed's example (helios/risk/sizing.py): p 0.85, b 3, 4% daily vol, 365 periods
    result = size(
        equity=100_000,
        win_probability=0.85,
        stop_loss_pct=0.02,
        take_profit_pct=0.06,
        daily_vol=0.04,
        kelly_fraction=0.25,
        vol_target_annual=0.10,
        periods_per_year=365,
        max_single_position_pct=0.20,
    )
    steps = {s.name: s for s in sizing_steps(result.to_dict())}
    assert steps["full Kelly f"].value == pytest.approx(0.80)
    assert steps["fractional Kelly"].value == pytest.approx(0.20)
    assert steps["volatility scalar"].value == pytest.approx(0.1309, abs=1e-4)
    assert steps["size (margin)"].value == 2617.12
    assert steps["cap"].value == 20_000 and steps["cap"].how.endswith("not reached")
    assert "(0.8500 x 3.0000 - 0.1500) / 3.0000" in steps["full Kelly f"].how
    assert list(steps)[-1] == "notional"


def test_a_capped_size_says_which_limit_bound():
    result = size(
        equity=100_000,
        win_probability=0.95,
        stop_loss_pct=0.01,
        take_profit_pct=0.10,
        daily_vol=0.005,
        kelly_fraction=1.0,
        vol_target_annual=0.5,
        periods_per_year=365,
        max_single_position_pct=0.20,
    )
    steps = {s.name: s for s in sizing_steps(result.to_dict())}
    assert result.capped and steps["size (margin)"].value == 20_000
    assert steps["cap"].how == "the largest margin max_single_position_pct allows: it bound"


@pytest.fixture
def market_hx(hx: helios.Helios) -> helios.Helios:
    give_market(hx)
    return hx


def test_a_decision_found_by_its_id_its_signal_and_its_position(market_hx: helios.Helios):
    hx = market_hx
    receipt = hx.signals.submit(
        "BTCZAR", "BUY", 0.85, True, trade_params={"stop_loss_pct": 0.02, "take_profit_pct": 0.06}
    )
    hx.signals.process_pending()
    signal = hx.signals.get(receipt["signal_id"])
    by_signal = hx.risk.explain(signal_id=signal["id"])
    by_position = hx.risk.explain(position_id=signal["position_id"])
    assert by_signal is not None and by_signal == by_position
    assert hx.risk.explain(by_signal.decision_id) == by_signal
    assert by_signal.passed and by_signal.position_id == signal["position_id"]
    assert by_signal.sized_by == "kelly_vol" and len(by_signal.checks) == 7
    margin = hx.positions.position_history(signal["position_id"])["position"]["position_size_zar"]
    assert by_signal.sizing_steps[-2].value == pytest.approx(float(margin))
    assert by_signal.equity == pytest.approx(100_000)


def test_a_refusal_with_a_given_size(market_hx: helios.Helios):
    hx = market_hx
    result = hx.risk.check_trade_risk("ETHZAR", "BUY", {**SEED_TRADE, "position_size_zar": 60_000})
    story = hx.risk.explain(result.decision_id)
    assert story is not None and not story.passed and story.position_id is None
    assert story.sized_by == GIVEN and story.sizing_steps == ()
    assert [c["name"] for c in story.failed_checks] == ["single_position"]
    assert story.reason == result.reason and story.trade["position_size_zar"] == 60_000


def test_a_decision_while_halted_judged_nothing(market_hx: helios.Helios):
    hx = market_hx
    hx.controls.halt("drill", by="tester")
    result = hx.risk.check_trade_risk("BTCZAR", "BUY", SEED_TRADE)
    story = hx.risk.explain(result.decision_id)
    assert story is not None and story.halted and story.checks == () and not story.passed


def test_a_signal_refused_before_the_checks_has_no_decision(market_hx: helios.Helios):
    hx = market_hx
    # no edge: Kelly (0.2 x 3 - 0.8) / 3 < 0, so the sizing gives no position and no decision
    receipt = hx.signals.submit(
        "BTCZAR", "BUY", 0.2, True, trade_params={"stop_loss_pct": 0.02, "take_profit_pct": 0.06}
    )
    hx.signals.process_pending()
    assert "no edge" in hx.signals.get(receipt["signal_id"])["status_reason"]
    assert hx.risk.explain(signal_id=receipt["signal_id"]) is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "decision_id/signal_id/position_id"),
        ({"decision_id": 1, "signal_id": 1}, "decision_id/signal_id/position_id"),
        ({"signal_id": 999}, "signal_id"),
        ({"position_id": 999}, "position_id"),
        ({"decision_id": 999}, "decision_id"),
        ({"position_id": "1"}, "position_id"),
        ({"decision_id": 0}, "decision_id"),
    ],
)
def test_bad_ids_are_refused_naming_the_field(hx: helios.Helios, kwargs: dict, field: str):
    kwargs = dict(kwargs)  # the parameter is shared by both databases' runs
    decision_id = kwargs.pop("decision_id", None)
    with pytest.raises(InvalidInput) as caught:
        hx.risk.explain(decision_id, **kwargs)
    assert caught.value.field == field
