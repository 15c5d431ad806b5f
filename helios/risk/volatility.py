"""Daily volatility and the covariance of daily returns: the market statistics the checks and
the sizing use (DESIGN.md: GARCH(1,1) one-step forecast from ``arch`` on daily log returns, EWMA
with lambda 0.94 when data is short or the fit fails; say which was used).

Only completed UTC days are used: today's candle is still moving, so the statistics change when a
day completes, not on every price tick (this is what makes caching them safe).
"""

from __future__ import annotations

import math
import sys
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pandas as pd

EWMA_LAMBDA = 0.94
GARCH_MIN_OBS = 100  # fewer daily returns than this: EWMA
GARCH_MAX_OBS = 1000  # fit on the most recent returns only (speed; regime relevance)
EWMA_MIN_OBS = 10  # fewer than this: no estimate at all (the checks then fail closed)


@dataclass(frozen=True)
class VolEstimate:
    pair: str
    daily_vol: float | None  # a fraction: 0.04 = 4% a day
    method: str  # "garch", "ewma" or "none"
    reason: str  # why this method (shown to traders)
    observations: int

    def annualised(self, periods_per_year: int) -> float | None:
        return None if self.daily_vol is None else self.daily_vol * math.sqrt(periods_per_year)


def ewma_vol(returns: np.ndarray, lam: float = EWMA_LAMBDA) -> float:
    """RiskMetrics EWMA: sigma^2_t = lam sigma^2_{t-1} + (1 - lam) r^2_{t-1}, seeded with the
    sample variance of the first returns; returns the forecast for the next day."""
    seed = min(len(returns), 20)
    variance = float(np.mean(returns[:seed] ** 2))
    for r in returns[seed:]:
        variance = lam * variance + (1 - lam) * float(r) ** 2
    return math.sqrt(variance)


def load_arch() -> ModuleType:
    """``arch.univariate``, imported without matplotlib in a process with one thread that has
    not imported matplotlib yet (a replay, a sweep's worker).

    ``arch`` imports ``matplotlib.figure`` (about 27 MiB resident) if it can, for plot methods
    Helios never calls, and guards that import with ``except ImportError``; a replay would carry
    it for nothing (the replay's memory target: docs/replay.md). So matplotlib is hidden while
    ``arch`` loads and importable again right after. Only with one thread: no other thread can
    be importing matplotlib meanwhile (a scheduler's report job, a console page) and be refused
    it; with more, ``arch`` is imported the ordinary way. Should a version of ``arch`` need
    matplotlib, the hidden import fails and the ordinary one follows."""
    loaded = sys.modules.get("arch.univariate")
    if loaded is not None:
        return loaded
    if "matplotlib" not in sys.modules and threading.active_count() == 1:
        sys.modules["matplotlib"] = None  # type: ignore[assignment]
        try:
            import arch.univariate
        except ImportError:
            pass  # arch needs matplotlib after all: the ordinary import below
        finally:
            if "matplotlib" in sys.modules and sys.modules["matplotlib"] is None:
                del sys.modules["matplotlib"]
    import arch.univariate

    return arch.univariate


def garch_vol(returns: np.ndarray) -> tuple[float | None, str]:
    """GARCH(1,1) one-step-ahead daily volatility on percent returns, or (None, why not)."""
    arch_model = load_arch().arch_model

    scaled = returns * 100.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = arch_model(
                scaled, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False
            )
            fit = model.fit(disp="off", show_warning=False)
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        return None, f"GARCH fit failed ({type(exc).__name__}: {exc})"
    if fit.convergence_flag != 0:
        return None, f"GARCH did not converge (flag {fit.convergence_flag})"
    variance = float(fit.forecast(horizon=1, reindex=False).variance.iloc[-1, 0])
    if not math.isfinite(variance) or variance <= 0:
        return None, f"GARCH forecast variance {variance} is not usable"
    return math.sqrt(variance) / 100.0, ""


def estimate_vol(pair: str, returns: pd.Series) -> VolEstimate:
    values = returns.dropna().to_numpy(dtype=float)[-GARCH_MAX_OBS:]
    n = len(values)
    if n < EWMA_MIN_OBS:
        return VolEstimate(
            pair, None, "none", f"only {n} daily returns (< {EWMA_MIN_OBS}): no estimate", n
        )
    if n < GARCH_MIN_OBS:
        return _ewma(pair, values, f"EWMA: {n} daily returns < {GARCH_MIN_OBS} needed for GARCH")
    vol, why = garch_vol(values)
    if vol is None:
        return _ewma(pair, values, f"EWMA: {why}")
    return VolEstimate(pair, vol, "garch", f"GARCH(1,1) on {n} daily returns", n)


def _ewma(pair: str, values: np.ndarray, reason: str) -> VolEstimate:
    """The EWMA estimate, unless it is zero or not a number: a price that has not moved for
    weeks (a stuck feed, a halted market) says nothing about risk, and a zero volatility would
    let any size through the risk check. Then there is no estimate, and the checks fail closed."""
    vol = ewma_vol(values)
    if not math.isfinite(vol) or vol <= 0:
        return VolEstimate(
            pair,
            None,
            "none",
            f"{len(values)} daily returns without any price movement: no estimate",
            len(values),
        )
    return VolEstimate(pair, vol, "ewma", reason, len(values))


def covariance(returns: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray, int]:
    """Sample covariance of aligned daily log returns (rows where every pair has one)."""
    aligned = returns.dropna(how="any")
    pairs = tuple(str(c) for c in aligned.columns)
    if len(aligned) < 2:
        return pairs, np.zeros((len(pairs), len(pairs))), len(aligned)
    return (
        pairs,
        np.cov(aligned.to_numpy(dtype=float), rowvar=False).reshape(len(pairs), len(pairs)),
        len(aligned),
    )
