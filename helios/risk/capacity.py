"""Remaining capacity: how many more minimum-size positions of each pair the rules accept.

The seed's dynamic capacity ("room for about K more minimum-size positions") must be what the
whole rule set accepts, not one limit's arithmetic: a count from the risk budget alone said
"room for 70 more SOLZAR" while check 4 refused the fourth. So K is found by asking the rules
themselves: minimum-size longs of the pair (``min_position_size_pct`` of equity, at 1x) are
added one after another, each judged by the 7 checks (``checks.evaluate``) and the buying power
pre-check against the book as it would then be (its fee out of equity and cash), and K is the
number that pass before the first refusal, which is reported with it.

K is None when the rules cannot judge even the first one for want of an input (no volatility
estimate, no price: the checks fail closed), so the figure says "unknown" rather than "none".
Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from helios.risk.checks import MarketStats, OpenExposure, PortfolioState, ProposedTrade, evaluate
from helios.risk.limits import RiskLimits
from helios.risk.prechecks import buying_power, opening_cost

MAX_COUNTED = 1000  # beyond this many the answer is "at least 1000"


@dataclass(frozen=True)
class Fit:
    """How many minimum-size positions of a pair fit (None: cannot be judged) and what refuses
    the next one."""

    count: int | None
    binding: str


def fit(
    state: PortfolioState,
    limits: RiskLimits,
    stats: MarketStats,
    trade: ProposedTrade,
    free_cash: Decimal | None,
    fee_pct: Decimal,
) -> Fit:
    """How many copies of ``trade`` (a minimum-size long) can be opened one after another
    with every one of them passing the 7 checks and the buying power."""
    book, free, count = state, free_cash, 0
    fee_as_float = float(fee_pct)
    while count < MAX_COUNTED:
        result = evaluate(book, limits, trade, stats)
        cost = opening_cost(trade.position_size_zar, trade.leverage, fee_pct)
        cash = buying_power(cost, free, "the ledger's free cash")
        if not result.passed or not cash.passed:
            failed = [c for c in result.checks if not c.passed]
            missing = dict.fromkeys(c.message for c in failed if c.value is None)
            if count == 0 and missing:
                return Fit(None, "; ".join(missing))
            if failed:
                first = failed[0]
                return Fit(count, f"CHECK {first.number} {first.name}: {first.message}")
            return Fit(count, f"PRE-CHECK buying_power: {cash.message}")
        count += 1
        fee = trade.notional * fee_as_float
        book = replace(
            book,
            equity=book.equity - fee,
            positions=(
                *book.positions,
                OpenExposure(trade.pair, trade.side, trade.notional, trade.sector),
            ),
        )
        free = None if free is None else free - cost.total
    return Fit(count, f"at least {MAX_COUNTED}")


def minimum_trade(
    pair: str, sector: str, price: float | None, equity: float, limits: RiskLimits
) -> ProposedTrade | None:
    """A minimum-size long of ``pair`` at 1x (None when equity is not positive)."""
    notional = limits.min_position_size_pct * equity
    if not math.isfinite(notional) or notional <= 0:
        return None
    # in whole cents, as a margin is
    margin = math.floor(notional * 100) / 100
    return ProposedTrade(pair, "BUY", margin, 1.0, sector, price)
