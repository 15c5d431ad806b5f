"""How much of the limits the open book uses: the risk budget, the gauges, the capacity table.

The rules:
- the risk budget is check 3's limit x equity; the open book uses the sum of notional x daily
  volatility of its positions (NaN when a volatility is missing: never guessed), and what is
  left is the difference;
- each of the 7 limits is used by the book alone as value / limit, in the check's own unit
  (drawdown and daily loss from the peak and the day's start, the largest pair and sector as
  fractions of equity, gross notional as leverage); the correlation check judges a new trade
  against the book, so the book alone has no value for it;
- the capacity of each pair is what the whole rule set still accepts (``capacity.fit``), with
  what refuses the next minimum-size position.
Pure: no I/O.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from helios.config import Settings
from helios.risk.capacity import fit, minimum_trade
from helios.risk.checks import MarketStats, PortfolioState
from helios.risk.inputs import Inputs
from helios.risk.limits import RiskLimits


def budget(state: PortfolioState, limits: RiskLimits, stats: MarketStats) -> dict[str, Any]:
    """Check 3's budget in ZAR, what the open book uses of it and what is left."""
    total = limits.max_portfolio_risk_exposure_pct * state.equity
    used = sum(p.notional * stats.daily_vol.get(p.pair, float("nan")) for p in state.positions)
    left = total - used if math.isfinite(used) else float("nan")
    return {
        "risk_budget_zar": total,
        "risk_used_zar": used,
        "risk_left_zar": left,
        "risk_used_pct_of_budget": used / total if total > 0 else None,
        "min_position_notional_zar": limits.min_position_size_pct * state.equity,
    }


def capacity_table(
    inputs: Inputs, prices: dict[str, Decimal], settings: Settings
) -> dict[str, Any]:
    """The budget, and per configured pair how many minimum-size positions still fit (None:
    cannot be judged) and what refuses the next one."""
    state, limits, stats = inputs.state, inputs.limits, inputs.stats
    out = budget(state, limits, stats)
    free = Decimal(inputs.free_cash) if inputs.free_cash is not None else None
    fits: dict[str, int | None] = {}
    binding: dict[str, str] = {}
    for pair in settings.pairs:
        mark = prices.get(pair)
        trade = minimum_trade(
            pair,
            settings.sector_of(pair),
            float(mark) if mark is not None else None,
            state.equity,
            limits,
        )
        if trade is None:
            fits[pair], binding[pair] = None, "equity is not positive"
            continue
        found = fit(state, limits, stats, trade, free, Decimal(inputs.fee_pct))
        fits[pair], binding[pair] = found.count, found.binding
    return {**out, "min_positions_that_fit": fits, "next_refused_by": binding}


def utilisation(
    state: PortfolioState, limits: RiskLimits, stats: MarketStats, settings: Settings
) -> list[dict[str, Any]]:
    """The 7 gauges: ``value`` and ``limit`` in the check's unit, ``used`` = value / limit."""
    equity = state.equity
    by_pair: dict[str, float] = {}
    by_sector: dict[str, float] = {}
    for p in state.positions:
        by_pair[p.pair] = by_pair.get(p.pair, 0.0) + abs(p.notional)
        sector = settings.sector_of(p.pair)
        by_sector[sector] = by_sector.get(sector, 0.0) + abs(p.notional)
    risk = budget(state, limits, stats)

    def share(amount: float) -> float | None:
        return amount / equity if equity > 0 and math.isfinite(amount) else None

    peak, start = state.peak_equity, state.start_of_day_equity
    rows = [
        ("drawdown", "max_drawdown_pct", 1 - equity / peak if peak > 0 else 0.0),
        ("daily_loss", "daily_loss_limit_pct", max(0.0, 1 - equity / start) if start else 0.0),
        ("risk_capacity", "max_portfolio_risk_exposure_pct", share(risk["risk_used_zar"])),
        ("single_position", "max_single_position_pct", share(max(by_pair.values(), default=0))),
        (
            "sector_exposure",
            "max_sector_exposure_pct",
            share(max(by_sector.values(), default=0)),
        ),
        ("correlation", "max_correlation_threshold", None),
        ("leverage", "max_leverage", share(sum(by_pair.values()))),
    ]
    out = []
    for number, (name, limit_name, value) in enumerate(rows, 1):
        limit = float(getattr(limits, limit_name))
        out.append(
            {
                "number": number,
                "check": name,
                "limit_name": limit_name,
                "value": max(0.0, value) if value is not None else None,
                "limit": limit,
                "used": (max(0.0, value) / limit) if value is not None and limit > 0 else None,
            }
        )
    return out


def held_notional(state: PortfolioState) -> dict[str, float]:
    """The signed notional each pair holds (long +, short -), positions without a mark left out
    (the rebalance toward the optimizer's weights starts from it)."""
    held: dict[str, float] = {}
    for p in state.positions:
        if math.isfinite(p.notional):
            held[p.pair] = held.get(p.pair, 0.0) + (p.notional if p.side == "BUY" else -p.notional)
    return held
