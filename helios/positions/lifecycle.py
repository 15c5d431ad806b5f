"""Position statuses, the transitions between them, and client order ids.

    OPENING ──fill──► OPEN ──close requested──► CLOSING ──fill──► CLOSED | STOPPED_OUT |
       │                                          │                TAKE_PROFIT | TIMEOUT |
       └─rejected─► FAILED                        └─rejected─► OPEN   EMERGENCY_CLOSE

Each arrow is one conditional UPDATE (``helios.db.state.transition``): exactly one process wins
it, so a position is opened once and closed once whoever asks. OPENING and CLOSING are the
transitional states a crash can leave behind; ``reconcile`` settles them from the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

OPENING = "OPENING"
OPEN = "OPEN"
CLOSING = "CLOSING"
FAILED = "FAILED"
CLOSED = "CLOSED"
STOPPED_OUT = "STOPPED_OUT"
TAKE_PROFIT = "TAKE_PROFIT"
TIMEOUT = "TIMEOUT"
EMERGENCY_CLOSE = "EMERGENCY_CLOSE"

CLOSE_REASONS = (CLOSED, STOPPED_OUT, TAKE_PROFIT, TIMEOUT, EMERGENCY_CLOSE)
FINAL_STATUSES = (*CLOSE_REASONS, FAILED)
TRANSITIONAL = (OPENING, CLOSING)
ALL_STATUSES = (OPENING, OPEN, CLOSING, *FINAL_STATUSES)


@dataclass(frozen=True)
class BookEntry:
    """An open position as the database holds it: what a close-out without the database needs
    to close it (``helios.closeout``)."""

    position_id: int
    pair: str
    side: str
    quantity: Decimal
    mode: str
    leverage: Decimal = Decimal(1)


def client_order_id(installation: str, position_id: int, action: str, attempt: int = 1) -> str:
    """Deterministic: the same position action always gets the same id, so a resend after a crash
    or timeout is recognised by the exchange. ``installation`` keeps two Helios databases trading
    one account apart. At most 50 letters, digits and dashes (VALR's customerOrderId)."""
    suffix = action if action == "OPEN" else f"{action}-{attempt}"
    return f"HX-{installation}-{position_id}-{suffix}"


def closing_side(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"
