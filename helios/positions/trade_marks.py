"""A position as a price chart marks it: its entry, its exit and why it ended.

- The exit reason is the position's final status in a trader's words: STOPPED_OUT is a
  **trailing stop** when the stop that closed it is not the stop it was opened with (the monitor
  moved it in the position's favour: ``positions.monitor``), else a **stop loss**; TAKE_PROFIT a
  **take profit**, TIMEOUT a **timeout** (the holding-time limit), CLOSED a **manual** close (a
  person, the API or the CLI), EMERGENCY_CLOSE an **emergency** close. An open position (OPEN or
  CLOSING) has no exit yet.
- The stop it was opened with is ``trade.entry_levels`` of its entry and stop fraction: the one
  rule for a fill and for a preview, so it is found again exactly.

Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from helios.positions.lifecycle import (
    CLOSED,
    EMERGENCY_CLOSE,
    STOPPED_OUT,
    TAKE_PROFIT,
    TIMEOUT,
)
from helios.trade import entry_levels

STOP_LOSS = "stop loss"
TRAILING_STOP = "trailing stop"
TAKE_PROFIT_EXIT = "take profit"
TIMEOUT_EXIT = "timeout"
MANUAL = "manual"
EMERGENCY = "emergency"
# every exit reason, in the order a legend lists them
EXIT_REASONS = (STOP_LOSS, TRAILING_STOP, TAKE_PROFIT_EXIT, TIMEOUT_EXIT, MANUAL, EMERGENCY)
_BY_STATUS = {
    TAKE_PROFIT: TAKE_PROFIT_EXIT,
    TIMEOUT: TIMEOUT_EXIT,
    CLOSED: MANUAL,
    EMERGENCY_CLOSE: EMERGENCY,
}


@dataclass(frozen=True)
class TradeMark:
    """What a chart shows of one position. ``exit_*`` are None while it is open; ``stop`` and
    ``target`` are its levels now (the stop possibly trailed), kept for open positions only;
    ``pnl``: net realized P&L once closed, unrealized at the latest price while open (None
    without a price)."""

    position_id: int
    pair: str
    side: str
    status: str
    margin: Decimal
    leverage: Decimal
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime | None
    exit_price: Decimal | None
    exit_reason: str | None
    pnl: Decimal | None
    stop: Decimal | None
    target: Decimal | None

    @property
    def is_open(self) -> bool:
        return self.exit_time is None


def exit_reason(
    status: str,
    side: str,
    entry_price: Decimal,
    stop_loss_pct: Decimal,
    take_profit_pct: Decimal,
    closing_stop: Decimal | None,
) -> str | None:
    """Why a position ended, in a trader's words (see the module docstring); None while open
    (or for a status that is not an exit). ``closing_stop``: the stop that closed it (the
    trigger level recorded with the close, else the stop stored on the position)."""
    if status == STOPPED_OUT:
        opened_with, _target = entry_levels(side, entry_price, stop_loss_pct, take_profit_pct)
        moved = closing_stop is not None and closing_stop != opened_with
        return TRAILING_STOP if moved else STOP_LOSS
    return _BY_STATUS.get(status)
