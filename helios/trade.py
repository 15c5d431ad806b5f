"""What a trade request looks like: the side and the seed's trade_params, validated in one place
(the risk checks, the position manager and the API all parse through here)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from helios.config import Settings
from helios.errors import InvalidInput
from helios.money import ZERO
from helios.money import price as to_price

SIDES = ("BUY", "SELL")
KNOWN_PARAMS = (
    "position_size_zar",
    "leverage",
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_activation_pct",
    "trailing_distance_pct",
    "max_holding_hours",
)
MAX_POSITION_SIZE_ZAR = 1e12


def parse_side(signal: Any, field: str = "signal") -> str:
    """'BUY' or 'SELL' (case-insensitive); anything else raises InvalidInput."""
    if isinstance(signal, str) and signal.strip().upper() in SIDES:
        return signal.strip().upper()
    raise InvalidInput(field, signal, "BUY or SELL")


def _number(
    params: dict[str, Any],
    key: str,
    low: float,
    high: float,
    *,
    low_inclusive: bool = False,
    high_inclusive: bool = True,
    default: float | None = None,
    side: str | None = None,
) -> float | None:
    value = params.get(key)
    if value is None:  # absent, or given as None: the default
        value = default
    if value is None:
        return None
    lo = ">=" if low_inclusive else ">"
    hi = "<=" if high_inclusive else "<"
    allowed = f"a number {lo} {low:g} and {hi} {high:g}"
    if side is not None:
        allowed += f" for a {parse_side(side, 'side')}"
        if parse_side(side, "side") == "SELL" and not high_inclusive:
            allowed += " (a short's level is below its entry: 1 or more puts it at or below zero)"
    if isinstance(value, bool):
        raise InvalidInput(f"trade_params.{key}", value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"trade_params.{key}", value, allowed) from None
    below = number < low if low_inclusive else number <= low
    above = number > high if high_inclusive else number >= high
    if not math.isfinite(number) or below or above:
        raise InvalidInput(f"trade_params.{key}", value, allowed)
    return number


@dataclass(frozen=True)
class TradeParams:
    """The seed's trade_params with defaults applied. Fractions: 0.02 = 2%."""

    position_size_zar: float
    leverage: float
    stop_loss_pct: float
    take_profit_pct: float
    max_holding_hours: float
    trailing_activation_pct: float | None = None
    trailing_distance_pct: float | None = None

    @property
    def notional(self) -> float:
        return self.position_size_zar * self.leverage

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, params: Any, settings: Settings, max_leverage: float, side: str) -> TradeParams:
        """Validate ``params`` (a dict); unknown keys are refused so a typo is never ignored.

        ``side`` (BUY or SELL) bounds the levels a short puts below its entry: a SELL's target
        is entry x (1 - take_profit_pct) and its trailing stop activates at entry x (1 -
        trailing_activation_pct), so both must stay below 1 (1 or more is a price of zero or
        less). A BUY's target and activation are above the entry: up to 10 (1,000%)."""
        if not isinstance(params, dict):
            raise InvalidInput("trade_params", params, "a dict with position_size_zar, ...")
        unknown = sorted(set(params) - set(KNOWN_PARAMS))
        if unknown:
            raise InvalidInput("trade_params", unknown, f"keys among {', '.join(KNOWN_PARAMS)}")
        if params.get("position_size_zar") is None:  # absent or None: there is no default
            raise InvalidInput(
                "trade_params.position_size_zar",
                params.get("position_size_zar"),
                f"required: the margin in ZAR, > 0 and <= {MAX_POSITION_SIZE_ZAR:g}",
            )
        size = _number(params, "position_size_zar", 0, MAX_POSITION_SIZE_ZAR)
        leverage = _number(params, "leverage", 1.0, max_leverage, low_inclusive=True, default=1.0)
        stop = _number(
            params,
            "stop_loss_pct",
            0.0,
            1.0,
            high_inclusive=False,
            default=settings.default_stop_loss_pct,
        )
        short = parse_side(side, "side") == "SELL"
        # a short's target and trailing activation lie below its entry: under 100% away
        upside = 1.0 if short else 10.0
        take = _number(
            params,
            "take_profit_pct",
            0.0,
            upside,
            high_inclusive=not short,
            default=settings.default_take_profit_pct,
            side=side,
        )
        hours = _number(
            params, "max_holding_hours", 0.0, 24.0 * 90, default=settings.max_position_holding_hours
        )
        activation = _number(
            params,
            "trailing_activation_pct",
            0.0,
            upside,
            high_inclusive=not short,
            side=side,
        )
        distance = _number(params, "trailing_distance_pct", 0.0, 1.0, high_inclusive=False)
        if (activation is None) != (distance is None):
            raise InvalidInput(
                "trade_params.trailing_distance_pct",
                distance,
                "given together with trailing_activation_pct (both or neither)",
            )
        assert size is not None and leverage is not None and stop is not None
        assert take is not None and hours is not None
        return cls(size, leverage, stop, take, hours, activation, distance)


def entry_levels(
    side: str,
    entry: Decimal,
    stop_loss_pct: Decimal | float,
    take_profit_pct: Decimal | float,
    tick: Decimal = ZERO,
) -> tuple[Decimal, Decimal]:
    """The stop-loss and take-profit prices of a position entered at ``entry``: below and above
    it for a BUY, above and below for a SELL (fractions: 0.02 = 2%). The one rule for a fill and
    for a preview. ``tick`` (``PRICE_TICK``; 0: none): the stop lies on that price grid, rounded
    toward the entry (a stop is never further away than asked: Freqtrade's rule too)."""
    stop, target = Decimal(str(stop_loss_pct)), Decimal(str(take_profit_pct))
    direction = 1 if parse_side(side) == "BUY" else -1
    stop_price = entry * (1 - direction * stop)
    if tick > 0:
        steps = stop_price / tick
        steps = steps.to_integral_value(ROUND_CEILING if direction == 1 else ROUND_FLOOR)
        stop_price = steps * tick
    levels = (
        to_price(stop_price),
        to_price(entry * (1 + direction * target)),
    )
    for name, pct, level in zip(
        ("stop_loss_pct", "take_profit_pct"), (stop, target), levels, strict=True
    ):
        if level <= 0:  # TradeParams.parse refuses these first; a level of zero is no level
            raise InvalidInput(
                f"trade_params.{name}", pct, f"a level above zero for a {side} at {entry}"
            )
    return levels
