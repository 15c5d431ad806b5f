"""Sizing a trade on the book a decision would read: ``hx.risk.size_position``.

The rule: the size is the pure ``sizing.size`` (fractional Kelly x volatility scalar x equity of
notional, margin = notional / leverage, capped by the single-position and leverage limits and
by what the free cash pays for) fed from the same reads as a decision (``InputReader.gather``,
with a probe trade that validates the parameters), so the size fits the limits and the buying
power the check will judge. Under SIZING_METHOD=optimizer_capped it is also capped by the
optimizer's target weight for the pair x the sector's sleeve (``optimizer.target``); under
``kelly_vol`` the weights are not used.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from helios.clock import Clock
from helios.config import Settings, SizingMethod
from helios.db.engine import Database
from helios.errors import InvalidInput
from helios.market.store import MarketData
from helios.optimizer.service import Optimizer
from helios.optimizer.target import PositionSize, capped_by_weight, kelly_vol, target_weight
from helios.risk.input_reader import InputReader
from helios.risk.inputs import Inputs
from helios.risk.prechecks import affordable_margin
from helios.risk.sizing import size
from helios.risk.stats_cache import StatsCache
from helios.trade import parse_side


class PositionSizer:
    """``size_position``: Kelly x volatility, optionally capped by the optimizer's weight."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        reader: InputReader,
        stats: StatsCache,
        optimizer: Optimizer | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._reader = reader
        self._stats = stats
        self._optimizer = optimizer  # hx.optimizer, for SIZING_METHOD=optimizer_capped

    def size_position(
        self,
        pair: Any,
        signal: Any,
        confidence: Any,
        stop_loss_pct: Any = None,
        take_profit_pct: Any = None,
        leverage: Any = 1.0,
        *,
        ml_predictions: Any = None,
        confidence_scores: Any = None,
        target_weights: Any = None,
    ) -> PositionSize:
        """See ``RiskManager.size_position``."""
        pair = self._market.check_pair(pair)
        parse_side(signal)
        p = _probability(confidence)
        # the book as a decision would read it (a probe of R1 validates the rest), so the size
        # fits the cash that decision's buying power will see
        inputs, params = self._reader.gather(
            pair,
            signal,
            {
                "position_size_zar": 1,
                "leverage": leverage,
                "stop_loss_pct": stop_loss_pct,
                "take_profit_pct": take_profit_pct,
            },
        )
        limits, state = inputs.limits, inputs.state
        existing = sum(
            x.notional for x in state.positions if x.pair == pair and math.isfinite(x.notional)
        )
        gross = sum(x.notional for x in state.positions if math.isfinite(x.notional))
        kelly_vol_size = size(
            equity=state.equity,
            win_probability=p,
            stop_loss_pct=params.stop_loss_pct,
            take_profit_pct=params.take_profit_pct,
            daily_vol=self._stats.volatility(pair).daily_vol,
            kelly_fraction=self._settings.kelly_fraction,
            vol_target_annual=self._settings.vol_target_annual,
            periods_per_year=self._settings.periods_per_year,
            max_single_position_pct=limits.max_single_position_pct,
            leverage=params.leverage,
            existing_pair_notional=existing,
            max_leverage=limits.max_leverage,
            existing_gross_notional=gross,
            max_margin_zar=_affordable_margin(inputs, params.leverage),
        )
        if self._settings.sizing_method is not SizingMethod.OPTIMIZER_CAPPED:
            return kelly_vol(kelly_vol_size)
        if self._optimizer is None:
            self._optimizer = Optimizer(self._db, self._settings, self._clock, self._market)
        weight, source = target_weight(
            self._optimizer,
            self._settings,
            pair,
            ml_predictions=ml_predictions,
            confidence_scores=confidence_scores,
            target_weights=target_weights,
        )
        return capped_by_weight(
            kelly_vol_size,
            weight=weight,
            sector=self._settings.sector_of(pair),
            sector_limit_pct=limits.max_sector_exposure_pct,
            pair_notional=existing,
            source=source,
        )


def _affordable_margin(inputs: Inputs, leverage: float) -> float | None:
    """The sizing cap of the buying power (``prechecks.affordable_margin``) on the free cash the
    decision read; None when it is unknown (the pre-check refuses then anyway)."""
    if inputs.free_cash is None:
        return None
    margin = affordable_margin(
        Decimal(inputs.free_cash), Decimal(repr(leverage)), Decimal(inputs.fee_pct)
    )
    return float(margin)


def _probability(confidence: Any) -> float:
    allowed = "a probability > 0 and < 1 (the ML confidence)"
    if isinstance(confidence, bool):
        raise InvalidInput("confidence", confidence, allowed)
    try:
        p = float(confidence)
    except (TypeError, ValueError):
        raise InvalidInput("confidence", confidence, allowed) from None
    if not math.isfinite(p) or not 0 < p < 1:
        raise InvalidInput("confidence", confidence, allowed)
    return p
