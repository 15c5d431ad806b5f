"""The ``sim`` feed: the embedded default, so a new install trades offline.

A seeded, correlated random walk with realistic daily volatilities and correlations
(GARCH(1,1)-like volatility clustering in the daily history, one volatility regime shared by all
pairs so the correlations come out as configured; Gaussian steps intraday). The rule it owns:
one walk over ALL pairs at once (so the correlations are real) that is deterministic for a seed,
and clearly simulated: never for LIVE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from helios.config import FeedKind, Settings
from helios.market.candles import DAY
from helios.market.feeds.base import MINUTE, Batch, MarketFeed

# Annualised volatility and a ZAR starting price per base asset; pairs not listed get defaults.
SIM_ASSETS: dict[str, tuple[float, float]] = {
    "BTC": (0.55, 1_200_000.0),  # the seed's R1,200,000 BTC
    "ETH": (0.68, 60_000.0),
    "SOL": (0.95, 2_500.0),
    "XRP": (0.85, 40.0),
    "USDT": (0.08, 18.0),
}
SIM_DEFAULT_ASSET = (0.80, 100.0)
# Daily log-return correlations, close to 2023-2024 Binance data (shared/data README).
SIM_CORRELATIONS: dict[frozenset[str], float] = {
    frozenset({"BTC", "ETH"}): 0.81,
    frozenset({"BTC", "SOL"}): 0.74,
    frozenset({"ETH", "SOL"}): 0.74,
    frozenset({"BTC", "XRP"}): 0.60,
    frozenset({"ETH", "XRP"}): 0.60,
    frozenset({"SOL", "XRP"}): 0.58,
}
SIM_DEFAULT_CORRELATION = 0.6
SECONDS_PER_YEAR = 365 * DAY


def base_asset(pair: str) -> str:
    return pair[:-3] if pair.endswith("ZAR") else pair


def sim_correlation(pairs: list[str]) -> np.ndarray:
    """The correlation matrix the simulation uses for ``pairs`` (positive definite)."""
    n = len(pairs)
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = base_asset(pairs[i]), base_asset(pairs[j])
            if "USDT" in (a, b):
                rho = 0.05
            else:
                rho = SIM_CORRELATIONS.get(frozenset({a, b}), SIM_DEFAULT_CORRELATION)
            matrix[i, j] = matrix[j, i] = rho
    values, vectors = np.linalg.eigh(matrix)
    if values.min() < 1e-6:  # repair to the nearest positive definite correlation matrix
        values = np.clip(values, 1e-6, None)
        matrix = vectors @ np.diag(values) @ vectors.T
        scale = np.sqrt(np.diag(matrix))
        matrix = matrix / np.outer(scale, scale)
    return matrix


@dataclass
class _SimState:
    now: datetime
    prices: np.ndarray
    # (bar open epoch, pair index) -> {open, high, low, close} of the bars still open
    bars: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    fresh: bool = True  # no step walked yet: the first poll walks one second to show a price


class SimFeed(MarketFeed):
    """Correlated random walk over all configured pairs at once (so correlations are real)."""

    kind = FeedKind.SIM
    partial_bars = True  # after a restart the walk sees only the rest of the current minute

    def __init__(self, settings: Settings, latest: dict[str, float] | None = None) -> None:
        self.pairs = list(settings.pairs)
        self.seed = settings.sim_seed
        self.vols = np.array(
            [SIM_ASSETS.get(base_asset(p), SIM_DEFAULT_ASSET)[0] for p in self.pairs]
        )
        self.start_prices = np.array(
            [SIM_ASSETS.get(base_asset(p), SIM_DEFAULT_ASSET)[1] for p in self.pairs]
        )
        self.cholesky = np.linalg.cholesky(sim_correlation(self.pairs))
        self._latest = latest or {}
        self._state: _SimState | None = None
        self._history_cache: dict[str, pd.DataFrame] = {}

    # history: GARCH(1,1)-like daily returns ending at the starting price yesterday
    def daily_history(self, now: datetime, days: int) -> dict[str, pd.DataFrame]:
        """``days`` daily candles per pair, the last one yesterday (UTC), closing at the start
        price. Deterministic for a seed.

        Volatility clusters as in a GARCH(1,1) (alpha 0.08, beta 0.90) through one variance
        multiplier ``h`` (mean 1) shared by every pair and driven by their average squared
        shock: crypto calms down and panics together, and a shared regime keeps the correlation
        of the returns equal to the configured one (a separate variance path per pair would
        shrink it by about 0.02).
        """
        rng = np.random.default_rng(self.seed)
        n = len(self.pairs)
        daily_vol = self.vols / math.sqrt(365)
        alpha, beta = 0.08, 0.90
        h = 1.0
        shocks = rng.standard_normal((days, n)) @ self.cholesky.T
        returns = np.empty((days, n))
        for t in range(days):
            variance = daily_vol**2 * h
            returns[t] = np.sqrt(variance) * shocks[t] - 0.5 * variance
            h = (1 - alpha - beta) + alpha * h * float(np.mean(shocks[t] ** 2)) + beta * h
        # closes end at the start price on the last day
        log_closes = np.log(self.start_prices) - returns[::-1].cumsum(axis=0)[::-1] + returns
        closes = np.exp(log_closes)
        opens = np.vstack([closes[0] * np.exp(-returns[0]), closes[:-1]])
        intraday = np.abs(rng.standard_normal((days, n))) * daily_vol * 0.6
        highs = np.maximum(opens, closes) * np.exp(intraday)
        lows = np.minimum(opens, closes) * np.exp(
            -np.abs(rng.standard_normal((days, n))) * daily_vol * 0.6
        )
        last_day = pd.Timestamp(now).floor("D") - pd.Timedelta(days=1)
        stamps = pd.date_range(end=last_day, periods=days, freq="D", tz="UTC")
        volumes = np.abs(rng.normal(1000, 200, (days, n)))
        history = {}
        for i, pair in enumerate(self.pairs):
            history[pair] = pd.DataFrame(
                {
                    "timestamp": stamps,
                    "open": np.round(opens[:, i], 2),
                    "high": np.round(highs[:, i], 2),
                    "low": np.round(lows[:, i], 2),
                    "close": np.round(closes[:, i], 2),
                    "volume": np.round(volumes[:, i] / max(closes[-1, i], 1) * 1e4, 6),
                }
            )
        return history

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        if days <= 0:
            return []
        if pair not in self._history_cache:
            self._history_cache = self.daily_history(now, days)
        return [Batch(pair, DAY, self._history_cache[pair])]

    def _ensure_state(self, now: datetime) -> _SimState:
        if self._state is None:
            prices = np.array(
                [float(self._latest.get(p, self.start_prices[i])) for i, p in enumerate(self.pairs)]
            )
            self._state = _SimState(now=now, prices=prices)
            self._rng = np.random.default_rng([self.seed, int(now.timestamp())])
        return self._state

    def set_latest(self, latest: dict[str, float]) -> None:
        """Continue the walk from these prices (the database's, after a restart)."""
        self._latest = latest
        self._state = None

    def advance(self, now: datetime) -> dict[int, dict[str, dict[str, float]]]:
        """Walk from the last step to ``now`` in one-second steps (at most an hour of them).

        Returns the minute bars touched: {bar open epoch: {pair: {open, high, low, close}}}.
        """
        state = self._ensure_state(now)
        elapsed = (now - state.now).total_seconds()
        steps = int(min(max(elapsed, 0.0), 3600.0))
        if steps == 0 and state.fresh:
            steps = 1
        if elapsed < 0:  # the clock went back: wait until it passes the last step again
            return {}
        step_vol = self.vols / math.sqrt(SECONDS_PER_YEAR)
        touched: dict[int, dict[str, dict[str, float]]] = {}
        start_epoch = int(now.timestamp()) - steps
        if steps:
            shocks = self._rng.standard_normal((steps, len(self.pairs))) @ self.cholesky.T
            paths = state.prices * np.exp(np.cumsum(shocks * step_vol - 0.5 * step_vol**2, axis=0))
            for k in range(steps):
                epoch = start_epoch + k + 1
                bar = epoch - epoch % MINUTE
                for i, pair in enumerate(self.pairs):
                    key = (bar, i)
                    price = float(paths[k, i])
                    current = state.bars.get(key)
                    if current is None:
                        opening = float(state.prices[i]) if k == 0 else float(paths[k - 1, i])
                        current = {
                            "open": opening,
                            "high": max(opening, price),
                            "low": min(opening, price),
                            "close": price,
                        }
                        state.bars[key] = current
                    else:
                        current["high"] = max(current["high"], price)
                        current["low"] = min(current["low"], price)
                        current["close"] = price
                    touched.setdefault(bar, {})[pair] = current
            state.prices = paths[-1]
            state.fresh = False
        state.now = now
        # forget closed bars older than the newest one
        newest = max((bar for bar, _ in state.bars), default=None)
        state.bars = {key: value for key, value in state.bars.items() if key[0] == newest}
        return touched

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        # one walk serves all pairs: advance once per "now", then hand out per pair
        if getattr(self, "_polled_at", None) != now:
            self._touched = self.advance(now)
            self._polled_at = now
        bars = sorted(self._touched.items())
        rows = [
            {
                "timestamp": datetime.fromtimestamp(bar, UTC),
                "open": round(v[pair]["open"], 2),
                "high": round(v[pair]["high"], 2),
                "low": round(v[pair]["low"], 2),
                "close": round(v[pair]["close"], 2),
                "volume": 0.0,
            }
            for bar, v in bars
            if pair in v
        ]
        if not rows:
            return []
        return [Batch(pair, MINUTE, pd.DataFrame(rows), observed=now)]
