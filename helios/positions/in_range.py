"""The positions a price chart marks: those of one pair whose life overlaps a time range.

A position is in [start, end) when it was filled before the end and is still open or closed at
or after the start; positions that never held anything (OPENING, FAILED) are not drawn. Each
becomes a ``TradeMark`` (entry, exit, the exit reason of ``trade_marks``; the stop and target of
an open position; net realized P&L once closed, unrealized at the latest price while open), in
the order they were opened.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helios.accounts.account import unrealized
from helios.clock import ensure_utc
from helios.db.models import LatestPrice, Position
from helios.money import ZERO
from helios.positions.exit_reasons import exit_reason
from helios.positions.lifecycle import CLOSE_REASONS, CLOSING, OPEN
from helios.positions.trade_marks import TradeMark

DRAWN = (OPEN, CLOSING, *CLOSE_REASONS)
_COLUMNS = (
    Position.id,
    Position.pair,
    Position.side,
    Position.status,
    Position.position_size_zar,
    Position.leverage,
    Position.quantity,
    Position.opened_at,
    Position.entry_price,
    Position.closed_at,
    Position.exit_price,
    Position.realized_pnl,
    Position.stop_loss_pct,
    Position.take_profit_pct,
    Position.stop_loss_price,
    Position.take_profit_price,
    Position.exit_trigger_price,
)


def trades_in_range(
    session: Session, pair: str, start: datetime, end: datetime, tick: Decimal = ZERO
) -> list[TradeMark]:
    """The ``TradeMark`` of every position of ``pair`` whose life overlaps [start, end)."""
    start, end = ensure_utc(start), ensure_utc(end)
    query = (
        select(*_COLUMNS)
        .where(
            Position.pair == pair,
            Position.status.in_(DRAWN),
            Position.entry_price.is_not(None),
            Position.opened_at.is_not(None),
            Position.opened_at < end,
            or_(Position.closed_at.is_(None), Position.closed_at >= start),
        )
        .order_by(Position.opened_at, Position.id)
    )
    # Core rows (no ORM result objects): a year on a chart can hold thousands of positions
    rows = session.connection().execute(query).all()
    mark = session.scalar(select(LatestPrice.price).where(LatestPrice.pair == pair))
    marks = []
    for r in rows:
        still_open = r.status in (OPEN, CLOSING)
        if still_open:
            pnl = (
                unrealized(r.side, r.entry_price, mark, r.quantity)
                if mark is not None and r.quantity is not None
                else None
            )
        else:
            pnl = r.realized_pnl
        marks.append(
            TradeMark(
                position_id=r.id,
                pair=r.pair,
                side=r.side,
                status=r.status,
                margin=r.position_size_zar,
                leverage=r.leverage,
                quantity=r.quantity,
                entry_time=ensure_utc(r.opened_at),
                entry_price=r.entry_price,
                exit_time=None if still_open or r.closed_at is None else ensure_utc(r.closed_at),
                exit_price=None if still_open else r.exit_price,
                exit_reason=None
                if still_open
                else exit_reason(
                    r.status,
                    r.side,
                    r.entry_price,
                    r.stop_loss_pct,
                    r.take_profit_pct,
                    r.exit_trigger_price,
                    tick,
                ),
                pnl=pnl,
                stop=r.stop_loss_price if still_open else None,
                target=r.take_profit_price if still_open else None,
            )
        )
    return marks
