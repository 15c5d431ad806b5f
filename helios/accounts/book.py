"""Booking: the only writes of cash (DESIGN.md, "Definitions").

- Opening moves S (margin) and the entry fee out of cash. Closing returns S + gross P&L - exit fee.
- A position's ``realized_pnl`` is net: gross P&L minus its entry and exit fees.

Every cash movement is one ``ledger_entries`` row, so cash is also the sum of the entries. Every
booking locks the account row first; booking a position twice is refused.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from helios.accounts.account import SIDES, LedgerInvariantError, account_state, unrealized
from helios.db.models import LedgerEntry, Order, PortfolioState, Position
from helios.errors import InvalidInput
from helios.money import ZERO, price, qty, zar


def _move_cash(
    session: Session,
    state: PortfolioState,
    now: datetime,
    kind: str,
    amount: Decimal,
    position: Position | None,
    order: Order | None,
    note: str = "",
) -> None:
    state.cash = state.cash + amount
    state.updated_at = now
    state.version += 1
    session.add(
        LedgerEntry(
            ts=now,
            kind=kind,
            amount=amount,
            position_id=position.id if position else None,
            order_id=order.id if order else None,
            note=note,
        )
    )


def book_open(
    session: Session,
    position: Position,
    *,
    fill_price: Decimal,
    quantity: Decimal,
    fee: Decimal,
    now: datetime,
    order: Order | None = None,
) -> None:
    """Record an opening fill: margin and entry fee leave cash; the position gets its entry.

    Runs in the caller's transaction together with the position's status change.
    """
    fill_price, quantity, fee = _fill(fill_price, quantity, fee)
    if quantity <= 0:
        raise InvalidInput("fill.quantity", quantity, "a quantity > 0")
    _check_side(position)
    if position.entry_price is not None or position.entry_fee is not None:
        # booking one fill twice would post the margin twice: never expected, always a bug
        raise LedgerInvariantError(
            f"position {position.id} already has an entry booked (price {position.entry_price});"
            " an opening fill is booked once"
        )
    margin = zar(position.position_size_zar, "position_size_zar")
    if margin <= 0:
        raise InvalidInput("position_size_zar", position.position_size_zar, "a ZAR amount > 0")
    state = account_state(session, for_update=True)
    # the margin as it left cash (8 places) is the margin the position holds: equity adds back
    # exactly what was taken out
    position.position_size_zar = margin
    position.entry_price = fill_price
    position.quantity = quantity
    position.notional = zar(fill_price * quantity)
    position.entry_fee = zar(fee)
    _move_cash(session, state, now, "MARGIN_LOCK", -margin, position, order, "margin posted")
    _move_cash(session, state, now, "FEE", -position.entry_fee, position, order, "entry fee")
    session.flush()


def book_close(
    session: Session,
    position: Position,
    *,
    fill_price: Decimal,
    fee: Decimal,
    now: datetime,
    order: Order | None = None,
) -> Decimal:
    """Record a closing fill: margin + gross P&L - exit fee return to cash. Returns the net
    realized P&L (gross minus entry and exit fees), which is also stored on the position."""
    if position.entry_price is None or position.quantity is None:
        raise LedgerInvariantError(f"position {position.id} has no entry to close")
    if position.exit_price is not None or position.realized_pnl is not None:
        # booking a close twice would return the margin twice: never expected, always a bug
        raise LedgerInvariantError(
            f"position {position.id} already has its exit booked (price {position.exit_price});"
            " a closing fill is booked once"
        )
    fill_price, _quantity, fee = _fill(fill_price, position.quantity, fee)
    _check_side(position)
    state = account_state(session, for_update=True)
    gross = unrealized(position.side, position.entry_price, fill_price, position.quantity)
    position.exit_price = fill_price
    position.exit_fee = zar(fee)
    position.realized_pnl = gross - (position.entry_fee or ZERO) - position.exit_fee
    _move_cash(
        session,
        state,
        now,
        "MARGIN_RELEASE",
        zar(position.position_size_zar),
        position,
        order,
        "margin returned",
    )
    _move_cash(session, state, now, "REALIZED_PNL", gross, position, order, "gross P&L")
    _move_cash(session, state, now, "FEE", -position.exit_fee, position, order, "exit fee")
    session.flush()
    return position.realized_pnl


def _fill(fill_price: Any, quantity: Any, fee: Any) -> tuple[Decimal, Decimal, Decimal]:
    """A fill as the ledger stores it: price 8 places, quantity 12, fee 8; floats refused."""
    for name, value in (("price", fill_price), ("quantity", quantity), ("fee", fee)):
        if not isinstance(value, Decimal | int | str) or isinstance(value, bool):
            raise InvalidInput(f"fill.{name}", value, "a Decimal (floats never enter the ledger)")
    checked_price = price(fill_price, "fill.price")
    if checked_price <= 0:
        raise InvalidInput("fill.price", fill_price, "a price > 0")
    checked_fee = zar(fee, "fill.fee")
    if checked_fee < 0:
        raise InvalidInput("fill.fee", fee, "a fee >= 0")
    return checked_price, qty(quantity, "fill.quantity"), checked_fee


def _check_side(position: Position) -> None:
    if position.side not in SIDES:
        raise InvalidInput("position.side", position.side, "BUY or SELL")
