"""The seed's 8 risk limits: names, defaults and the ranges a value may take.

This module is the one place the ranges live: configuration (first-start values), the limits
form and ``hx.risk.update_limits`` all validate against ``LIMIT_RULES``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime
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


@dataclass(frozen=True)
class RiskLimits:
    """One complete set of limits (fractions, leverage in x)."""

    max_drawdown_pct: float = 0.15
    daily_loss_limit_pct: float = 0.05
    max_portfolio_risk_exposure_pct: float = 0.15
    max_single_position_pct: float = 0.20
    max_sector_exposure_pct: float = 0.60
    max_correlation_threshold: float = 0.90
    max_leverage: float = 3.0
    min_position_size_pct: float = 0.05
    version: int | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None

    def values(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_at"] = self.changed_at.isoformat() if self.changed_at else None
        return data

    @classmethod
    def from_values(cls, values: dict[str, Any], **meta: Any) -> RiskLimits:
        return cls(**{name: LIMIT_RULES[name].check(values[name]) for name in LIMIT_NAMES}, **meta)


def validate_changes(changes: Any) -> dict[str, float]:
    """Check a partial set of limit changes; unknown names and out-of-range values raise."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput("changes", changes, "a non-empty dict of limit name -> value")
    unknown = sorted(set(changes) - set(LIMIT_NAMES))
    if unknown:
        raise InvalidInput("changes", unknown, f"limit names among {', '.join(LIMIT_NAMES)}")
    return {name: LIMIT_RULES[name].check(value) for name, value in changes.items()}


def loosened(before: RiskLimits, after: RiskLimits) -> list[str]:
    """The limits that allow more risk after the change than before."""
    looser = []
    for name in LIMIT_NAMES:
        old, new = getattr(before, name), getattr(after, name)
        if LIMIT_RULES[name].looser_when_higher and new > old:
            looser.append(name)
    return looser


assert {f.name for f in fields(RiskLimits)} >= set(LIMIT_NAMES)
