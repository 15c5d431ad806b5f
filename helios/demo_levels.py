"""The demo's stop, target and holding time: a pure rule (no I/O), and how a position or signal
is known to be the demo's.

Why a rule and not fixed numbers: the demo used a 0.35% target against about 0.8% of round-trip
costs (fee and slippage on the way in and again on the way out), so every target it reached
still lost money (48 closed, 0% wins). A newcomer watching it saw fees, not the guardian. Here
the target must clear the costs several times over and be a real move for the pair (a multiple
of its recent volatility, not noise), the stop sits at half the target (risking one to make two,
and never inside an hour's ordinary movement), and the position is given the time a typical move
needs to reach the target (volatility grows with the square root of time), within bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# How a demo signal is marked (its source) and what its reasoning (and so its position's
# strategic reasoning, copied from the signal) starts with.
SOURCE = "demo-momentum"
REASONING = "DEMO: simulated momentum rule on the simulated market, not a real model or LLM"
DEMO_PREFIX = "DEMO:"

FEE_MULTIPLE = 3.0  # the target is at least 3x the round-trip costs
VOL_MULTIPLE = 2.0  # ... and at least 2 hours of the pair's typical movement
REWARD_RISK = 2.0  # the stop is the target / 2
STOP_VOL_MULTIPLE = 1.0  # ... and at least 1 hour of typical movement
MIN_HOLD_HOURS = 1.0
MAX_HOLD_HOURS = 24.0


@dataclass(frozen=True)
class DemoMarket:
    """What the rule needs: the costs of one side (fractions: 0.0035 = 0.35%), the pair's
    recent volatility over one hour (a fraction, None when unknown) and the longest holding the
    settings allow (hours)."""

    fee_pct: float
    slippage_pct: float
    hourly_volatility: float | None
    max_holding_hours: float


@dataclass(frozen=True)
class DemoLevels:
    """The demo's trade parameters for one pair, and why."""

    stop_loss_pct: float
    take_profit_pct: float
    max_holding_hours: float
    round_trip_cost_pct: float
    reason: str

    def trade_params(self) -> dict[str, float]:
        """As a signal's ``trade_params``."""
        return {
            "stop_loss_pct": self.stop_loss_pct,
            "take_profit_pct": self.take_profit_pct,
            "max_holding_hours": self.max_holding_hours,
        }


def demo_levels(market: DemoMarket) -> DemoLevels:
    """Target = max(3 x round-trip costs, 2 x hourly volatility); stop = max(target / 2, 1 x
    hourly volatility); holding = (target / hourly volatility)^2 hours, the time a one-sigma
    move takes to reach the target, kept within 1 h and min(24 h, the settings' maximum).

    A target that clears the costs three times over makes a reached target a net win; one that
    is a real move for the pair is not reached by noise alone; a stop at half the target risks
    one to make two; a position given the time to get there is closed by its stop or its target,
    not by the clock. With no volatility known the costs alone set the levels and the position
    gets the longest holding allowed.
    """
    costs = 2.0 * (market.fee_pct + market.slippage_pct)
    vol = market.hourly_volatility
    known = vol is not None and math.isfinite(vol) and vol > 0
    longest = max(min(MAX_HOLD_HOURS, market.max_holding_hours), 0.0)
    shortest = min(MIN_HOLD_HOURS, longest)
    target = FEE_MULTIPLE * costs
    stop = target / REWARD_RISK
    if known:
        assert vol is not None
        target = max(target, VOL_MULTIPLE * vol)
        stop = max(target / REWARD_RISK, STOP_VOL_MULTIPLE * vol)
        hold = min(max((target / vol) ** 2, shortest), longest)
        why = (
            f"target {target:.2%} = max({FEE_MULTIPLE:g} x round-trip costs {costs:.2%}, "
            f"{VOL_MULTIPLE:g} x hourly volatility {vol:.2%}); stop {stop:.2%}; "
            f"held up to {hold:.1f} h"
        )
    else:
        hold = longest
        why = (
            f"target {target:.2%} = {FEE_MULTIPLE:g} x round-trip costs {costs:.2%} (no recent "
            f"volatility); stop {stop:.2%}; held up to {hold:.1f} h"
        )
    return DemoLevels(
        stop_loss_pct=round(stop, 6),
        take_profit_pct=round(target, 6),
        max_holding_hours=round(hold, 3),
        round_trip_cost_pct=costs,
        reason=why,
    )


def is_demo(*, source: str | None = None, reasoning: str | None = None) -> bool:
    """Whether a signal (its source) or a position (its strategic reasoning, copied from the
    demo's signal) is the demo's."""
    return source == SOURCE or bool(reasoning and reasoning.startswith(DEMO_PREFIX))
