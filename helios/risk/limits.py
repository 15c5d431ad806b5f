"""The risk limits in force (``RiskLimits``), a change validated against the ranges, and which
changes loosen the limits (pure).

The names, defaults and ranges are ``helios.limit_rules.LIMIT_RULES`` (L0, so configuration can
validate first-start values against them); re-exported here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from helios.errors import InvalidInput
from helios.limit_rules import LIMIT_NAMES, LIMIT_RULES, LimitRule

__all__ = ["LIMIT_NAMES", "LIMIT_RULES", "LimitRule", "RiskLimits", "loosened", "validate_changes"]


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
