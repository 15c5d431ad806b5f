"""Position sizing (the seed's Tier 3 example, with its arithmetic corrected).

    full Kelly      f = (p x b - (1 - p)) / b       p = win probability (ML confidence),
                                                    b = reward/risk = take profit / stop loss
    fractional      f x kelly_fraction (0.25)
    vol scalar      target annual vol / (daily vol x sqrt(periods per year))
    exposure        fractional x scalar x equity: the notional N the trade should carry
    margin          S = N / leverage (leverage lowers the margin posted, never raises the risk)
    caps            N at most what the single-position limit leaves for the pair and what the
                    leverage limit leaves for the book, so a sized trade passes checks 4 and 7;
                    S at most what the free cash pays for with the opening fee (buying power)

The seed writes full Kelly 0.23 for p = 0.85, b = 3; the correct value is
(0.85 x 3 - 0.15) / 3 = 0.80 (DESIGN.md). With 4% daily vol, 365 periods, a 10% target and
R100,000 equity: 0.80 x 0.25 = 0.20; scalar 0.10 / (0.04 x sqrt(365)) = 0.1309; size R2,617.12
(R3,149.70 with the seed's 252 periods). No edge (f <= 0) means no trade: size 0. No usable
volatility estimate means no size either (fail closed).

Sizes are in cents: rounded to the nearest cent, but never above a cap (a capped size is rounded
down), so "size, then check" never fails on a cent of rounding.

Pure: no I/O. ``hx.risk.size_position`` supplies equity, volatility, the book and the limits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SizingResult:
    position_size_zar: float  # the margin S to request (cents)
    notional_zar: float  # S x leverage
    win_probability: float
    reward_risk: float
    full_kelly: float
    kelly_fraction: float
    fractional_kelly: float
    daily_vol: float | None
    annual_vol: float | None
    vol_target_annual: float
    periods_per_year: int
    vol_scalar: float | None
    target_notional_zar: float  # fractional x scalar x equity, before the caps
    uncapped_size_zar: float  # the margin that target needs: target / leverage
    cap_zar: float  # largest margin the limits allow
    cap_limit: str  # behind cap_zar: max_single_position_pct, max_leverage or buying_power
    capped: bool
    equity: float
    leverage: float
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kelly(win_probability: float, reward_risk: float) -> float:
    """Full Kelly fraction f = (p b - (1 - p)) / b (may be negative: no edge)."""
    return (win_probability * reward_risk - (1 - win_probability)) / reward_risk


def cents_down(amount: float) -> float:
    """``amount`` rounded down to a cent (a hair of float noise above a cent is a cent)."""
    return math.floor(round(amount * 100, 6)) / 100


def size(
    *,
    equity: float,
    win_probability: float,
    stop_loss_pct: float,
    take_profit_pct: float,
    daily_vol: float | None,
    kelly_fraction: float,
    vol_target_annual: float,
    periods_per_year: int,
    max_single_position_pct: float,
    leverage: float = 1.0,
    existing_pair_notional: float = 0.0,
    max_leverage: float | None = None,
    existing_gross_notional: float = 0.0,
    max_margin_zar: float | None = None,
) -> SizingResult:
    """``max_margin_zar``: the most margin the free cash pays for with its opening fee (the
    buying power pre-check, computed exactly by the caller): a cap like the limits'."""
    reward_risk = take_profit_pct / stop_loss_pct
    full = kelly(win_probability, reward_risk)
    fractional = max(0.0, full) * kelly_fraction
    usable_vol = daily_vol is not None and math.isfinite(daily_vol) and daily_vol > 0
    annual = daily_vol * math.sqrt(periods_per_year) if usable_vol else None
    scalar = vol_target_annual / annual if annual else None

    caps = {"max_single_position_pct": max_single_position_pct * equity - existing_pair_notional}
    if max_leverage is not None:
        caps["max_leverage"] = max_leverage * equity - existing_gross_notional
    cap_limit = min(caps, key=lambda name: caps[name])
    cap_notional = max(0.0, caps[cap_limit])
    cap = cents_down(cap_notional / leverage)
    if max_margin_zar is not None and max_margin_zar < cap:
        cap, cap_limit = max(0.0, max_margin_zar), "buying_power"

    if full <= 0:
        target, why = (
            0.0,
            (
                f"no edge: full Kelly {full:.4f} <= 0 at p={win_probability:.2f}, "
                f"b={reward_risk:.2f}"
            ),
        )
    elif scalar is None:
        target, why = 0.0, "no volatility estimate: cannot size (fail closed)"
    elif not equity > 0:
        target, why = 0.0, "equity is not positive"
    else:
        target = fractional * scalar * equity
        why = (
            f"Kelly {full:.4f} x {kelly_fraction:g} = {fractional:.4f}; vol scalar "
            f"{vol_target_annual:g} / ({daily_vol:.4f} x sqrt({periods_per_year})) = "
            f"{scalar:.4f}; x equity R{equity:,.2f} = R{target:,.2f} of notional"
        )
        if leverage != 1:
            why += f"; at {leverage:g}x leverage R{target / leverage:,.2f} of margin"
    uncapped = target / leverage
    capped = round(uncapped, 2) > cap
    final = cap if capped else round(uncapped, 2)
    if capped:
        why += f"; capped at R{cap:,.2f} of margin by {cap_limit}"
    return SizingResult(
        position_size_zar=final,
        notional_zar=final * leverage,
        win_probability=win_probability,
        reward_risk=reward_risk,
        full_kelly=full,
        kelly_fraction=kelly_fraction,
        fractional_kelly=fractional,
        daily_vol=daily_vol,
        annual_vol=annual,
        vol_target_annual=vol_target_annual,
        periods_per_year=periods_per_year,
        vol_scalar=scalar,
        target_notional_zar=target,
        uncapped_size_zar=uncapped,
        cap_zar=cap,
        cap_limit=cap_limit,
        capped=capped,
        equity=equity,
        leverage=leverage,
        explanation=why,
    )
