"""The seed's five Black-Litterman steps on PyPortfolioOpt, with honest fallbacks. Pure: no I/O.

    1 covariance     Ledoit-Wolf shrinkage of completed daily log returns, annualised x 365
                     (``pypfopt.risk_models.CovarianceShrinkage``, ``estimate_covariance``)
    2 prior weights  market caps / their sum (configured, dated: VALR publishes none)
    3 equilibrium    pi = delta x Sigma x w_mkt (``market_implied_prior_returns``); the prior
                     return of a pair is pi + the risk-free rate (pi is an excess return)
    4 views          one absolute view per predicted pair, annualised (``views.annualise``);
                     Idzorek's confidences set the view variances (``omega="idzorek"``):
                     confidence 1 puts the posterior on the view, 0 leaves it at the prior
                     (``BlackLittermanModel``: ``bl_returns``, ``bl_cov``)
    5 weights        max Sharpe over the posterior returns and covariance, long only, each weight
                     at most ``max_weight``, summing to 1 (``EfficientFrontier.max_sharpe``)

Fallbacks, each reported in ``fallback`` with its reason, never silent:

- fewer than 30 daily returns: equal weights ("not enough history: 12 days < 30");
- covariance not positive definite: negative eigenvalues clipped
  (``fix_nonpositive_semidefinite``, spectral), then shrunk toward its diagonal until it is;
- every posterior return at or below the risk-free rate (max_sharpe refuses): minimum volatility;
- solver failure (``OptimizationError``, cvxpy ``SolverError``, or cvxpy's ``ValueError`` for
  problem data it cannot take, "contains NaN or Inf"): equal weights, with the message.

Warnings (not failures): pairs correlated above 0.95, fewer than 60 days of history, and what
PyPortfolioOpt or cvxpy warned about ("Solution may be inaccurate").

The EfficientFrontier uses the posterior covariance (``bl_cov()`` = Sigma + the uncertainty of
the mean), as PyPortfolioOpt's Black-Litterman guide does; it is single-use, so every solve (the
weights, the minimum-volatility end and each frontier point) builds a new one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MIN_HISTORY_DAYS = 30  # below: equal weights (the seed: "< 30 days: not enough for covariance")
WARN_HISTORY_DAYS = 60  # below: a warning (the seed: "sufficient historical data (60+ days)")
HIGH_CORRELATION = 0.95  # above: a warning (the seed: "correlation > 0.95 = no diversification")
PD_TOLERANCE = 1e-10  # smallest / largest eigenvalue at or below this: not positive definite
SHRINK_STEPS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # toward the diagonal, in turn
WEIGHT_CUTOFF = 1e-6  # solver dust below this is set to 0 (then the weights are renormalised)


@dataclass(frozen=True)
class Problem:
    """Everything the five steps need, validated (``views``) and in annual units."""

    pairs: tuple[str, ...]
    cov: np.ndarray | None  # annual; None: not enough history (equal weights)
    market_caps: np.ndarray  # in pairs order
    predictions: dict[str, float]  # over the horizon, as given
    confidences: dict[str, float]
    views: dict[str, float]  # annualised predictions (views.annualise)
    risk_aversion: float
    tau: float
    risk_free_rate: float
    max_weight: float
    horizon_days: float
    periods_per_year: int
    frontier_points: int = 0
    detail: bool = True  # False: weights, method, fallbacks, warnings, returns; no matrices
    solver: str | None = None
    solver_options: dict[str, Any] | None = None
    correlation: np.ndarray | None = None  # for the > 0.95 warning (default: from cov)
    covariance_info: dict[str, Any] = field(default_factory=dict)  # how cov was obtained
    history: dict[str, Any] | None = None  # observations, first and last day (None: cov given)
    notes: tuple[str, ...] = ()  # warnings from the caller
    fallbacks: tuple[dict[str, str], ...] = ()  # fallbacks the caller took (history, ...)
    extra: dict[str, Any] = field(default_factory=dict)  # caller's facts, copied to the result


def estimate_covariance(returns: pd.DataFrame, periods_per_year: int) -> tuple[np.ndarray, float]:
    """Step 1: Ledoit-Wolf (constant-variance target) covariance of daily returns, annualised,
    and the shrinkage intensity PyPortfolioOpt chose."""
    from pypfopt import risk_models

    shrinkage = risk_models.CovarianceShrinkage(
        returns, returns_data=True, frequency=periods_per_year
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repaired and reported by solve() if it is not PD
        cov = shrinkage.ledoit_wolf()
    return np.asarray(cov, dtype=float), float(shrinkage.delta)


def implied_risk_aversion(
    returns: pd.DataFrame, market_caps: np.ndarray, periods_per_year: int, risk_free_rate: float
) -> float:
    """delta implied by the market: (annual return - rf) / annual variance of the cap-weighted
    portfolio of the pairs (``market_implied_risk_aversion`` on its price index)."""
    from pypfopt.black_litterman import market_implied_risk_aversion

    weights = market_caps / market_caps.sum()
    simple = np.expm1(returns.to_numpy(dtype=float)) @ weights  # daily log -> simple returns
    index = pd.Series(np.concatenate([[1.0], np.cumprod(1.0 + simple)]))
    return float(
        market_implied_risk_aversion(
            index, frequency=periods_per_year, risk_free_rate=risk_free_rate
        )
    )


def repair_covariance(cov: np.ndarray) -> tuple[np.ndarray, str | None]:
    """``cov`` itself if positive definite, else a repaired copy and what was done."""
    eigenvalues = np.linalg.eigvalsh(cov)
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    if smallest > PD_TOLERANCE * largest:
        return cov, None
    from pypfopt.risk_models import fix_nonpositive_semidefinite

    steps = []
    fixed = cov
    if smallest < 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "non positive semidefinite. Amending eigenvalues."
            fixed = np.asarray(fix_nonpositive_semidefinite(cov, "spectral"), dtype=float)
        fixed = (fixed + fixed.T) / 2
        steps.append(
            "negative eigenvalues set to 0 (PyPortfolioOpt fix_nonpositive_semidefinite, spectral)"
        )
    diagonal = np.diag(np.diag(fixed))
    for step in SHRINK_STEPS:
        candidate = (1 - step) * fixed + step * diagonal
        values = np.linalg.eigvalsh(candidate)
        if values[0] > PD_TOLERANCE * values[-1]:
            fixed = candidate
            steps.append(f"shrunk {step:.1%} toward its diagonal")
            break
    return fixed, (
        f"covariance not positive definite (smallest eigenvalue {smallest:.3g}, largest "
        f"{largest:.3g}): " + ", then ".join(steps)
    )


def equal_weights(pairs: tuple[str, ...]) -> dict[str, float]:
    return {pair: 1.0 / len(pairs) for pair in pairs}


def solve(problem: Problem) -> dict[str, Any]:
    """Run the five steps (or the fallbacks) and return every intermediate, JSON-friendly."""
    pairs = problem.pairs
    result = _skeleton(problem)
    if problem.cov is None:  # not enough history: the caller said why in its fallback
        result["weights"] = equal_weights(pairs)
        return result

    from pypfopt import black_litterman, exceptions

    warnings_seen = result["warnings"]
    fallbacks = result["fallback"]
    cov, repair = repair_covariance(problem.cov)
    if repair:
        fallbacks.append({"kind": "covariance_repaired", "reason": repair})
    correlation = problem.correlation if problem.correlation is not None else _correlation(cov)
    warnings_seen.extend(_correlation_warnings(pairs, correlation))

    labels = list(pairs)
    cov_frame = pd.DataFrame(cov, index=labels, columns=labels)
    caps = pd.Series(problem.market_caps, index=labels)
    rf = problem.risk_free_rate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # steps 2 and 3: the market's weights and the returns that justify them (excess of rf)
        pi = black_litterman.market_implied_prior_returns(caps, problem.risk_aversion, cov_frame)
        prior = pi + rf
        # step 4: the views (absolute: one row of P per viewed pair, given as Q and P rather
        # than absolute_views, whose parsing scans the tickers once per view), their Idzorek
        # variances, the posterior
        at = {pair: i for i, pair in enumerate(pairs)}
        picks = np.zeros((len(problem.views), len(pairs)))
        picks[np.arange(len(problem.views)), [at[p] for p in problem.views]] = 1.0
        model = black_litterman.BlackLittermanModel(
            cov_frame,
            pi=prior,
            Q=np.fromiter(problem.views.values(), float, len(problem.views)),
            P=picks,
            omega="idzorek",
            view_confidences=[problem.confidences[p] for p in problem.views],
            tau=problem.tau,
            risk_aversion=problem.risk_aversion,
        )
        posterior = model.bl_returns()
        posterior_cov = model.bl_cov()
        # step 5: max Sharpe, or a fallback
        weights, method = _optimise(problem, posterior, posterior_cov, fallbacks, exceptions)
        frontier = (
            _frontier(problem, posterior, posterior_cov, warnings_seen, exceptions)
            if problem.frontier_points
            else []
        )
    warnings_seen.extend(_messages(caught))

    result["weights"] = dict(zip(labels, weights.tolist(), strict=True))
    result["method"] = method
    if problem.detail:
        sigma = posterior_cov.to_numpy()
        ret, vol, sharpe = _performance(weights, posterior.to_numpy(), sigma, rf)
        result.update(
            {
                "prior_weights": dict(zip(labels, (caps / caps.sum()).tolist(), strict=True)),
                "implied_equilibrium_returns": _series(pi),
                "prior_returns": _series(prior),
                "posterior_returns": _series(posterior),
                "efficient_frontier": frontier,
                "covariance": _matrix(cov, labels),
                "posterior_covariance": _matrix(sigma, labels),
                "correlation": _matrix(correlation, labels),
                "expected_return": ret,
                "volatility": vol,
                "sharpe": sharpe,
            }
        )
    result["views"].update(
        {
            "Q": model.Q.ravel().tolist(),
            "P": model.P.tolist(),
            "omega": np.diag(model.omega).tolist(),
        }
    )
    return result


def _skeleton(problem: Problem) -> dict[str, Any]:
    """The result with every key present; model values None until computed."""
    viewed = list(problem.views)
    return {
        "pairs": list(problem.pairs),
        "weights": None,
        "method": "equal_weights",
        "fallback": [dict(f) for f in problem.fallbacks],
        "warnings": list(problem.notes),
        "market_caps": dict(zip(problem.pairs, problem.market_caps.tolist(), strict=True)),
        "prior_weights": None,
        "risk_aversion": problem.risk_aversion,
        "tau": problem.tau,
        "risk_free_rate": problem.risk_free_rate,
        "max_weight": problem.max_weight,
        "implied_equilibrium_returns": None,
        "prior_returns": None,
        "views": {
            "pairs": viewed,
            "predictions": dict(problem.predictions),
            "confidences": dict(problem.confidences),
            "horizon_days": problem.horizon_days,
            "periods_per_year": problem.periods_per_year,
            "annualisation": f"view = prediction x {problem.periods_per_year} / "
            f"{problem.horizon_days:g} days (linear)",
            "annual": dict(problem.views),
            "Q": None,
            "P": None,
            "P_columns": list(problem.pairs),
            "omega": None,
            "omega_method": "idzorek",
        },
        "posterior_returns": None,
        "covariance": None,
        "posterior_covariance": None,
        "correlation": None,
        "covariance_info": dict(problem.covariance_info),
        "history": problem.history,
        "expected_return": None,
        "volatility": None,
        "sharpe": None,
        "efficient_frontier": [],
        **problem.extra,
    }


def _optimise(
    problem: Problem,
    posterior: pd.Series,
    posterior_cov: pd.DataFrame,
    fallbacks: list[dict[str, str]],
    exceptions: Any,
) -> tuple[np.ndarray, str]:
    """Step 5 with its fallbacks: (weights in pairs order, the method that produced them)."""
    from cvxpy.error import SolverError

    rf = problem.risk_free_rate
    best = int(np.argmax(posterior.to_numpy()))
    method = "max_sharpe"
    if posterior.iloc[best] <= rf:
        method = "min_volatility"
        fallbacks.append(
            {
                "kind": "min_volatility",
                "reason": f"every posterior return is at or below the risk-free rate {rf:.2%} "
                f"(highest: {problem.pairs[best]} {posterior.iloc[best]:.2%}): minimum "
                "volatility instead of max Sharpe",
            }
        )
    try:
        frontier = _new_frontier(problem, posterior, posterior_cov)
        if method == "max_sharpe":
            frontier.max_sharpe(risk_free_rate=rf)
        else:
            frontier.min_volatility()
    except (exceptions.OptimizationError, SolverError, ValueError) as exc:
        fallbacks.append(
            {
                "kind": "solver_failure",
                "reason": f"{method} failed ({_error_text(exc)}): equal weights",
            }
        )
        return np.full(len(problem.pairs), 1.0 / len(problem.pairs)), "equal_weights"
    return _clean(frontier.weights), method


def _new_frontier(problem: Problem, mu: pd.Series, cov: pd.DataFrame) -> Any:
    from pypfopt import EfficientFrontier

    return EfficientFrontier(
        mu,
        cov,
        weight_bounds=(0.0, problem.max_weight),
        solver=problem.solver,
        solver_options=problem.solver_options,
    )


def _clean(raw: np.ndarray) -> np.ndarray:
    """Solver dust (|w| < 1e-6, slightly negative values) to 0, then renormalised to sum 1."""
    weights = np.where(raw < WEIGHT_CUTOFF, 0.0, raw)
    return weights / weights.sum()


def _performance(
    weights: np.ndarray, mu: np.ndarray, cov: np.ndarray, rf: float
) -> tuple[float, float, float]:
    """Expected annual return w.mu, volatility sqrt(w' Sigma w) and Sharpe ratio
    (return - rf) / volatility: PyPortfolioOpt's ``portfolio_performance`` definitions, in
    numpy (its own version goes through cvxpy expressions: 0.3 ms a call)."""
    ret = float(weights @ mu)
    vol = float(np.sqrt(weights @ cov @ weights))
    return ret, vol, (ret - rf) / vol


def _frontier(
    problem: Problem,
    mu: pd.Series,
    cov: pd.DataFrame,
    notes: list[str],
    exceptions: Any,
) -> list[dict[str, Any]]:
    """``frontier_points`` efficient portfolios from the minimum-volatility one to the highest
    return the weight cap allows, each from a new EfficientFrontier (they are single-use)."""
    from cvxpy.error import SolverError

    failures = (exceptions.OptimizationError, SolverError, ValueError)
    labels = list(problem.pairs)
    try:
        lowest = _new_frontier(problem, mu, cov)
        lowest.min_volatility()
    except failures as exc:
        notes.append(f"efficient frontier not drawn: minimum volatility failed ({exc})")
        return []
    start = float(mu.to_numpy() @ _clean(lowest.weights))
    stop = _max_return(mu.to_numpy(), problem.max_weight)
    count = problem.frontier_points
    stop = stop - (stop - start) * 1e-6  # the very top is a single portfolio: stay just inside
    targets = [start] if count == 1 or stop <= start else np.linspace(start, stop, count).tolist()
    points = []
    skipped = 0
    for target in targets:
        try:
            frontier = _new_frontier(problem, mu, cov)
            frontier.efficient_return(float(target))
        except failures:
            skipped += 1
            continue
        weights = _clean(frontier.weights)
        ret, vol, sharpe = _performance(
            weights, mu.to_numpy(), cov.to_numpy(), problem.risk_free_rate
        )
        points.append(
            {
                "expected_return": ret,
                "volatility": vol,
                "sharpe": sharpe,
                "weights": dict(zip(labels, weights.tolist(), strict=True)),
            }
        )
    if skipped:
        notes.append(f"efficient frontier: {skipped} of {len(targets)} points failed to solve")
    return points


def _max_return(mu: np.ndarray, max_weight: float) -> float:
    """The highest return of long-only weights summing to 1, each at most ``max_weight``:
    fill the best pairs first."""
    left, total = 1.0, 0.0
    for value in sorted(mu, reverse=True):
        take = min(max_weight, left)
        total += take * value
        left -= take
        if left <= 1e-15:
            break
    return total


def _correlation(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def _correlation_warnings(pairs: tuple[str, ...], correlation: np.ndarray) -> list[str]:
    rows, cols = np.nonzero(np.triu(correlation > HIGH_CORRELATION, k=1))
    return [
        f"{pairs[i]} and {pairs[j]} are correlated {correlation[i, j]:.3f} "
        f"(> {HIGH_CORRELATION}): little diversification between them"
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for item in caught:
        text = f"{item.category.__name__}: {item.message}"
        if text not in seen:
            seen.append(text)
    return seen


def _error_text(exc: BaseException) -> str:
    """PyPortfolioOpt's OptimizationError carries (advice, "Solver status: ...") as its args."""
    parts = [str(arg) for arg in exc.args if str(arg)] or [type(exc).__name__]
    return "; ".join(parts)


def _series(values: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.items()}


def _matrix(values: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    rows = np.asarray(values, dtype=float).tolist()
    return {
        label: dict(zip(labels, row, strict=True)) for label, row in zip(labels, rows, strict=True)
    }
