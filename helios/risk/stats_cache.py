"""The market statistics the checks use, fitted once per completed day and cached per process.

The rule: GARCH/EWMA volatility of each pair and the covariance of daily returns are fitted on
completed UTC days only (``volatility``), so they can change only when a new day completes or
the market's history is replaced (its epoch, ``HISTORY_EPOCH_KEY``). The cache is keyed by that
marker, (today, epoch), and refitted only when it changes: a check reads the marker (one
primary-key read, or the column of its own read) instead of refitting (a GARCH fit of five pairs
takes seconds; a check must take under 2 ms).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Setting
from helios.market.bar_time import floor_time
from helios.market.candles import DAY
from helios.market.history_epoch import HISTORY_EPOCH_KEY
from helios.market.store import MarketData
from helios.risk.checks import MarketStats
from helios.risk.volatility import VolEstimate, covariance, estimate_vol

MIN_COV_RETURNS = 30  # a pair with fewer daily returns is left out of the covariance matrix
_HISTORY_EPOCH = select(Setting.value).where(Setting.key == HISTORY_EPOCH_KEY)


@dataclass(frozen=True)
class RiskStats:
    """The market statistics in force, with how each volatility was estimated."""

    vols: dict[str, VolEstimate]
    stats: MarketStats
    marker: tuple[Any, ...]
    fitted_at: datetime
    fit_seconds: float

    def daily_vol(self, pair: str) -> float | None:
        estimate = self.vols.get(pair)
        return estimate.daily_vol if estimate else None

    def correlation_matrix(self) -> pd.DataFrame:
        pairs = list(self.stats.pairs)
        cov = self.stats.covariance
        data = [
            [
                cov[i][j] / math.sqrt(cov[i][i] * cov[j][j])
                if cov[i][i] > 0 and cov[j][j] > 0
                else float("nan")
                for j in range(len(pairs))
            ]
            for i in range(len(pairs))
        ]
        return pd.DataFrame(data, index=pairs, columns=pairs)


class StatsCache:
    """The statistics in force for this process, refitted when their marker changes."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, market: MarketData) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._stats: RiskStats | None = None
        self._lock = threading.Lock()

    def market_stats(self) -> RiskStats:
        """Volatility and covariance, refitted only when a new completed day arrives."""
        today = floor_time(self._clock.now(), DAY)
        with self._db.read() as session:
            marker = history_marker(session, today)
        return self.stats_for(marker, today)

    def stats_at(self, now: datetime, history_epoch: str | None) -> RiskStats:
        """The statistics a decision at ``now`` uses, the history epoch it read in hand: keyed
        by the UTC day and the epoch (a completed daily bar moves it)."""
        today = floor_time(now, DAY)
        return self.stats_for((today.isoformat(), history_epoch or "0"), today)

    def stats_for(self, marker: tuple[Any, ...], today: datetime) -> RiskStats:
        """The cached statistics if they were fitted on ``marker``, else a refit."""
        cached = self._stats
        if cached is not None and cached.marker == marker:
            return cached
        with self._lock:
            if self._stats is not None and self._stats.marker == marker:
                return self._stats
            self._stats = self._fit(marker, today)
            return self._stats

    def refresh_stats(self) -> RiskStats:
        """Refit now, whatever the cache holds (timing, tests)."""
        self._stats = None
        return self.market_stats()

    def volatility(self, pair: str) -> VolEstimate:
        pair = self._market.check_pair(pair)
        return self.market_stats().vols[pair]

    def _fit(self, marker: tuple[Any, ...], today: datetime) -> RiskStats:
        began = time.perf_counter()
        end = today - timedelta(seconds=1)
        series: dict[str, pd.Series] = {}
        vols: dict[str, VolEstimate] = {}
        for pair in self._settings.pairs:
            returns = self._market.returns(pair, "1d", end=end)
            series[pair] = returns
            vols[pair] = estimate_vol(pair, returns)
        usable = [p for p, r in series.items() if len(r) >= MIN_COV_RETURNS]
        frame = (
            pd.concat([series[p] for p in usable], axis=1, join="inner")
            if usable
            else pd.DataFrame()
        )
        pairs, cov, aligned = covariance(frame) if usable else ((), [], 0)
        stats = MarketStats(
            daily_vol={p: v.daily_vol for p, v in vols.items() if v.daily_vol is not None},
            pairs=tuple(pairs),
            covariance=tuple(tuple(float(x) for x in row) for row in cov),
            aligned_obs=int(aligned),
        )
        return RiskStats(vols, stats, marker, self._clock.now(), time.perf_counter() - began)


def history_marker(db: Session | Connection, today: datetime) -> tuple[Any, ...]:
    """The date and the market's history epoch: together they change exactly when the
    statistics (fitted on completed days) may change. One primary-key read."""
    epoch = db.execute(_HISTORY_EPOCH).scalar_one_or_none()
    return (today.isoformat(), epoch or "0")
