"""The account as the risk checks see it, and the LIVE capital cap: the one place it applies.

The rule: equity = cash + the sum over the open positions of (margin + unrealized P&L at the
latest price), added up exactly in ``Decimal`` (``accounts.valuation.held_equity``, the ledger's
own rule). A position being opened (OPENING) has no entry yet: it counts in the exposure with its
intended notional (margin x leverage), adds nothing to equity (its margin is still cash) and its
cash is reserved. In LIVE every check, the sizing, the capacity and the utilisation see
min(ledger equity, LIVE_CAPITAL_CAP_ZAR), with peak and start-of-day equity scaled by the same
factor so drawdown and daily loss (ratios) stay the ledger's own. Pure: no I/O (the rows are read
by ``risk.statements``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.accounts.valuation import held_equity
from helios.config import Settings, TradingMode
from helios.risk.checks import OpenExposure, PortfolioState


@dataclass(frozen=True)
class CapitalCap:
    """LIVE_CAPITAL_CAP_ZAR in force on a LIVE decision: the ledger's equity, the cap, and the
    factor (min(1, cap / equity)) that scaled equity, peak and start-of-day equity."""

    cap_zar: float
    ledger_equity: float
    scale: float


@dataclass(frozen=True)
class Book:
    """The account as one decision read it: the checks' state, the LIVE cap, the ledger's own
    equity (exact, uncapped), whether every position had a price, and the positions being
    opened (margin, leverage) whose cash is reserved."""

    state: PortfolioState
    cap: CapitalCap | None
    equity: Decimal
    fully_priced: bool
    reserved: list[tuple[Decimal, Decimal]]
    # the trading day's start as read (None: unknown), and whether this valuation moves the
    # account's marks (a new peak, a day to roll): the decision then writes them
    day_start: Decimal | None = None
    marks_due: bool = False
    # when it was read: the marks are written for that moment (a write a moment later could be
    # on the next trading day, which ``day_start`` does not belong to)
    read_at: datetime | None = None


def portfolio(
    account: Any,
    positions: list[Any],
    settings: Settings,
    start_of_day: Decimal | None,
    start_unknown: str = "",
) -> Book:
    """``account`` (cash, peak equity, the trading mode) and the exposed ``positions`` (pair,
    side, quantity, entry price, margin, leverage, latest price or None) as the checks see them.

    Equity = cash + sum over open positions of (margin + unrealized P&L at the latest price),
    added up exactly in Decimal. A position being opened has no entry yet: it counts with its
    intended notional (margin x leverage) and adds nothing to equity (its margin is still cash).
    ``start_of_day``: the current trading day's start (None: not known, ``start_unknown`` says
    why, and checks 1 and 2 fail closed with it; see ``ledger.day_start``). Only the columns
    needed are read (full ``Position`` rows cost a Decimal conversion for each of their ~17
    exact columns).

    LIVE: the capital cap (LIVE_CAPITAL_CAP_ZAR), the one place it is applied. Every check,
    the sizing, the capacity and the utilisation read their equity here, so all of them see
    min(ledger equity, cap). Peak and start-of-day equity are scaled by the same factor, so
    drawdown and daily loss (ratios) stay the ledger's own while the exposure limits measure
    against the capped figure. Returns the ``Book``: the state, the cap in force (None in
    PAPER), the ledger's equity and the reserved positions.
    """
    exposures = []
    reserved: list[tuple[Decimal, Decimal]] = []
    for pair, side, quantity, entry, margin, leverage, mark in positions:
        if quantity is None or entry is None:  # OPENING: reserved, not filled
            notional = float(margin * leverage)
            reserved.append((margin, leverage))
        else:
            notional = float(quantity * mark) if mark is not None else float("nan")
        exposures.append(OpenExposure(pair, side, notional, settings.sector_of(pair)))
    # the ledger's rule (an OPENING position's margin is still in cash: not held yet)
    equity, unpriced = held_equity(
        account.cash,
        (
            (pair, side, margin, quantity, entry, mark)
            for pair, side, quantity, entry, margin, _leverage, mark in positions
            if quantity is not None and entry is not None
        ),
    )
    fully_priced = not unpriced
    state = PortfolioState(
        equity=float(equity),
        peak_equity=float(account.peak_equity),
        # unknown: the equity stands in (JSON has no NaN) and the reason makes 1-2 fail closed
        start_of_day_equity=float(start_of_day if start_of_day is not None else equity),
        positions=tuple(exposures),
        marks_unknown=start_unknown if start_of_day is None else "",
    )
    if account.trading_mode != TradingMode.LIVE.value:
        return Book(state, None, equity, fully_priced, reserved)
    cap = float(settings.live_capital_cap_zar)
    scale = cap / state.equity if state.equity > cap else 1.0
    capped = replace(
        state,
        equity=min(state.equity, cap),
        peak_equity=state.peak_equity * scale,
        start_of_day_equity=state.start_of_day_equity * scale,
    )
    limit = CapitalCap(cap_zar=cap, ledger_equity=state.equity, scale=scale)
    return Book(capped, limit, equity, fully_priced, reserved)
