"""The seed's 8 risk limits: names, human labels, defaults and the ranges a value may take (L0).

This module is the one place the ranges and the labels live: configuration (first-start
values), the limits form, ``helios limits`` and ``hx.risk.update_limits``
(``helios.risk.limits``) all validate against ``LIMIT_RULES``; the Risk page, the CLI and the
API's field descriptions take each limit's ``label`` from here.

A person sees and types a ``_pct`` limit in percent (``15`` for the stored fraction ``0.15``):
``LimitRule.shown`` and ``LimitRule.from_shown`` convert exactly through ``Decimal`` (a float
times 100 is not exact: ``0.07 * 100 == 7.000000000000001``), and a value out of range is
refused in the unit it was typed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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
    label: str = ""
    unit: str = ""  # "%" for a _pct limit (shown in percent), "x" for a multiple, "" plain

    def allowed(self) -> str:
        low = ">=" if self.low_inclusive else ">"
        return f"a number {low} {self.low:g} and <= {self.high:g} ({self.meaning})"

    def describe(self) -> str:
        """The label and the meaning, for a field's description (the API, ``--help``)."""
        return f"{self.label}: {self.meaning}"

    @property
    def percent(self) -> bool:
        """A ``_pct`` limit: stored as a fraction, shown and typed in percent."""
        return self.unit == "%"

    def shown(self, value: float) -> Decimal:
        """The stored value as a person reads it: a fraction in percent (``0.15`` ->
        ``Decimal("15.00")``, exactly), any other as it is."""
        exact = Decimal(repr(float(value)))
        return exact * 100 if self.percent else exact

    def fmt(self, value: float) -> str:
        """``15.00%``, ``3.00x`` or ``0.90``."""
        return f"{self.shown(value):.2f}{self.unit}"

    def allowed_shown(self) -> str:
        """The range in the unit a person types (percent for a ``_pct`` limit)."""
        if not self.percent:
            return self.allowed()
        low = ">=" if self.low_inclusive else ">"
        return (
            f"a percentage {low} {self.low * 100:g} and <= {self.high * 100:g} "
            f"({self.label}, in %: 15 means 15%)"
        )

    def from_shown(self, value: Any) -> float:
        """A value as a person typed it (percent for a ``_pct`` limit) -> the stored value,
        converted exactly; not a number or out of range raises ``InvalidInput`` naming the
        limit, the value as typed and the range in the same unit."""
        if isinstance(value, bool):
            raise InvalidInput(self.name, value, self.allowed_shown())
        try:
            exact = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise InvalidInput(self.name, value, self.allowed_shown()) from None
        if not exact.is_finite():
            raise InvalidInput(self.name, value, self.allowed_shown())
        stored = float(exact / 100) if self.percent else float(exact)
        try:
            return self.check(stored)
        except InvalidInput:
            raise InvalidInput(self.name, value, self.allowed_shown()) from None

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
        LimitRule(
            "max_drawdown_pct",
            0.15,
            0.0,
            1.0,
            False,
            "fraction of peak equity; 0.15 = 15%",
            label="Max drawdown from peak",
            unit="%",
        ),
        LimitRule(
            "daily_loss_limit_pct",
            0.05,
            0.0,
            1.0,
            False,
            "fraction of start-of-day equity; 0.05 = 5%",
            label="Daily loss limit",
            unit="%",
        ),
        LimitRule(
            "max_portfolio_risk_exposure_pct",
            0.15,
            0.0,
            1.0,
            False,
            "sum of notional x daily vol as a fraction of equity",
            label="Max portfolio risk exposure",
            unit="%",
        ),
        LimitRule(
            "max_single_position_pct",
            0.20,
            0.0,
            1.0,
            False,
            "one pair's notional as a fraction of equity",
            label="Max single position",
            unit="%",
        ),
        LimitRule(
            "max_sector_exposure_pct",
            0.60,
            0.0,
            10.0,
            False,
            "one sector's notional as a fraction of equity",
            label="Max sector exposure",
            unit="%",
        ),
        LimitRule(
            "max_correlation_threshold",
            0.90,
            0.0,
            1.0,
            False,
            "correlation of the new position with the open portfolio",
            label="Max correlation with the book",
        ),
        LimitRule(
            "max_leverage",
            3.0,
            1.0,
            10.0,
            True,
            "total notional / equity",
            label="Max leverage",
            unit="x",
        ),
        LimitRule(
            "min_position_size_pct",
            0.05,
            0.0,
            1.0,
            False,
            "smallest position worth opening, as a fraction of equity",
            looser_when_higher=False,
            label="Min position size",
            unit="%",
        ),
    )
}
assert all(rule.label for rule in LIMIT_RULES.values())
assert all(rule.percent == name.endswith("_pct") for name, rule in LIMIT_RULES.items())

LIMIT_NAMES = tuple(LIMIT_RULES)
