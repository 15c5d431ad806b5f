"""The Black-Litterman optimizer as pure functions: ``helios.optimizer.model`` and ``views``.

No database here: the covariance, the market caps and the views are made by hand, so each
figure is checked against a value worked out beside it. The market used by most tests:

    annual volatility   BTCZAR 50%   ETHZAR 60%   SOLZAR 80%
    correlation         BTC-ETH 0.80, BTC-SOL 0.70, ETH-SOL 0.75
    market caps         6 : 3 : 1  -> prior weights 0.6, 0.3, 0.1
    delta 2.5, tau 0.05, risk-free rate 7%, predictions over 365 days (used as given)

The same functions run behind ``hx.optimizer`` (tests/test_optimizer_service.py).
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helios.errors import InvalidInput
from helios.optimizer import model
from helios.optimizer.views import annualise, parse_request

PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR")
VOLS = np.array([0.5, 0.6, 0.8])
CORR = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])
COV = CORR * np.outer(VOLS, VOLS)
CAPS = np.array([6.0, 3.0, 1.0])
RF = 0.07
ALL_SURE = {"BTCZAR": 1.0, "ETHZAR": 1.0, "SOLZAR": 1.0}


def solve(
    predictions: dict[str, float] | None = None,
    confidences: dict[str, float] | None = None,
    horizon: float = 365.0,
    **changes: Any,
) -> dict[str, Any]:
    """``model.solve`` on the hand-made market with these views (annualised over ``horizon``)."""
    predictions = predictions or {}
    problem = {
        "pairs": PAIRS,
        "cov": COV,
        "market_caps": CAPS,
        "predictions": predictions,
        "confidences": confidences or {},
        "views": {p: annualise(r, horizon, 365) for p, r in predictions.items()},
        "risk_aversion": 2.5,
        "tau": 0.05,
        "risk_free_rate": RF,
        "max_weight": 1.0,
        "horizon_days": horizon,
        "periods_per_year": 365,
    }
    return model.solve(model.Problem(**{**problem, **changes}))


def assert_valid(weights: dict[str, float], max_weight: float = 1.0) -> None:
    assert list(weights) == list(PAIRS)
    assert all(w >= 0 for w in weights.values())
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert max(weights.values()) <= max_weight + 1e-6


# --- steps 2 and 3: the prior ---------------------------------------------------------------------


def test_implied_equilibrium_returns_are_delta_sigma_w_exactly_on_a_hand_made_3_asset_market():
    """Numbers chosen to be exact in binary: w = (2, 1, 1) / 4 = (0.5, 0.25, 0.25);
    Sigma w = (0.125 + 0.015625, 0.03125 + 0.125 + 0.03125, 0.03125 + 0.25)
            = (0.140625, 0.1875, 0.28125); x 2.5 = (0.3515625, 0.46875, 0.703125)."""
    cov = np.array([[0.25, 0.0625, 0.0], [0.0625, 0.5, 0.125], [0.0, 0.125, 1.0]])
    result = solve(cov=cov, market_caps=np.array([2.0, 1.0, 1.0]))
    assert result["prior_weights"] == {"BTCZAR": 0.5, "ETHZAR": 0.25, "SOLZAR": 0.25}
    pi = result["implied_equilibrium_returns"]
    assert pi == {"BTCZAR": 0.3515625, "ETHZAR": 0.46875, "SOLZAR": 0.703125}
    assert list(pi.values()) == (2.5 * cov @ np.array([0.5, 0.25, 0.25])).tolist()
    # the prior return is the excess return plus cash
    assert result["prior_returns"] == {p: pi[p] + RF for p in PAIRS}


def test_without_views_the_posterior_is_the_prior_and_the_optimizer_holds_the_market():
    """Max Sharpe over returns implied by the market's weights gives back those weights."""
    result = solve()
    assert result["method"] == "max_sharpe"
    assert result["fallback"] == []
    assert result["posterior_returns"] == result["prior_returns"]
    np.testing.assert_allclose(list(result["weights"].values()), [0.6, 0.3, 0.1], atol=1e-6)
    assert_valid(result["weights"])


# --- step 4: views and Idzorek's confidences ------------------------------------------------------


def test_confidence_1_for_a_single_absolute_view_puts_the_posterior_on_the_view():
    result = solve({"SOLZAR": 0.5}, {"SOLZAR": 1.0})
    assert result["posterior_returns"]["SOLZAR"] == pytest.approx(0.5, abs=1e-12)
    assert result["views"]["omega"] == [0.0]  # no uncertainty left in the view


def test_confidence_0_leaves_the_posterior_at_the_prior():
    prior = solve()["prior_returns"]
    result = solve({"SOLZAR": 0.5}, {"SOLZAR": 0.0})
    for pair in PAIRS:
        assert result["posterior_returns"][pair] == pytest.approx(prior[pair], abs=1e-6)
    assert result["views"]["omega"] == [1e6]  # PyPortfolioOpt's stand-in for infinity


def test_with_one_view_confidence_c_moves_the_posterior_c_of_the_way_to_the_view():
    """Idzorek via Walters' closed form: omega = tau (1 - c) / c x sigma^2, so the posterior of
    the viewed asset is prior + tau sigma^2 / (tau sigma^2 + omega) (Q - prior)
    = prior + c (Q - prior). SOL: prior 2.5 x (Sigma w)_SOL + 7% = 0.85 + 0.07 = 0.92;
    c = 0.85 -> 0.92 + 0.85 x (0.5 - 0.92) = 0.563; omega = 0.05 x 0.15/0.85 x 0.64."""
    result = solve({"SOLZAR": 0.5}, {"SOLZAR": 0.85})
    assert result["prior_returns"]["SOLZAR"] == pytest.approx(0.92, abs=1e-12)
    assert result["posterior_returns"]["SOLZAR"] == pytest.approx(0.563, abs=1e-12)
    assert result["views"]["omega"] == [pytest.approx(0.05 * 0.15 / 0.85 * 0.64, rel=1e-12)]
    assert result["views"]["Q"] == [0.5]
    assert result["views"]["P"] == [[0.0, 0.0, 1.0]]


def test_raising_a_confidence_moves_that_posterior_toward_its_view_monotonically():
    """Three views; SOL's confidence from 0 to 1 while BTC and ETH stay at 85% and 75%."""
    views = {"BTCZAR": 0.3, "ETHZAR": 0.2, "SOLZAR": 1.5}
    distances = []
    for c in np.linspace(0.0, 1.0, 11):
        result = solve(views, {"BTCZAR": 0.85, "ETHZAR": 0.75, "SOLZAR": float(c)})
        distances.append(abs(result["posterior_returns"]["SOLZAR"] - 1.5))
    assert all(b < a for a, b in pairwise(distances)), distances
    assert distances[-1] == pytest.approx(0.0, abs=1e-12)


def test_raising_a_predicted_return_never_lowers_that_pairs_weight():
    weights = []
    for prediction in np.linspace(0.0, 2.0, 21):
        result = solve(
            {"BTCZAR": 0.3, "ETHZAR": 0.25, "SOLZAR": float(prediction)},
            {"BTCZAR": 0.85, "ETHZAR": 0.75, "SOLZAR": 0.9},
        )
        assert result["method"] == "max_sharpe"
        weights.append(result["weights"]["SOLZAR"])
    assert all(b >= a - 1e-7 for a, b in pairwise(weights)), weights
    assert weights[0] == pytest.approx(0.0, abs=1e-6)
    assert weights[-1] == pytest.approx(1.0, abs=1e-6)  # SOL at +200% takes everything


# --- the view horizon -----------------------------------------------------------------------------


def test_a_prediction_over_h_days_becomes_the_annual_view_r_x_365_over_h():
    assert annualise(0.05, 365, 365) == 0.05  # a year: used as given
    assert annualise(0.05, 3, 365) == pytest.approx(0.05 * 365 / 3)  # +608.3% a year
    assert annualise(0.05, 3, 365) == pytest.approx(6.0833333333, abs=1e-9)
    assert annualise(-0.02, 7, 365) == pytest.approx(-1.0428571429, abs=1e-9)
    result = solve({"BTCZAR": 0.05, "SOLZAR": 0.08}, {"BTCZAR": 0.85, "SOLZAR": 0.9}, horizon=3)
    assert result["views"]["Q"] == [pytest.approx(6.0833333333), pytest.approx(9.7333333333)]
    assert result["views"]["annualisation"] == "view = prediction x 365 / 3 days (linear)"


def test_the_weights_do_not_depend_on_the_unit_of_time():
    """Linear annualisation scales means and (through the covariance) variances alike: views of
    r over 30 days on a covariance per 30 days give the weights of r x 365/30 a year on the
    annual covariance. (Compounding would not.)"""
    views, sure = {"BTCZAR": 0.02, "ETHZAR": 0.01, "SOLZAR": 0.03}, ALL_SURE
    annual = solve(views, sure, horizon=30)
    scale = 30 / 365
    per_month = solve(
        {p: annualise(r, 30, 365) * scale for p, r in views.items()},
        sure,
        cov=COV * scale,
        risk_free_rate=RF * scale,
    )
    np.testing.assert_allclose(
        list(annual["weights"].values()), list(per_month["weights"].values()), atol=1e-6
    )


# --- step 5: max Sharpe, and the weight cap -------------------------------------------------------


def test_max_sharpe_on_a_diagonal_covariance_with_equal_excess_per_unit_variance_is_equal():
    """Tangency weights are proportional to Sigma^-1 (mu - rf): variances 0.25, 0.5, 1 and
    excess returns 0.1, 0.2, 0.4 give 0.4 each, so 1/3 each."""
    diagonal = np.diag([0.25, 0.5, 1.0])
    result = solve({"BTCZAR": 0.17, "ETHZAR": 0.27, "SOLZAR": 0.47}, ALL_SURE, cov=diagonal)
    assert result["method"] == "max_sharpe"
    np.testing.assert_allclose(list(result["weights"].values()), [1 / 3] * 3, atol=1e-6)
    assert result["expected_return"] == pytest.approx((0.17 + 0.27 + 0.47) / 3, abs=1e-6)
    volatility = np.sqrt((0.25 + 0.5 + 1.0) / 9)
    assert result["volatility"] == pytest.approx(volatility, abs=1e-6)
    assert result["sharpe"] == pytest.approx(((0.91 / 3) - RF) / volatility, abs=1e-5)


def test_no_pair_gets_more_than_max_weight():
    uncapped = solve({"SOLZAR": 3.0}, {"SOLZAR": 0.9})
    assert uncapped["weights"]["SOLZAR"] == pytest.approx(0.5993, abs=1e-4)
    capped = solve({"SOLZAR": 3.0}, {"SOLZAR": 0.9}, max_weight=0.4)
    assert capped["weights"]["SOLZAR"] == pytest.approx(0.4, abs=1e-6)
    assert_valid(capped["weights"], max_weight=0.4)


def test_the_efficient_frontier_runs_from_minimum_volatility_to_the_highest_capped_return():
    result = solve({"SOLZAR": 1.5}, {"SOLZAR": 0.9}, frontier_points=8, max_weight=0.5)
    points = result["efficient_frontier"]
    assert len(points) == 8
    returns = [p["expected_return"] for p in points]
    vols = [p["volatility"] for p in points]
    assert returns == sorted(returns) and vols == sorted(vols)
    posterior = np.array(list(result["posterior_returns"].values()))
    top = 0.5 * np.sort(posterior)[-1] + 0.5 * np.sort(posterior)[-2]  # the cap fills 2 pairs
    assert returns[-1] == pytest.approx(top, abs=1e-4)
    for point in points:
        assert_valid(point["weights"], max_weight=0.5)
    # the chosen portfolio is on the frontier: none of its points has a higher Sharpe ratio
    assert max(p["sharpe"] for p in points) <= result["sharpe"] + 1e-6


# --- fallbacks, each reported with its reason -----------------------------------------------------


def test_when_every_posterior_return_is_below_cash_the_weights_are_minimum_volatility():
    """Max Sharpe is undefined then (PyPortfolioOpt refuses); minimum variance on a diagonal
    covariance weighs by 1 / variance: 4 : 2 : 1."""
    diagonal = np.diag([0.25, 0.5, 1.0])
    result = solve({"BTCZAR": -0.1, "ETHZAR": -0.2, "SOLZAR": -0.3}, ALL_SURE, cov=diagonal)
    assert result["method"] == "min_volatility"
    assert result["fallback"] == [
        {
            "kind": "min_volatility",
            "reason": "every posterior return is at or below the risk-free rate 7.00% "
            "(highest: BTCZAR -10.00%): minimum volatility instead of max Sharpe",
        }
    ]
    np.testing.assert_allclose(list(result["weights"].values()), [4 / 7, 2 / 7, 1 / 7], atol=1e-6)


def test_a_solver_failure_gives_equal_weights_with_the_solvers_message():
    """One iteration is not enough for OSQP (cvxpy's choice for these quadratic programs): it
    stops with status user_limit."""
    result = solve({"SOLZAR": 1.5}, {"SOLZAR": 0.9}, solver_options={"max_iter": 1})
    assert result["method"] == "equal_weights"
    assert result["weights"] == {p: 1 / 3 for p in PAIRS}
    assert result["fallback"] == [
        {
            "kind": "solver_failure",
            "reason": "max_sharpe failed (Please check your objectives/constraints or use a "
            "different solver.; Solver status: user_limit): equal weights",
        }
    ]
    assert result["posterior_returns"] is not None  # everything before the solver stands
    assert result["expected_return"] == pytest.approx(
        np.mean(list(result["posterior_returns"].values()))
    )


def test_an_indefinite_covariance_is_repaired_and_the_repair_reported():
    """BTC-ETH covariance 0.3 > sqrt(0.25 x 0.25): eigenvalues -0.05, 0.55 and 1."""
    indefinite = np.array([[0.25, 0.3, 0.0], [0.3, 0.25, 0.0], [0.0, 0.0, 1.0]])
    result = solve(cov=indefinite)
    assert result["fallback"] == [
        {
            "kind": "covariance_repaired",
            "reason": "covariance not positive definite (smallest eigenvalue -0.05, largest 1): "
            "negative eigenvalues set to 0 (PyPortfolioOpt fix_nonpositive_semidefinite, "
            "spectral), then shrunk 0.1% toward its diagonal",
        }
    ]
    repaired = np.array([list(row.values()) for row in result["covariance"].values()])
    assert np.linalg.eigvalsh(repaired)[0] > 0
    assert result["method"] == "max_sharpe"
    assert_valid(result["weights"])


def test_a_singular_covariance_is_shrunk_until_positive_definite():
    """BTC and ETH identical: positive semidefinite but singular."""
    singular = np.array([[0.25, 0.25, 0.0], [0.25, 0.25, 0.0], [0.0, 0.0, 1.0]])
    result = solve(cov=singular)
    assert result["fallback"] == [
        {
            "kind": "covariance_repaired",
            "reason": "covariance not positive definite (smallest eigenvalue 0, largest 1): "
            "shrunk 0.1% toward its diagonal",
        }
    ]
    assert result["warnings"] == [
        "BTCZAR and ETHZAR are correlated 0.999 (> 0.95): little diversification between them"
    ]


def test_pairs_correlated_above_0_95_draw_a_warning_not_a_failure():
    corr = np.array([[1.0, 0.96, 0.5], [0.96, 1.0, 0.5], [0.5, 0.5, 1.0]])
    result = solve(cov=corr * np.outer(VOLS, VOLS))
    assert result["warnings"] == [
        "BTCZAR and ETHZAR are correlated 0.960 (> 0.95): little diversification between them"
    ]
    assert result["fallback"] == []
    assert result["method"] == "max_sharpe"


def test_without_a_covariance_the_weights_are_equal_and_the_callers_reason_is_kept():
    reason = {"kind": "not_enough_history", "reason": "not enough history: 12 days < 30"}
    result = solve({"SOLZAR": 0.5}, {"SOLZAR": 0.9}, cov=None, fallbacks=(reason,))
    assert result["weights"] == {p: 1 / 3 for p in PAIRS}
    assert result["method"] == "equal_weights"
    assert result["fallback"] == [reason]
    assert result["posterior_returns"] is None and result["prior_returns"] is None


def test_the_explanation_is_plain_json():
    result = solve({"SOLZAR": 0.5}, {"SOLZAR": 0.9}, frontier_points=3)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    for key in (
        "prior_returns",
        "posterior_returns",
        "weights",
        "fallback",
        "covariance",
        "prior_weights",
        "implied_equilibrium_returns",
        "views",
        "expected_return",
        "volatility",
        "sharpe",
        "efficient_frontier",
        "warnings",
    ):
        assert key in result, key


# --- bad input, named -----------------------------------------------------------------------------

GOOD = {
    "pairs": ["BTCZAR", "ETHZAR", "SOLZAR"],
    "ml_predictions": {"BTCZAR": 0.05, "ETHZAR": 0.03, "SOLZAR": 0.08},
    "confidence_scores": {"BTCZAR": 0.85, "ETHZAR": 0.75, "SOLZAR": 0.90},
}
KNOWN = ["BTCZAR", "ETHZAR", "SOLZAR", "XRPZAR"]
SQUARE = [[0.25, 0.1, 0.1], [0.1, 0.36, 0.1], [0.1, 0.1, 0.64]]
BAD = [
    ({"pairs": ["BTCZAR"]}, "pairs"),  # a single pair
    ({"pairs": ["BTCZAR", "BTCZAR", "ETHZAR"]}, "pairs"),
    ({"pairs": ["BTCZAR", "DOGEZAR", "ETHZAR"]}, "pairs"),  # not configured
    ({"pairs": "BTCZAR,ETHZAR"}, "pairs"),
    ({"ml_predictions": {"BTCZAR": 0.05, "XRPZAR": 0.1}}, "ml_predictions"),  # not listed
    ({"ml_predictions": {"SOLZAR": float("nan")}}, "ml_predictions.SOLZAR"),
    ({"ml_predictions": {"SOLZAR": float("inf")}}, "ml_predictions.SOLZAR"),
    ({"ml_predictions": {"SOLZAR": -1.0}}, "ml_predictions.SOLZAR"),
    ({"ml_predictions": {"SOLZAR": "high"}}, "ml_predictions.SOLZAR"),
    ({"ml_predictions": [0.05, 0.03]}, "ml_predictions"),
    ({"confidence_scores": {"BTCZAR": 1.2, "ETHZAR": 0.75, "SOLZAR": 0.9}}, "confidence_scores"),
    ({"confidence_scores": {"BTCZAR": -0.1, "ETHZAR": 0.7, "SOLZAR": 0.9}}, "confidence_scores"),
    ({"confidence_scores": {"BTCZAR": float("nan"), "ETHZAR": 0.7, "SOLZAR": 0.9}}, "confidence"),
    ({"confidence_scores": {"BTCZAR": True, "ETHZAR": 0.7, "SOLZAR": 0.9}}, "confidence"),
    ({"confidence_scores": {"BTCZAR": 0.85, "ETHZAR": 0.75}}, "confidence_scores.SOLZAR"),
    ({"cov": [[0.25, 0.1], [0.1, 0.36]]}, "cov"),  # 2 x 2 for 3 pairs
    ({"cov": [[0.25, 0.1, 0.1], [0.1, 0.36, 0.1]]}, "cov"),  # not square
    ({"cov": [[0.25, 0.2, 0.1], [0.1, 0.36, 0.1], [0.1, 0.1, 0.64]]}, "cov"),  # asymmetric
    ({"cov": [[0.25, 0.1, 0.1], [0.1, float("nan"), 0.1], [0.1, 0.1, 0.64]]}, "cov"),
    ({"cov": [[0.25, 0.1, 0.1], [0.1, -0.36, 0.1], [0.1, 0.1, 0.64]]}, "cov"),  # variance < 0
    ({"cov": pd.DataFrame(SQUARE, index=["A", "B", "C"], columns=["A", "B", "C"])}, "cov"),
    ({"market_caps": {"BTCZAR": 3e13, "ETHZAR": -7e12, "SOLZAR": 1e12}}, "market_caps.ETHZAR"),
    ({"market_caps": {"BTCZAR": 3e13, "ETHZAR": 7e12}}, "market_caps.SOLZAR"),
    ({"market_caps": {"BTCZAR": 0, "ETHZAR": 0, "SOLZAR": 0}}, "market_caps"),
    ({"risk_aversion": 0}, "risk_aversion"),
    ({"risk_aversion": "high"}, "risk_aversion"),
    ({"tau": 0}, "tau"),
    ({"tau": 1.5}, "tau"),
    ({"risk_free_rate": 7}, "risk_free_rate"),  # 700%: a percent written as a fraction
    ({"max_weight": 0.3}, "max_weight"),  # 3 x 0.3 < 1
    ({"max_weight": 1.5}, "max_weight"),
    ({"prediction_horizon_days": 0}, "prediction_horizon_days"),
    ({"lookback_days": 1}, "lookback_days"),
    ({"frontier_points": -1}, "frontier_points"),
    ({"solver_options": "fast"}, "solver_options"),
    ({"gamma": 1}, "options"),  # an unknown option
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=lambda value: str(value)[:50])
def test_bad_input_is_refused_naming_the_field(change: dict[str, Any], field: str):
    call = {**GOOD, "options": {}}
    for key, value in change.items():
        if key in GOOD:
            call[key] = value
        else:
            call["options"] = {key: value}
    with pytest.raises(InvalidInput) as caught:
        parse_request(
            call["pairs"],
            call["ml_predictions"],
            call["confidence_scores"],
            call["options"],
            KNOWN,
        )
    assert caught.value.field.startswith(field), (caught.value.field, change)


def test_a_good_request_is_normalised():
    cov = pd.DataFrame(SQUARE, index=PAIRS, columns=PAIRS).loc[
        ["SOLZAR", "BTCZAR", "ETHZAR"], ["ETHZAR", "SOLZAR", "BTCZAR"]
    ]
    request = parse_request(
        ["btczar", "ETHZAR", "SOLZAR"],
        pd.Series({"SOLZAR": 0.08, "BTCZAR": 0.05}),
        {"BTCZAR": 0.85, "SOLZAR": 1},
        {"cov": cov, "max_weight": 0.5, "risk_aversion": "market", "tau": None},
        KNOWN,
    )
    assert request.pairs == PAIRS
    assert request.predictions == {"BTCZAR": 0.05, "SOLZAR": 0.08}  # in the pairs' order
    assert request.confidences == {"BTCZAR": 0.85, "SOLZAR": 1.0}
    np.testing.assert_array_equal(request.options["cov"], np.array(SQUARE))  # reordered
    assert request.options["max_weight"] == 0.5
    assert request.options["risk_aversion"] == "market"
    assert "tau" not in request.options  # None means the default


def test_rebalance_trades_split_the_sleeve_cap_at_the_single_limit_and_net_what_is_held():
    from helios.optimizer.target import rebalance_trades

    rows = {
        r["pair"]: r
        for r in rebalance_trades(
            {"BTCZAR": 0.5, "ETHZAR": 0.3, "SOLZAR": 0.2},
            equity=100_000,
            sector_limit_pct=0.60,
            single_limit_pct=0.20,
            held_notional={"ETHZAR": 25_000, "SOLZAR": -5_000},
        )
    }
    # BTC: 0.5 x 60,000 = 30,000, capped at 20,000; nothing held: buy 20,000
    assert (rows["BTCZAR"]["target_notional_zar"], rows["BTCZAR"]["capped"]) == (20_000, True)
    assert (rows["BTCZAR"]["side"], rows["BTCZAR"]["trade_notional_zar"]) == ("BUY", 20_000)
    # ETH: 18,000 wanted, 25,000 held: sell 7,000
    assert (rows["ETHZAR"]["side"], rows["ETHZAR"]["trade_notional_zar"]) == ("SELL", 7_000)
    # SOL: 12,000 wanted, short 5,000: buy 17,000
    assert (rows["SOLZAR"]["side"], rows["SOLZAR"]["trade_notional_zar"]) == ("BUY", 17_000)
