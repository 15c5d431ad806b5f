"""``hx.optimizer``: the Black-Litterman optimizer fed from the database and the configuration.

``calculate_optimal_weights(pairs, ml_predictions, confidence_scores, **options)`` is the seed's
call and returns ``{pair: weight}`` (each >= 0, summing to 1); ``explain`` takes the same
arguments and returns every intermediate (``model.solve``). What the options default to:

==========================  =====================================================================
``cov``                     Ledoit-Wolf covariance of the stored completed daily log returns of
                            the pairs (the last ``lookback_days``, aligned), x PERIODS_PER_YEAR
``market_caps``             MARKET_CAPS_ZAR (dated MARKET_CAPS_AS_OF; a warning past 90 days)
``risk_aversion``           BL_RISK_AVERSION (2.5, the seed's); ``"market"``: implied by the
                            cap-weighted portfolio of the pairs over the same history
``tau``                     BL_TAU (0.05)
``risk_free_rate``          RISK_FREE_RATE (0.07, the ZAR cash rate, annual)
``max_weight``              OPTIMIZER_MAX_WEIGHT (1.0)
``prediction_horizon_days`` MAX_POSITION_HOLDING_HOURS / 24 (3 days); see ``views``
``lookback_days``           365 daily returns
``frontier_points``         0 for ``calculate_optimal_weights``, 20 for ``explain``
``solver``, ``solver_options``  passed to PyPortfolioOpt's EfficientFrontier (cvxpy)
==========================  =====================================================================

The history behind the covariance is read and fitted once per completed day (the cache keys on
the date and the market's history epoch, as ``hx.risk``'s statistics do), so a call costs the
five steps, not a database scan. Every fallback is also logged as a warning, so a caller that
only keeps the weights (the trading loop) still leaves a trace of it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Setting
from helios.errors import InvalidInput
from helios.market.bar_time import floor_time
from helios.market.candles import DAY
from helios.market.history_epoch import HISTORY_EPOCH_KEY
from helios.market.store import MarketData
from helios.optimizer import model
from helios.optimizer.views import Request, annualise, parse_market_caps, parse_request

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 365  # daily returns behind the covariance (about a year of crypto's 365 days)
FRONTIER_POINTS = 20  # points of the efficient frontier ``explain`` draws by default
STALE_CAPS_DAYS = 90  # configured market caps older than this draw a warning
_CACHE_SIZE = 16
_EPOCH = select(Setting.value).where(Setting.key == HISTORY_EPOCH_KEY)


@dataclass(frozen=True)
class History:
    """Aligned completed daily log returns of some pairs and what is fitted on them."""

    returns: pd.DataFrame
    observations: int
    cov: np.ndarray | None  # annual Ledoit-Wolf; None below MIN_HISTORY_DAYS
    shrinkage: float | None
    correlation: np.ndarray | None  # sample correlation of the daily returns

    def describe(self) -> dict[str, Any]:
        index = self.returns.index
        return {
            "observations": self.observations,
            "first_day": index[0].date().isoformat() if len(index) else None,
            "last_day": index[-1].date().isoformat() if len(index) else None,
            "returns": "completed daily log returns, aligned (days every pair traded)",
        }


class Optimizer:
    """``hx.optimizer``."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, market: MarketData) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._cache: OrderedDict[tuple[Any, ...], History] = OrderedDict()
        self._lock = threading.Lock()

    def calculate_optimal_weights(
        self,
        pairs: Any,
        ml_predictions: Any = None,
        confidence_scores: Any = None,
        **options: Any,
    ) -> dict[str, float]:
        """Weights per pair (>= 0, summing to 1) for max Sharpe over the Black-Litterman
        posterior; a fallback's weights when one was needed (``explain`` says which and why)."""
        return self._run(pairs, ml_predictions, confidence_scores, options, 0, detail=False)[
            "weights"
        ]

    def explain(
        self,
        pairs: Any,
        ml_predictions: Any = None,
        confidence_scores: Any = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Every intermediate of the same call, JSON-friendly: covariance, prior weights,
        implied equilibrium returns, views (Q, P, omega), prior and posterior returns, weights,
        expected return, volatility, Sharpe, the efficient frontier, warnings, fallbacks."""
        return self._run(pairs, ml_predictions, confidence_scores, options, FRONTIER_POINTS)

    # --- the request, fed from the configuration and the database ------------------------
    def _run(
        self,
        pairs: Any,
        ml_predictions: Any,
        confidence_scores: Any,
        options: dict[str, Any],
        frontier_points: int,
        *,
        detail: bool = True,
    ) -> dict[str, Any]:
        settings = self._settings
        request = parse_request(
            pairs, ml_predictions, confidence_scores, options, list(settings.pairs)
        )
        given = request.options
        notes: list[str] = []
        fallbacks: list[dict[str, str]] = []
        caps, caps_source = self._market_caps(request, notes)
        rf = given.get("risk_free_rate", settings.risk_free_rate)
        periods = settings.periods_per_year
        history = None
        if "cov" not in given or given.get("risk_aversion") == "market":
            history = self._history(request.pairs, given.get("lookback_days", LOOKBACK_DAYS))

        cov: np.ndarray | None
        correlation = None
        if "cov" in given:
            cov = given["cov"]
            covariance_info: dict[str, Any] = {
                "source": "option cov (annual)",
                "correlation": "from the covariance given",
            }
        else:
            assert history is not None
            covariance_info = {
                "source": "Ledoit-Wolf shrinkage (constant variance) of the stored daily "
                f"returns x {periods}",
                "shrinkage": history.shrinkage,
                "periods_per_year": periods,
                "lookback_days": given.get("lookback_days", LOOKBACK_DAYS),
                "correlation": "sample correlation of the daily returns",
            }
            cov, correlation = history.cov, history.correlation
            days = history.observations
            if days < model.MIN_HISTORY_DAYS:
                cov = None
                fallbacks.append(
                    {
                        "kind": "not_enough_history",
                        "reason": f"not enough history: {days} days < {model.MIN_HISTORY_DAYS}"
                        " (daily returns every pair has): equal weights",
                    }
                )
            elif days < model.WARN_HISTORY_DAYS:
                notes.append(
                    f"short history: {days} days < {model.WARN_HISTORY_DAYS}: the covariance "
                    "is a rough estimate"
                )

        delta, delta_source = self._risk_aversion(
            given.get("risk_aversion"), history, caps, rf, fallbacks
        )
        horizon = given.get("prediction_horizon_days", settings.max_position_holding_hours / 24)
        n = len(request.pairs)
        max_weight = given.get("max_weight", settings.optimizer_max_weight)
        if max_weight < 1 / n:  # the configured cap cannot hold n pairs: equal is the most
            notes.append(
                f"OPTIMIZER_MAX_WEIGHT {max_weight:g} < 1/{n}: {n} weights could not sum to 1, "
                f"so each is capped at 1/{n}"
            )
            max_weight = 1 / n
        problem = model.Problem(
            pairs=request.pairs,
            cov=cov,
            market_caps=caps,
            predictions=request.predictions,
            confidences=request.confidences,
            views={p: annualise(r, horizon, periods) for p, r in request.predictions.items()},
            risk_aversion=delta,
            tau=given.get("tau", settings.bl_tau),
            risk_free_rate=rf,
            max_weight=max_weight,
            horizon_days=horizon,
            periods_per_year=periods,
            frontier_points=given.get("frontier_points", frontier_points) if detail else 0,
            detail=detail,
            solver=given.get("solver"),
            solver_options=given.get("solver_options"),
            correlation=correlation,
            covariance_info=covariance_info,
            history=history.describe() if history is not None and "cov" not in given else None,
            notes=tuple(notes),
            fallbacks=tuple(fallbacks),
            extra={"market_caps_source": caps_source, "risk_aversion_source": delta_source},
        )
        result = model.solve(problem)
        for taken in result["fallback"]:
            log.warning("optimizer fallback %s: %s", taken["kind"], taken["reason"])
        return result

    def _market_caps(self, request: Request, notes: list[str]) -> tuple[np.ndarray, str]:
        if "market_caps" in request.options:
            return request.options["market_caps"], "option market_caps"
        settings = self._settings
        try:
            caps = parse_market_caps(settings.market_caps_zar, request.pairs)
        except InvalidInput as exc:
            raise InvalidInput(
                "market_caps",
                exc.value,
                f"{exc.field}: MARKET_CAPS_ZAR must hold a cap for every pair optimised, or "
                "pass market_caps=",
            ) from None
        as_of = settings.market_caps_as_of
        age = (self._clock.now().date() - as_of).days
        if age > STALE_CAPS_DAYS:
            notes.append(
                f"market caps are as of {as_of.isoformat()} ({age} days old > "
                f"{STALE_CAPS_DAYS}): update MARKET_CAPS_ZAR and MARKET_CAPS_AS_OF"
            )
        return caps, f"configuration MARKET_CAPS_ZAR as of {as_of.isoformat()}"

    def _risk_aversion(
        self,
        chosen: float | str | None,
        history: History | None,
        caps: np.ndarray,
        rf: float,
        fallbacks: list[dict[str, str]],
    ) -> tuple[float, str]:
        """delta and where it came from (None: configuration; "market": implied)."""
        default = self._settings.bl_risk_aversion
        if chosen is None:
            return default, "configuration BL_RISK_AVERSION"
        if chosen != "market":
            return float(chosen), "option risk_aversion"
        assert history is not None
        days = history.observations
        reason = None
        if days < model.MIN_HISTORY_DAYS:
            reason = f"not enough history for it: {days} days < {model.MIN_HISTORY_DAYS}"
        else:
            implied = model.implied_risk_aversion(
                history.returns, caps, self._settings.periods_per_year, rf
            )
            if math.isfinite(implied) and implied > 0:
                return implied, f"market-implied over {days} days (cap-weighted pairs)"
            reason = f"it is {implied:.3g}: the market earned less than cash over {days} days"
        fallbacks.append(
            {
                "kind": "risk_aversion_default",
                "reason": f"market-implied risk aversion unusable ({reason}): "
                f"BL_RISK_AVERSION {default:g} used",
            }
        )
        return default, "BL_RISK_AVERSION (market-implied unusable)"

    # --- history, fitted once per completed day ------------------------------------------
    def _history(self, pairs: tuple[str, ...], lookback: int) -> History:
        today = floor_time(self._clock.now(), DAY)
        with self._db.read() as session:
            epoch = session.execute(_EPOCH).scalar_one_or_none()
        key = (today.isoformat(), epoch or "0", pairs, lookback)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        fitted = self._fit(pairs, lookback, today - timedelta(seconds=1))
        with self._lock:
            self._cache[key] = fitted
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return fitted

    def _fit(self, pairs: tuple[str, ...], lookback: int, end: datetime) -> History:
        series = [self._market.returns(pair, "1d", end=end) for pair in pairs]
        returns = pd.concat(series, axis=1, join="inner").tail(lookback)
        days = len(returns)
        if days < model.MIN_HISTORY_DAYS:
            return History(returns, days, None, None, None)
        cov, shrinkage = model.estimate_covariance(returns, self._settings.periods_per_year)
        with np.errstate(divide="ignore", invalid="ignore"):
            correlation = np.corrcoef(returns.to_numpy(dtype=float), rowvar=False)
        if not np.isfinite(correlation).all():  # a pair that never moved: use the covariance's
            correlation = None
        return History(returns, days, cov, shrinkage, correlation)

    def clear_cache(self) -> None:
        """Forget the fitted history (tests, timing); the next call reads the database."""
        with self._lock:
            self._cache.clear()
