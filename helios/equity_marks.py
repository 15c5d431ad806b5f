"""Peak equity and start-of-day equity: the two marks drawdown and daily loss are measured from.

Drawdown = 1 - equity / peak equity; daily loss = 1 - equity / the equity at the start of the
trading day (DESIGN.md). Both marks would fail open if they depended on a job having run at the
right moment: a high reached and lost between two snapshots would never be the peak (a 17.8% fall
read as 0%), and a process down across midnight would take the equity it finds on waking as the
day's start (a 7.22% loss read as 0%). So:

- **every valuation maintains them** (each risk check, each monitor pass, each fill, each
  snapshot): the peak rises to any equity seen with every position priced (an unpriced position
  is carried at its entry, which could overstate it), and the first valuation of a new trading
  day rolls the day;
- **the start of a day is the equity at the day's boundary**, rebuilt from the ledger (cash then:
  the cash now less every entry booked after it; the positions whose margin was out then) and the
  prices of the stored candles at the boundary (each held pair's newest intraday bar that closed
  by then, at most a day old), whenever the day is rolled, however late;
- **when that is impossible** (a pair held at the boundary has no bar in the day before it), the
  day is not rolled and the start stays unknown: checks 1 and 2 fail closed with the reason.

This module is the pure rule; ``helios.ledger`` reads and writes the account with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class EquityMarks:
    """The account's marks as stored: the highest equity seen, the trading day, its start."""

    peak_equity: Decimal
    trading_day: date
    start_of_day_equity: Decimal


def updated_marks(
    stored: EquityMarks,
    equity: Decimal,
    fully_priced: bool,
    today: date,
    day_start: Decimal | None,
) -> EquityMarks:
    """The marks after a valuation of ``equity`` (``fully_priced``: every open position had a
    price) on trading day ``today``; ``day_start``: the equity at today's boundary, needed only
    when ``today`` is not the stored day (None: unknown, the day is not rolled)."""
    peak = stored.peak_equity
    if fully_priced and equity > peak:
        peak = equity
    day, start = stored.trading_day, stored.start_of_day_equity
    if today > stored.trading_day and day_start is not None:  # forward only: a valuation
        day, start = today, day_start  # read before midnight never undoes a roll made after
        peak = max(peak, day_start)  # the boundary's equity was an equity too
    return EquityMarks(peak, day, start)
