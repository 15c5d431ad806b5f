"""What ``hx.positions`` answers about positions: the open book, the closed ones, one's story.

- The open book lists positions caught between two states (OPENING, CLOSING) too, with their
  status: their margin may be out of cash, and a person must see them until ``reconcile``
  settles them. Distances to the stop and the target are signed fractions of the price
  (negative: already past it), so a crossed stop never reads as a safe one.
- The closed list refuses a status no closed position can have rather than answering with an
  empty table that reads as "none".
- A position's story is everything recorded about it: the position, its risk decision, its
  orders, their fills and its events, in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select

from helios.accounts.account import unrealized
from helios.clock import Clock, ensure_utc
from helios.db.engine import Database
from helios.db.models import Fill, LatestPrice, Order, Position, PositionEvent, RiskDecision
from helios.errors import InvalidInput
from helios.market.store import MarketData
from helios.money import ZERO
from helios.positions.lifecycle import CLOSING, FINAL_STATUSES, OPEN, OPENING
from helios.positions.records import check_position_id, row


class Queries:
    def __init__(self, db: Database, clock: Clock, market: MarketData) -> None:
        self._db = db
        self._clock = clock
        self._market = market

    def get_open_positions(self) -> list[dict[str, Any]]:
        """Open positions with live P&L, distance to stop and target and time left.

        Positions caught between two states (OPENING: order sent, fill not recorded; CLOSING:
        close sent, fill not recorded) are listed too, with their status: their margin may be
        out of cash, and a person must see them until ``reconcile`` settles them.

        The distances are signed, as a fraction of the price: positive is room left before the
        level is reached, negative means the price is already past it (the monitor has not
        acted yet), so a crossed stop never reads as a safe one.
        """
        now = self._clock.now()
        with self._db.read() as session:
            rows = list(
                session.scalars(
                    select(Position)
                    .where(Position.status.in_((OPENING, OPEN, CLOSING)))
                    .order_by(Position.id)
                )
            )
            prices = {row.pair: row.price for row in session.scalars(select(LatestPrice))}
        out = []
        for p in rows:
            mark = prices.get(p.pair)
            booked = p.entry_price is not None and p.quantity is not None
            pnl = (
                unrealized(p.side, p.entry_price, mark, p.quantity)  # type: ignore[arg-type]
                if mark and booked
                else None
            )
            opened = p.opened_at or now
            left = timedelta(hours=float(p.max_holding_hours)) - (now - opened)
            sign = 1 if p.side == "BUY" else -1
            out.append(
                {
                    "position_id": p.id,
                    "pair": p.pair,
                    "side": p.side,
                    "status": p.status,
                    "mode": p.mode,
                    "position_size_zar": p.position_size_zar,
                    "leverage": p.leverage,
                    "notional": p.notional,
                    "quantity": p.quantity,
                    "entry_price": p.entry_price,
                    "price": mark,
                    "unrealized_pnl": pnl,
                    "unrealized_pnl_pct": float(pnl / p.notional)
                    if pnl is not None and p.notional
                    else None,
                    "stop_loss_price": p.stop_loss_price,
                    "take_profit_price": p.take_profit_price,
                    "distance_to_stop_pct": float(sign * (mark - p.stop_loss_price) / mark)
                    if mark and p.stop_loss_price
                    else None,
                    "distance_to_target_pct": float(sign * (p.take_profit_price - mark) / mark)
                    if mark and p.take_profit_price
                    else None,
                    "opened_at": p.opened_at,
                    "time_left_hours": left.total_seconds() / 3600,
                    "strategic_reasoning": p.strategic_reasoning,
                }
            )
        return out

    def closed_positions(
        self,
        status: str | None = None,
        pair: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Closed (and failed) positions, newest first, filtered by status, pair, close date.
        A status no closed position can have (OPEN, OPENING, CLOSING) is refused rather than
        answered with an empty table that reads as "none"."""
        if status is not None and status not in FINAL_STATUSES:
            raise InvalidInput("status", status, f"one of {', '.join(FINAL_STATUSES)}")
        query = select(Position).where(Position.status.in_(FINAL_STATUSES))
        if status is not None:
            query = query.where(Position.status == status)
        if pair is not None:
            query = query.where(Position.pair == self._market.check_pair(pair))
        if start is not None:
            query = query.where(Position.closed_at >= ensure_utc(start))
        if end is not None:
            query = query.where(Position.closed_at <= ensure_utc(end))
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset", offset, "a whole number >= 0")
        query = query.order_by(Position.id.desc()).limit(limit).offset(offset)
        with self._db.read() as session:
            rows = list(session.scalars(query))
        return pd.DataFrame(
            [
                {
                    "position_id": p.id,
                    "pair": p.pair,
                    "side": p.side,
                    "status": p.status,
                    "position_size_zar": p.position_size_zar,
                    "leverage": p.leverage,
                    "entry_price": p.entry_price,
                    "exit_price": p.exit_price,
                    "realized_pnl": p.realized_pnl,
                    "fees": (p.entry_fee or ZERO) + (p.exit_fee or ZERO),
                    "opened_at": p.opened_at,
                    "closed_at": p.closed_at,
                    "holding_hours": (p.closed_at - p.opened_at).total_seconds() / 3600
                    if p.closed_at and p.opened_at
                    else None,
                    "error": p.error,
                    "strategic_reasoning": p.strategic_reasoning,
                }
                for p in rows
            ]
        )

    def position_history(self, position_id: Any) -> dict[str, Any]:
        """One position's full story: the position, its risk decision, orders, fills, events."""
        check_position_id(position_id)
        with self._db.read() as session:
            position = session.get(Position, position_id)
            if position is None:
                raise InvalidInput("position_id", position_id, "the id of an existing position")
            orders = list(
                session.scalars(
                    select(Order).where(Order.position_id == position_id).order_by(Order.id)
                )
            )
            fills = (
                list(
                    session.scalars(
                        select(Fill)
                        .where(Fill.order_id.in_([o.id for o in orders]))
                        .order_by(Fill.id)
                    )
                )
                if orders
                else []
            )
            events = list(
                session.scalars(
                    select(PositionEvent)
                    .where(PositionEvent.position_id == position_id)
                    .order_by(PositionEvent.id)
                )
            )
            decision = (
                session.get(RiskDecision, position.risk_decision_id)
                if position.risk_decision_id
                else None
            )
            return {
                "position": row(position),
                "decision": None
                if decision is None
                else {
                    "id": decision.id,
                    "ts": decision.ts.isoformat(),
                    "passed": decision.passed,
                    "reason": decision.reason,
                    "sizing": decision.inputs.get("sizing"),
                    "pre_checks": decision.pre_checks or [],
                    "checks": decision.checks,
                },
                "orders": [row(o) for o in orders],
                "fills": [row(f) for f in fills],
                "events": [
                    {
                        "ts": e.ts.isoformat(),
                        "kind": e.kind,
                        "message": e.message,
                        "details": e.details,
                    }
                    for e in events
                ],
            }
