"""Recovery: settling positions a crash or a lost answer left OPENING or CLOSING.

Every order is written as an intent under a deterministic client order id before it is sent, so
a position caught between two states can always be settled from the exchange's own record of
that id (``reconcile``, run by every process at start and by the scheduler):

- the exchange knows the order: its answer is recorded exactly as the first attempt would have
  (``Opening.record_open`` / ``Closing.record_close``), and nothing is resent;
- the exchange never saw it: the order is sent now (a close with the stop level recorded with
  its request) -- except an opening order while trading is halted, which is not sent: the
  position becomes FAILED;
- the exchange cannot say: nothing is sent, the error is counted, the next position is tried.

A grace period (30 s) leaves alone the orders another live process may still be sending; a new
leader names the process it took over from (``settle_now_from``): that one is dead or fenced and
can send nothing more, so the orders it wrote are settled at once.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from helios.clock import Clock
from helios.db.engine import Database
from helios.db.models import Order, Position, PositionEvent
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus
from helios.positions.closing import Closing
from helios.positions.lifecycle import OPENING, TRANSITIONAL
from helios.positions.margin import MarginGate
from helios.positions.opening import Opening
from helios.positions.records import event
from helios.positions.venues import Venues
from helios.settings_store import HALTED_KEY, get_setting

RECONCILE_GRACE = timedelta(seconds=30)


class Recovery:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        venues: Venues,
        margin: MarginGate,
        opening: Opening,
        closing: Closing,
    ) -> None:
        self._db = db
        self._clock = clock
        self._venues = venues
        self._margin = margin
        self._opening = opening
        self._closing = closing

    def reconcile(
        self,
        grace: timedelta = RECONCILE_GRACE,
        statuses: tuple[str, ...] = TRANSITIONAL,
        *,
        send_opens: bool | None = None,
        settle_now_from: str | None = None,
    ) -> list[dict[str, Any]]:
        """Settle positions stuck OPENING or CLOSING (``statuses``) for longer than ``grace``
        from the exchange's record of their client order id; send only orders the exchange
        never saw. ``send_opens=False`` (under a halt): an opening order the exchange never saw
        is not sent; the position becomes FAILED instead. Default: not while trading is halted,
        whoever calls (the scheduler, a process starting, a notebook). (An emergency close-out
        settles CLOSING only.)

        The grace is there because another live process may still be sending the order. A new
        leader passes the process it took over from as ``settle_now_from``: that process is dead
        or fenced (it can send nothing more), so the orders it wrote are settled at once."""
        if send_opens is None:
            with self._db.read() as session:
                halted = get_setting(session, HALTED_KEY)
            send_opens = not (halted is not None and halted.value == "true")
        now = self._clock.now()
        cutoff = now - grace
        with self._db.read() as session:
            latest_sender = (
                select(Order.sender)
                .where(Order.position_id == Position.id)
                .order_by(Order.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            past_grace = Position.updated_at <= cutoff
            due = (
                past_grace
                if settle_now_from is None
                else or_(past_grace, latest_sender == settle_now_from)
            )
            stuck = list(
                session.execute(
                    select(Position.id, Position.status, Position.mode)
                    .where(Position.status.in_(statuses), due)
                    .order_by(Position.id)
                ).all()
            )
        outcomes = []
        for position_id, status, mode in stuck:
            action = "OPEN" if status == OPENING else "CLOSE"
            with self._db.read() as session:
                order = session.scalars(
                    select(Order)
                    .where(Order.position_id == position_id, Order.action == action)
                    .order_by(Order.id.desc())
                    .limit(1)
                ).first()
            if order is None:
                continue
            exchange = self._venues.exchange(mode)
            try:
                known = exchange.get_order(order.client_order_id)
            except Exception as exc:  # VALR cannot say: send nothing, count it, try the next
                error = self._venues.failure(
                    exchange, exc, f"reconcile: asking about order {order.client_order_id}"
                )
                outcomes.append(
                    {
                        "position_id": position_id,
                        "success": False,
                        "reason": f"exchange error: {error}; nothing sent",
                    }
                )
                continue
            sent_now = known is None
            if known is None and action == "OPEN" and not send_opens:
                known = OrderResult(
                    client_order_id=order.client_order_id,
                    exchange_order_id=None,
                    status=OrderStatus.REJECTED,
                    pair=order.pair,
                    side=order.side,
                    reason="never reached the exchange, and trading is halted: not sent",
                )
                sent_now = False
            if known is None:
                margin = self._margin.position_needs(position_id)
                request = (
                    OrderRequest.build(
                        order.client_order_id,
                        order.pair,
                        order.side,
                        quote_amount=order.quote_amount,
                        margin=margin,
                    )
                    if action == "OPEN"
                    else OrderRequest.build(
                        order.client_order_id,
                        order.pair,
                        order.side,
                        base_amount=order.quantity,
                        stop_price=self._requested_stop(position_id),
                        margin=margin,
                    )
                )
                known, error = self._venues.send(exchange, request)
                if known is None:
                    outcomes.append(
                        {
                            "position_id": position_id,
                            "success": False,
                            "reason": f"exchange error: {error}",
                        }
                    )
                    continue
            outcome = (
                self._opening.record_open(position_id, order.id, known)
                if action == "OPEN"
                else self._closing.record_close(position_id, order.id, known)
            )
            with self._db.write() as session:
                event(
                    session,
                    position_id,
                    self._clock.now(),
                    "RECONCILED",
                    f"{status} settled from the exchange's record of {order.client_order_id}"
                    f" ({known.status}); {'sent now' if sent_now else 'nothing resent'}",
                )
            outcomes.append({**outcome, "sent_now": sent_now, "was": status})
        return outcomes

    def _requested_stop(self, position_id: int) -> Decimal | None:
        """The stop level recorded with the latest close request (None: a market close)."""
        with self._db.read() as session:
            details = session.scalars(
                select(PositionEvent.details)
                .where(
                    PositionEvent.position_id == position_id,
                    PositionEvent.kind == "CLOSE_REQUESTED",
                )
                .order_by(PositionEvent.id.desc())
                .limit(1)
            ).first()
        stop = (details or {}).get("stop_price")
        return Decimal(stop) if stop is not None else None
