"""What an optimizer request may hold, and how a prediction becomes a Black-Litterman view.

The seed's call is ``calculate_optimal_weights(pairs, ml_predictions, confidence_scores)``:
``ml_predictions`` maps a pair to its predicted return over the prediction horizon (0.05 = +5%),
``confidence_scores`` maps the same pairs to a confidence in [0, 1]. A prediction must be
> -1 and <= ``MAX_PREDICTION`` (+1,000% over the horizon; ``parse_prediction``). Pairs
without a prediction get no view (the model keeps them at their prior). Everything is checked
here, before any arithmetic, and bad input raises ``InvalidInput`` naming the field
(``ml_predictions.SOLZAR``, ``cov``, ``max_weight``...), the value and what is allowed.

The view-horizon convention
---------------------------
The covariance is annual: the variance of daily log returns times ``PERIODS_PER_YEAR`` (365),
which is how variance grows with time. A prediction r over h days is annualised the same way,
linearly::

    annual view = r x PERIODS_PER_YEAR / h        (h = prediction_horizon_days)

so with h = 365 the predictions are used as given, and the default h is the maximum holding time
(72 h = 3 days: +5% becomes +608% a year). Linear, not compound ((1 + r)^(365/h) - 1), because
then means and variances are scaled by the same factor: max-Sharpe weights do not change when
every input is expressed per h days instead of per year (the units are a choice, the portfolio
must not depend on it), and the ratio between two views stays what the model predicted (+8% and
+5% over 3 days stay 1.6 : 1; compounded they would become 1,165,520% and 37,747% a year,
31 : 1). The views are large because they are honest: a short-horizon forecast held for a year
is a strong claim, and Idzorek's confidences decide how much of it the posterior keeps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helios.errors import InvalidInput

MAX_RISK_AVERSION = 100.0
MAX_PREDICTION = 10.0  # +1,000% over the horizon: the largest return a prediction may claim
MAX_HORIZON_DAYS = 3650.0
MAX_FRONTIER_POINTS = 200
RISK_FREE_RANGE = (-0.05, 1.0)
SYMMETRY_TOLERANCE = 1e-9  # |cov - cov.T| allowed, relative to the largest variance

OPTION_NAMES = (
    "cov",
    "market_caps",
    "risk_aversion",
    "tau",
    "risk_free_rate",
    "max_weight",
    "prediction_horizon_days",
    "lookback_days",
    "frontier_points",
    "solver",
    "solver_options",
)


def annualise(prediction: float, horizon_days: float, periods_per_year: int) -> float:
    """A return predicted over ``horizon_days`` as an annual view: r x periods / h (linear)."""
    return prediction * periods_per_year / horizon_days


@dataclass(frozen=True)
class Request:
    """A validated request: pairs in the caller's order, views only for predicted pairs."""

    pairs: tuple[str, ...]
    predictions: dict[str, float]  # over the horizon, as given
    confidences: dict[str, float]
    options: dict[str, Any]  # validated option values the caller gave (absent: defaults)


def _number(field: str, value: Any, allowed: str) -> float:
    """``value`` as a finite float, or InvalidInput naming ``field`` (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        raise InvalidInput(field, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, value, allowed) from None
    if not math.isfinite(number):
        raise InvalidInput(field, value, allowed)
    return number


def _mapping(field: str, value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if isinstance(value, pd.Series):
        return value.to_dict()
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidInput(field, value, "a dict of pair -> number (or a pandas Series)")


def parse_pairs(pairs: Any, known: Sequence[str]) -> tuple[str, ...]:
    """At least two distinct configured pairs, upper case, in the caller's order."""
    allowed = f"a list of at least 2 distinct configured pairs (among {list(known)})"
    if isinstance(pairs, str) or not isinstance(pairs, Sequence | pd.Index | np.ndarray):
        raise InvalidInput("pairs", pairs, allowed)
    chosen = []
    for pair in pairs:
        if not isinstance(pair, str) or pair.upper() not in known:
            raise InvalidInput("pairs", pair, f"configured pairs only (among {list(known)})")
        chosen.append(pair.upper())
    if len(chosen) < 2:
        raise InvalidInput(
            "pairs", list(pairs), allowed + ": with one pair its weight is 1 by definition"
        )
    if len(set(chosen)) != len(chosen):
        repeated = sorted({p for p in chosen if chosen.count(p) > 1})
        raise InvalidInput("pairs", list(pairs), f"distinct pairs ({', '.join(repeated)} repeats)")
    return tuple(chosen)


PREDICTION_RANGE = (
    f"a return over the prediction horizon > -1 and <= {MAX_PREDICTION:g} "
    f"(-100% to +{MAX_PREDICTION:.0%}; 0.05 = +5%)"
)


def parse_prediction(pair: str, value: Any) -> float:
    """A predicted return over the horizon: finite, > -1 (a price cannot fall below 0) and at
    most ``MAX_PREDICTION`` (+1,000%). The upper bound keeps the annualised views within what
    the solver can take: 1e308 became an infinite view and cvxpy's "Problem data contains NaN
    or Inf", and views near 1e6 a year already gave weights that contradict the predictions."""
    field = f"ml_predictions.{pair}"
    number = _number(field, value, PREDICTION_RANGE)
    if not -1 < number <= MAX_PREDICTION:
        raise InvalidInput(field, value, PREDICTION_RANGE)
    return number


def parse_request(
    pairs: Any,
    ml_predictions: Any,
    confidence_scores: Any,
    options: Mapping[str, Any],
    known: Sequence[str],
) -> Request:
    """Check the seed's three arguments and the options; see the module docstring."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise InvalidInput("options", unknown, f"options among {', '.join(OPTION_NAMES)}")
    chosen = parse_pairs(pairs, known)
    listed = set(chosen)
    predictions: dict[str, float] = {}
    for key, value in _mapping("ml_predictions", ml_predictions).items():
        pair = key.upper() if isinstance(key, str) else key
        if pair not in listed:
            raise InvalidInput("ml_predictions", key, f"predictions only for the pairs {chosen}")
        predictions[pair] = parse_prediction(pair, value)
    confidences: dict[str, float] = {}
    for key, value in _mapping("confidence_scores", confidence_scores).items():
        pair = key.upper() if isinstance(key, str) else key
        if pair not in predictions:
            raise InvalidInput(
                "confidence_scores",
                key,
                f"confidences only for pairs with a prediction ({sorted(predictions)})",
            )
        number = _number(f"confidence_scores.{pair}", value, "a confidence in [0, 1]")
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"confidence_scores.{pair}", value, "a confidence in [0, 1]")
        confidences[pair] = number
    missing = [pair for pair in predictions if pair not in confidences]
    if missing:
        raise InvalidInput(
            f"confidence_scores.{missing[0]}", None, "a confidence in [0, 1] for every prediction"
        )
    return Request(
        chosen,
        {p: predictions[p] for p in chosen if p in predictions},
        {p: confidences[p] for p in chosen if p in confidences},
        _parse_options(options, chosen),
    )


def _parse_options(options: Mapping[str, Any], pairs: tuple[str, ...]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if value is None and name not in ("cov", "market_caps"):
            continue  # None means "the default", as for connect() overrides
        if name == "cov":
            if value is not None:
                clean[name] = parse_cov(value, pairs)
        elif name == "market_caps":
            if value is not None:
                clean[name] = parse_market_caps(value, pairs)
        elif name == "risk_aversion":
            clean[name] = parse_risk_aversion(value)
        elif name == "tau":
            clean[name] = _in_range("tau", value, 0.0, 1.0, "a number > 0 and <= 1", low_open=True)
        elif name == "risk_free_rate":
            low, high = RISK_FREE_RANGE
            clean[name] = _in_range(
                "risk_free_rate",
                value,
                low,
                high,
                f"an annual rate >= {low} and <= {high} (0.07 = 7% a year)",
            )
        elif name == "max_weight":
            clean[name] = parse_max_weight(value, len(pairs))
        elif name == "prediction_horizon_days":
            clean[name] = _in_range(
                name,
                value,
                0.0,
                MAX_HORIZON_DAYS,
                f"days > 0 and <= {MAX_HORIZON_DAYS:g} (365: the predictions are annual)",
                low_open=True,
            )
        elif name == "lookback_days":
            clean[name] = _whole(name, value, 2, 100_000, "a whole number of daily returns >= 2")
        elif name == "frontier_points":
            clean[name] = _whole(
                name, value, 0, MAX_FRONTIER_POINTS, f"0 to {MAX_FRONTIER_POINTS} points"
            )
        elif name == "solver":
            if not isinstance(value, str) or not value:
                raise InvalidInput(name, value, "the name of a cvxpy solver, e.g. OSQP or CLARABEL")
            clean[name] = value
        elif name == "solver_options":
            if not isinstance(value, Mapping):
                raise InvalidInput(name, value, "a dict of cvxpy solver options")
            clean[name] = dict(value)
    return clean


def _in_range(
    field: str, value: Any, low: float, high: float, allowed: str, *, low_open: bool = False
) -> float:
    number = _number(field, value, allowed)
    too_low = number <= low if low_open else number < low
    if too_low or number > high:
        raise InvalidInput(field, value, allowed)
    return number


def _whole(field: str, value: Any, low: int, high: int, allowed: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(field, value, allowed)
    if not low <= int(value) <= high:
        raise InvalidInput(field, value, allowed)
    return int(value)


def parse_risk_aversion(value: Any) -> float | str:
    """delta > 0 (the seed's 2.5), or "market": implied by the cap-weighted pairs' history."""
    if isinstance(value, str) and value.strip().lower() == "market":
        return "market"
    return _in_range(
        "risk_aversion",
        value,
        0.0,
        MAX_RISK_AVERSION,
        f'a number > 0 and <= {MAX_RISK_AVERSION:g} (the seed uses 2.5), or "market"',
        low_open=True,
    )


def parse_max_weight(value: Any, n: int) -> float:
    """The largest weight of one pair: (0, 1], and at least 1/n so the weights can sum to 1."""
    allowed = f"a weight >= 1/{n} (so {n} weights can sum to 1) and <= 1"
    number = _number("max_weight", value, allowed)
    if not 1.0 / n - 1e-12 <= number <= 1.0:
        raise InvalidInput("max_weight", value, allowed)
    return number


def parse_market_caps(value: Any, pairs: tuple[str, ...]) -> np.ndarray:
    """A cap >= 0 for every pair (extra pairs are ignored), not all zero; in ``pairs`` order."""
    caps = {
        (key.upper() if isinstance(key, str) else key): cap
        for key, cap in _mapping("market_caps", value).items()
    }
    result = np.empty(len(pairs))
    for i, pair in enumerate(pairs):
        if pair not in caps:
            raise InvalidInput(
                f"market_caps.{pair}", None, "a market cap (ZAR, >= 0) for every pair"
            )
        number = _number(f"market_caps.{pair}", caps[pair], "a finite market cap >= 0 (ZAR)")
        if number < 0:
            raise InvalidInput(f"market_caps.{pair}", caps[pair], "a market cap >= 0 (ZAR)")
        result[i] = number
    if not result.sum() > 0:
        raise InvalidInput("market_caps", caps, "caps whose sum is > 0 (the prior's weights)")
    return result


def parse_cov(value: Any, pairs: tuple[str, ...]) -> np.ndarray:
    """An annual covariance matrix: a DataFrame labelled by the pairs (any order) or an n x n
    array in ``pairs`` order; square, finite, symmetric, variances > 0."""
    n = len(pairs)
    if isinstance(value, pd.DataFrame):
        rows = [str(label).upper() for label in value.index]
        columns = [str(label).upper() for label in value.columns]
        if value.shape != (n, n):
            raise InvalidInput(
                "cov", f"shape {value.shape}", f"a square {n} x {n} matrix, one row per pair"
            )
        if set(rows) != set(pairs) or set(columns) != set(pairs):
            raise InvalidInput(
                "cov", f"labels {rows} x {columns}", f"rows and columns labelled {list(pairs)}"
            )
        matrix = value.to_numpy(dtype=float, copy=True)
        if tuple(rows) != pairs or tuple(columns) != pairs:
            at_row = {label: i for i, label in enumerate(rows)}
            at_col = {label: i for i, label in enumerate(columns)}
            matrix = matrix[np.ix_([at_row[p] for p in pairs], [at_col[p] for p in pairs])]
    else:
        try:
            matrix = np.array(value, dtype=float)
        except (TypeError, ValueError):
            raise InvalidInput("cov", value, f"a {n} x {n} matrix of numbers") from None
        if matrix.shape != (n, n):
            raise InvalidInput(
                "cov", f"shape {matrix.shape}", f"a square {n} x {n} matrix, one row per pair"
            )
    if not np.isfinite(matrix).all():
        raise InvalidInput("cov", "NaN or infinite entries", "finite numbers only")
    diagonal = np.diag(matrix)
    if not (diagonal > 0).all():
        bad = pairs[int(np.argmin(diagonal))]
        raise InvalidInput(
            "cov", f"variance of {bad} = {diagonal.min():g}", "variances (the diagonal) > 0"
        )
    asymmetry = float(np.abs(matrix - matrix.T).max())
    if asymmetry > SYMMETRY_TOLERANCE * float(diagonal.max()):
        raise InvalidInput(
            "cov",
            f"asymmetric by up to {asymmetry:g}",
            "a symmetric matrix (cov[i][j] = cov[j][i])",
        )
    return (matrix + matrix.T) / 2
