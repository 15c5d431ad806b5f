"""``check_invariants``: proves the books agree with themselves after every operation (cash is
the sum of the entries; equity is cash + margin + unrealized P&L, and equally the initial
capital + net realized P&L + unrealized P&L; no negative margin; quantities as booked)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.accounts.account import (
    MARGIN_HELD_STATUSES,
    LedgerInvariantError,
    account_state,
    open_positions,
)
from helios.accounts.valuation import Valuation, value_account
from helios.db.models import LedgerEntry, Position
from helios.money import ZERO, zar

CENT = Decimal("0.01")

# A venue truncates a bought quantity to its decimals (VALR: baseDecimalPlaces): at most this
# share of the notional is lost that way on any pair worth trading.
QUANTITY_DECIMALS_SHARE = Decimal("0.001")


def check_invariants(session: Session, prices: dict[str, Decimal]) -> Valuation:
    """Prove the books agree; raise LedgerInvariantError listing every disagreement.

    1. cash = sum of ledger entries;
    2. equity = cash + margin + unrealized P&L, and equally initial capital + net realized P&L of
       closed positions - entry fees of open positions + unrealized P&L (two independent paths);
    3. margin held = sum of MARGIN_LOCK - MARGIN_RELEASE entries;
    4. open positions have an entry price, quantity and notional = S x leverage (to the cent), or
       less by what a venue keeps of the quantity: its fee when paid in the coin bought (VALR's
       taker fee on a BUY) and the quantity's decimals (at most 0.1% of the notional);
    5. cash, peak and start-of-day equity are not negative;
    6. a position's status agrees with what was booked: OPEN/CLOSING exactly while its entry is
       booked and its exit is not.
    """
    problems: list[str] = []
    state = account_state(session)
    entries = list(session.scalars(select(LedgerEntry)))
    entry_sum = sum((entry.amount for entry in entries), ZERO)
    if entry_sum != state.cash:
        problems.append(f"cash {state.cash} != sum of ledger entries {entry_sum}")
    valuation = value_account(session, prices)
    if valuation.equity != valuation.cash + valuation.margin + valuation.unrealized_pnl:
        problems.append("equity != cash + margin + unrealized P&L")
    # closed = the ledger booked the exit (realized_pnl is set), whatever else the row says
    closed = list(session.scalars(select(Position).where(Position.realized_pnl.is_not(None))))
    realized = sum((p.realized_pnl or ZERO for p in closed), ZERO)
    held = open_positions(session)
    for position in closed:
        if position.status in MARGIN_HELD_STATUSES:
            problems.append(f"position {position.id} is {position.status} but its exit is booked")
    booked_not_closed = session.scalars(
        select(Position).where(
            Position.entry_fee.is_not(None),
            Position.realized_pnl.is_(None),
            Position.status.not_in(MARGIN_HELD_STATUSES),
        )
    )
    for position in booked_not_closed:
        problems.append(
            f"position {position.id} is {position.status} but its margin is still posted "
            "(entry booked, exit not booked)"
        )
    open_fees = sum((p.entry_fee or ZERO for p in held), ZERO)
    via_history = state.initial_capital + realized - open_fees + valuation.unrealized_pnl
    if via_history != valuation.equity:
        problems.append(
            f"equity {valuation.equity} != initial {state.initial_capital} + realized {realized}"
            f" - open entry fees {open_fees} + unrealized {valuation.unrealized_pnl}"
        )
    locked = sum((e.amount for e in entries if e.kind in ("MARGIN_LOCK", "MARGIN_RELEASE")), ZERO)
    if -locked != valuation.margin:
        problems.append(f"margin held {valuation.margin} != margin entries {-locked}")
    for position in held:
        expected = zar(position.position_size_zar * position.leverage)
        kept = (position.entry_fee or ZERO) + max(CENT, expected * QUANTITY_DECIMALS_SHARE)
        if not expected - kept <= (position.notional or ZERO) <= expected + CENT:
            problems.append(
                f"position {position.id} notional {position.notional} != S x L {expected} "
                f"(allowed: down to {expected - kept}, what the venue keeps of the quantity)"
            )
    for name in ("cash", "peak_equity", "start_of_day_equity"):
        if getattr(state, name) < 0:
            problems.append(f"{name} is negative: {getattr(state, name)}")
    if problems:
        raise LedgerInvariantError("; ".join(problems))
    return valuation
