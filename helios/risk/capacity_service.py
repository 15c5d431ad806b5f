"""The room the open book leaves: capacity, risk budget, the limits' gauges, trades to a target.

The rule: these figures are read from the same book the checks see (``InputReader``: the LIVE
capital cap included) and computed by the pure rules (``utilisation``, ``capacity``,
``optimizer.target.rebalance_trades``), so the Risk page never shows room the checks would not
give. The capacity reads the book as a decision would (a probe trade, the buying power's free
cash with it); the budget and the gauges read the limits and the book in one read transaction.
"""

from __future__ import annotations

from typing import Any

from helios.config import Settings
from helios.market.store import MarketData
from helios.optimizer.target import rebalance_trades
from helios.risk.input_reader import InputReader
from helios.risk.inputs import Inputs
from helios.risk.stats_cache import StatsCache
from helios.risk.utilisation import budget, capacity_table, held_notional, utilisation


class CapacityService:
    """``capacity``, ``risk_budget``, ``utilisation`` and ``trades_to_target`` of ``hx.risk``."""

    def __init__(
        self, settings: Settings, market: MarketData, reader: InputReader, stats: StatsCache
    ) -> None:
        self._settings = settings
        self._market = market
        self._reader = reader
        self._stats = stats

    def capacity(self) -> dict[str, Any]:
        """The budget and, per pair, how many minimum-size positions still fit."""
        pair = self._settings.pairs[0]
        inputs, _params = self._reader.gather(pair, "BUY", {"position_size_zar": 1})
        return self.capacity_of(inputs)

    def capacity_of(self, inputs: Inputs) -> dict[str, Any]:
        """The capacity table on the book ``inputs`` read, at the latest prices."""
        return capacity_table(inputs, self._market.latest_prices(), self._settings)

    def risk_budget(self) -> dict[str, Any]:
        """Check 3's budget, what the open book uses of it and what is left."""
        stats = self._stats.market_stats().stats
        limits, state = self._reader.limits_and_state()
        return budget(state, limits, stats)

    def utilisation(self) -> list[dict[str, Any]]:
        """How much of each of the 7 limits the open book uses now."""
        stats = self._stats.market_stats().stats
        limits, state = self._reader.limits_and_state()
        return utilisation(state, limits, stats, self._settings)

    def trades_to_target(self, weights: dict[str, float]) -> list[dict[str, Any]]:
        """The trades that would move the open book to ``weights``."""
        limits, state = self._reader.limits_and_state()
        return rebalance_trades(
            weights,
            equity=state.equity,
            sector_limit_pct=limits.max_sector_exposure_pct,
            single_limit_pct=limits.max_single_position_pct,
            held_notional=held_notional(state),
        )
