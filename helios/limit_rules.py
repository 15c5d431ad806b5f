"""The seed's 8 risk limits: names, defaults and the ranges a value may take (L0).

This module is the one place the ranges live: configuration (first-start values), the limits
form and ``hx.risk.update_limits`` (``helios.risk.limits``) all validate against ``LIMIT_RULES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from helios.errors import InvalidInput


@dataclass(frozen=True)
class LimitRule:
    name: str
    default: float
    low: float
    high: float
    low_inclusive: bool
    meaning: str
    looser_when_higher: bool = True

    def allowed(self) -> str:
        low = ">=" if self.low_inclusive else ">"
        return f"a number {low} {self.low:g} and <= {self.high:g} ({self.meaning})"

    def check(self, value: Any) -> float:
        if isinstance(value, bool):
            raise InvalidInput(self.name, value, self.allowed())
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(self.name, value, self.allowed()) from None
        too_low = number < self.low if self.low_inclusive else number <= self.low
        if not math.isfinite(number) or too_low or number > self.high:
            raise InvalidInput(self.name, value, self.allowed())
        return number


LIMIT_RULES: dict[str, LimitRule] = {
    rule.name: rule
    for rule in (
        LimitRule("max_drawdown_pct", 0.15, 0.0, 1.0, False, "fraction of peak equity; 0.15 = 15%"),
        LimitRule(
            "daily_loss_limit_pct",
            0.05,
            0.0,
            1.0,
            False,
            "fraction of start-of-day equity; 0.05 = 5%",
        ),
        LimitRule(
            "max_portfolio_risk_exposure_pct",
            0.15,
            0.0,
            1.0,
            False,
            "sum of notional x daily vol as a fraction of equity",
        ),
        LimitRule(
            "max_single_position_pct",
            0.20,
            0.0,
            1.0,
            False,
            "one pair's notional as a fraction of equity",
        ),
        LimitRule(
            "max_sector_exposure_pct",
            0.60,
            0.0,
            10.0,
            False,
            "one sector's notional as a fraction of equity",
        ),
        LimitRule(
            "max_correlation_threshold",
            0.90,
            0.0,
            1.0,
            False,
            "correlation of the new position with the open portfolio",
        ),
        LimitRule("max_leverage", 3.0, 1.0, 10.0, True, "total notional / equity"),
        LimitRule(
            "min_position_size_pct",
            0.05,
            0.0,
            1.0,
            False,
            "smallest position worth opening, as a fraction of equity",
            looser_when_higher=False,
        ),
    )
}

LIMIT_NAMES = tuple(LIMIT_RULES)
