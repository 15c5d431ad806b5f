"""The account row and the definitions every booking and valuation shares (DESIGN.md,
"Definitions").

- A position of margin S (``position_size_zar``) at leverage L has notional N = S x L and quantity
  N / entry price.
- Unrealized P&L of an open position at mark price m: BUY (m - entry) x qty; SELL (entry - m) x qty.
  Exit fees are not anticipated in it.

The account is one ``portfolio_state`` row (``STATE_ID``), created once by ``ensure_account``;
``account_state(for_update=True)`` is the lock every booking takes (``SELECT ... FOR UPDATE`` on
PostgreSQL, SQLite's write lock), so concurrent bookings never lose cash.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.clock import trading_day
from helios.db.models import LedgerEntry, PortfolioState, Position
from helios.errors import HeliosError
from helios.money import ZAR_EXP, zar

# statuses whose margin is still out of cash (open, or closing but not yet filled)
MARGIN_HELD_STATUSES = ("OPEN", "CLOSING")

STATE_ID = 1

SIDES = ("BUY", "SELL")


class LedgerInvariantError(HeliosError):
    """The books disagree with themselves. Never expected; always a bug worth stopping for."""


def unrealized(side: str, entry_price: Decimal, mark: Decimal, quantity: Decimal) -> Decimal:
    """The P&L of ``quantity`` at ``mark`` (exact Decimals in, 8 places out, half-even: what
    ``zar`` does, without its checks of what it is given: this runs for every position of every
    valuation)."""
    move = mark - entry_price if side == "BUY" else entry_price - mark
    return (move * quantity).quantize(ZAR_EXP, rounding=ROUND_HALF_EVEN)


def ensure_account(session: Session, initial_capital: Decimal, now: datetime, zone: str) -> bool:
    """Create the account (state row and the initial-capital entry) once. True if created."""
    if session.get(PortfolioState, STATE_ID) is not None:
        return False
    capital = zar(initial_capital, "initial_capital_zar")
    session.add(
        PortfolioState(
            id=STATE_ID,
            initial_capital=capital,
            cash=capital,
            peak_equity=capital,
            start_of_day_equity=capital,
            trading_day=trading_day(now, zone),
            updated_at=now,
        )
    )
    session.add(LedgerEntry(ts=now, kind="INITIAL_CAPITAL", amount=capital, note="initial capital"))
    session.flush()
    return True


def account_state(session: Session, *, for_update: bool = False) -> PortfolioState:
    """The account row. ``for_update`` locks it until the transaction ends (PostgreSQL
    ``SELECT ... FOR UPDATE``; SQLite's write transactions hold the database lock already), so
    two processes booking at once add to the cash one after the other instead of both writing
    ``old cash + their amount`` and losing one of them."""
    if for_update:
        state = session.get(PortfolioState, STATE_ID, with_for_update=True, populate_existing=True)
    else:
        state = session.get(PortfolioState, STATE_ID)
    if state is None:
        raise LedgerInvariantError("no account: the database was not initialised by connect()")
    return state


def open_positions(session: Session) -> list[Position]:
    return list(
        session.scalars(
            select(Position).where(Position.status.in_(MARGIN_HELD_STATUSES)).order_by(Position.id)
        )
    )
