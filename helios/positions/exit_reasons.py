"""Why a position ended, in a trader's words: one rule and one label table, used by the closed
trades list (``trade_figures``, its CSV and the Positions page) and by the price chart
(``trade_marks``, its markers and legend), so both always name an exit the same way.

The rule:

- The final status names the exit: STOPPED_OUT a **Stop loss**, TAKE_PROFIT a **Take profit**,
  TIMEOUT a **Timeout** (the holding-time limit), CLOSED a **Manual close** (a person, the API or
  the CLI), EMERGENCY_CLOSE an **Emergency close**; FAILED, an open that never filled, is a
  **Failed open** (in the list; it never reaches a chart).
- A STOPPED_OUT is a **Trailing stop** when the level that closed it, the trigger price recorded
  with the close (``positions.exit_trigger_price``), is not the stop the position was opened
  with. Only the monitor moves a stop, and only in the position's favour (``positions.monitor``),
  so a stop-out at any other level was at the trailed stop. The stop it was opened with is
  ``helios.trade.entry_levels`` of its entry price and stop fraction: the one rule for a fill and
  for a preview, so it is found again exactly.
- Without a recorded trigger price (a stop-out closed by hand with the reason STOPPED_OUT, or a
  row closed before the column existed) or an entry price, nothing says where it was stopped: a
  **Stop loss**. (The stop stored on the position is not evidence: it is the last level the
  monitor set, not necessarily the one the position was closed at.)
- An open position (OPENING, OPEN, CLOSING) has no exit reason: None.

Pure: no database.
"""

from __future__ import annotations

from decimal import Decimal

from helios.money import ZERO
from helios.positions.lifecycle import (
    CLOSED,
    EMERGENCY_CLOSE,
    FAILED,
    STOPPED_OUT,
    TAKE_PROFIT,
    TIMEOUT,
)
from helios.trade import entry_levels

# the label of each final status (a trailing stop is a STOPPED_OUT: TRAILING_STOP below)
EXIT_LABELS = {
    STOPPED_OUT: "Stop loss",
    TAKE_PROFIT: "Take profit",
    TIMEOUT: "Timeout",
    CLOSED: "Manual close",
    EMERGENCY_CLOSE: "Emergency close",
    FAILED: "Failed open",
}
STOP_LOSS = EXIT_LABELS[STOPPED_OUT]
TRAILING_STOP = "Trailing stop"
TAKE_PROFIT_EXIT = EXIT_LABELS[TAKE_PROFIT]
TIMEOUT_EXIT = EXIT_LABELS[TIMEOUT]
MANUAL = EXIT_LABELS[CLOSED]
EMERGENCY = EXIT_LABELS[EMERGENCY_CLOSE]
FAILED_OPEN = EXIT_LABELS[FAILED]
# every exit of a position that was open, in the order a legend lists them
EXIT_REASONS = (STOP_LOSS, TRAILING_STOP, TAKE_PROFIT_EXIT, TIMEOUT_EXIT, MANUAL, EMERGENCY)


def exit_reason(
    status: str,
    side: str,
    entry_price: Decimal | None,
    stop_loss_pct: Decimal,
    take_profit_pct: Decimal,
    trigger_price: Decimal | None,
    tick: Decimal = ZERO,
) -> str | None:
    """Why a position with final ``status`` ended (the module's rule); None while it is open.
    ``trigger_price``: the level recorded with its close (``exit_trigger_price``); ``tick``:
    the price grid its stop was placed on (``PRICE_TICK``)."""
    if status == STOPPED_OUT and trigger_price is not None and entry_price is not None:
        opened_with, _target = entry_levels(side, entry_price, stop_loss_pct, take_profit_pct, tick)
        if trigger_price != opened_with:
            return TRAILING_STOP
    return EXIT_LABELS.get(status)
