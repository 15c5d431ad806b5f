"""What the replay's scan reads of the live book after each step (``helios.replay.skip``).

The open positions' levels and the account's cash, peak and day start, as the live code left
them in the run's database: column reads built once, no ORM objects (a step reads them once).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.accounts.account import MARGIN_HELD_STATUSES
from helios.db.models import PortfolioState, Position
from helios.positions.lifecycle import OPEN
from helios.replay.skip import Book, Held

_ACCOUNT = select(
    PortfolioState.cash, PortfolioState.peak_equity, PortfolioState.start_of_day_equity
).where(PortfolioState.id == 1)
_HELD = select(
    Position.pair,
    Position.side,
    Position.status,
    Position.entry_price,
    Position.quantity,
    Position.position_size_zar,
    Position.stop_loss_price,
    Position.take_profit_price,
    Position.best_price,
    Position.trailing_activation_pct,
    Position.trailing_distance_pct,
    Position.opened_at,
    Position.max_holding_hours,
).where(Position.status.in_(MARGIN_HELD_STATUSES))


def _held(p: Any) -> Held:
    if p.status != OPEN or p.entry_price is None or p.quantity is None:
        return Held(p.pair, True, 0, 0, 0, 0, 0, 0, None, 0, settled=False)
    long = p.side == "BUY"
    activation = None
    if p.trailing_activation_pct is not None and p.trailing_distance_pct is not None:
        sign = 1 if long else -1
        activation = float(p.entry_price) * (1 + sign * float(p.trailing_activation_pct))
    opened = p.opened_at or datetime.fromtimestamp(0, UTC)
    return Held(
        p.pair,
        long,
        float(p.entry_price),
        float(p.quantity),
        float(p.position_size_zar),
        float(p.stop_loss_price or 0),
        float(p.take_profit_price or 0),
        float(p.best_price or p.entry_price),
        activation,
        int(opened.timestamp()) + int(float(p.max_holding_hours) * 3600),
    )


def read_book(session: Session) -> Book:
    """The book the scan judges: the positions holding margin and the account's marks."""
    state = session.execute(_ACCOUNT).one()
    held = [_held(p) for p in session.execute(_HELD)]
    return Book(held, float(state.cash), float(state.peak_equity), float(state.start_of_day_equity))
