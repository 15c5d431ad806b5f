"""Closing a position: exactly one caller wins, the order is sent once, its fill recorded once.

- OPEN -> CLOSING is one conditional update (``begin_close``): of two callers closing one
  position (the stop monitor and a person on the dashboard) one wins and writes the CLOSE order
  intent under a deterministic client order id (the attempt number keeps a retry after a
  rejection apart); the other gets ``success: False`` ("already closing/closed") and sends nothing.
- The stop level the monitor saw crossed travels with the order (a paper fill is no better than
  the stop) and is recorded with the close request, so a resend by ``reconcile`` carries it too.
- The answer is recorded by one conditional update: CLOSING -> the close reason as the final
  status (the fill booked to the account) or CLOSING -> OPEN on a rejection (the position stays
  open, told as CLOSE_FAILED). A lost answer leaves it CLOSING for ``reconcile``.
- A STOPPED_OUT close may lock its pair (``helios.pair_lock_store.apply_auto_lock``: N losing
  stop-outs within a window), in the same transaction as the close.
- A close made while the database was unreachable (``helios.closeout``'s journal) is recorded
  afterwards exactly as ``close_position`` would have, once per client order id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helios.accounts.book import book_close
from helios.accounts.valuation import maintain_marks_at
from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Fill, Order, Position
from helios.db.state import transition
from helios.errors import InvalidInput
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus
from helios.faults import crash_point
from helios.money import ZERO
from helios.pair_lock_store import apply_auto_lock
from helios.positions.installation import Installation
from helios.positions.lifecycle import (
    CLOSE_REASONS,
    CLOSING,
    FAILED,
    FINAL_STATUSES,
    OPEN,
    OPENING,
    STOPPED_OUT,
    client_order_id,
    closing_side,
)
from helios.positions.margin import needs_margin
from helios.positions.records import check_position_id, event, fill_time, told
from helios.positions.venues import Venues
from helios.positions.watchers import BookWatchers

log = logging.getLogger("helios.positions")


def begin_close(
    session: Session,
    position_id: int,
    reason: str,
    now: datetime,
    trigger_price: Decimal | None = None,
) -> tuple[bool, Position]:
    """OPEN -> CLOSING with ``reason`` (and the level that triggered it) in one conditional
    update (exactly one caller wins). Returns whether this call moved it, and the position as
    it now is."""
    position = session.get(Position, position_id)
    if position is None:
        raise InvalidInput("position_id", position_id, "the id of an existing position")
    moved = transition(
        session,
        Position,
        position_id,
        from_status=OPEN,
        to_status=CLOSING,
        close_reason=reason,
        exit_trigger_price=trigger_price,
        updated_at=now,
    )
    session.refresh(position)
    return moved, position


class Closing:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        venues: Venues,
        installation: Installation,
        watchers: BookWatchers,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._venues = venues
        self._installation = installation
        self._watchers = watchers

    def close_position(
        self,
        position_id: Any,
        reason: Any = "CLOSED",
        *,
        actor: str = "system",
        stop_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Close at market with ``reason`` as the final status (CLOSED is a manual close).
        Exactly one caller wins; a loser gets ``success: False`` and nothing is sent.

        ``stop_price``: the stop level the monitor saw crossed; the order carries it so a paper
        fill is no better than the stop (a resting stop order's fill). It is recorded with the
        close request, so a resend by ``reconcile`` after a crash carries it too.
        ``trigger_price``: the level whose crossing closes it (the stop, the target, the price
        a timeout saw), kept on the position beside its fill (the review's slippage).
        ``at``: the time of every record (a monitor pass run for a given time); default now."""
        check_position_id(position_id)
        if reason not in CLOSE_REASONS:
            raise InvalidInput("reason", reason, f"one of {', '.join(CLOSE_REASONS)}")
        installation = self._installation.id()
        now = ensure_utc(at) if at is not None else self._clock.now()
        trigger = trigger_price if trigger_price is not None else stop_price
        with self._db.write() as session:
            moved, position = begin_close(session, position_id, reason, now, trigger)
            if not moved:
                state = (
                    "already closing/closed"
                    if position.status not in (OPENING, FAILED)
                    else "not open"
                )
                text = f"position {position_id} is {state} ({position.status})"
                return {
                    "success": False,
                    "position_id": position_id,
                    "error": text,
                    "reason": text,
                    "status": position.status,
                }
            attempt = 1 + (
                session.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.position_id == position_id, Order.action == "CLOSE")
                )
                or 0
            )
            assert position.quantity is not None
            order = Order(
                client_order_id=client_order_id(installation, position_id, "CLOSE", attempt),
                position_id=position_id,
                action="CLOSE",
                mode=position.mode,
                pair=position.pair,
                side=closing_side(position.side),
                quantity=position.quantity,
                status="INTENT",
                created_at=now,
                updated_at=now,
                sender=self._db.identity,
            )
            session.add(order)
            event(
                session,
                position_id,
                now,
                "CLOSE_REQUESTED",
                f"{reason} requested by {actor}"
                + (f" (stop {stop_price} crossed)" if stop_price is not None else "")
                + (f" (trigger {trigger})" if trigger is not None and stop_price is None else ""),
                {
                    **({"stop_price": str(stop_price)} if stop_price is not None else {}),
                    **({"trigger_price": str(trigger)} if trigger is not None else {}),
                }
                or None,
            )
            session.flush()
            order_id, coid, mode = order.id, order.client_order_id, position.mode
            request = OrderRequest.build(
                coid,
                position.pair,
                order.side,
                base_amount=position.quantity,
                stop_price=stop_price,
                margin=needs_margin(position.side, position.leverage),
                sent_at=at,
            )
        log.info("[%s] close position %s (%s): order %s", mode, position_id, reason, coid)
        crash_point("close:after_intent")
        result, error = self._venues.send(self._venues.exchange(mode), request)
        crash_point("close:after_send")
        if result is None:
            return {
                "success": False,
                "position_id": position_id,
                "error": error,
                "reason": f"exchange error: {error}; the position stays CLOSING until "
                "reconcile settles it",
            }
        return self.record_close(position_id, order_id, result, at)

    def record_close(
        self,
        position_id: int,
        order_id: int,
        result: OrderResult,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record a closing order's answer, then tell the book watchers of a final close once it
        is committed."""
        outcome = self._write_close(position_id, order_id, result, at)
        if outcome.get("status") in FINAL_STATUSES:
            self._watchers.closed(position_id)
        return outcome

    def _write_close(
        self,
        position_id: int,
        order_id: int,
        result: OrderResult,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        now = ensure_utc(at) if at is not None else self._clock.now()
        with self._db.write() as session:
            order = session.get(Order, order_id)
            position = session.get(Position, position_id)
            assert order is not None and position is not None
            order.exchange_order_id, order.updated_at = result.exchange_order_id, now
            if result.status is OrderStatus.PENDING:
                order.status = "SENT"
                return {
                    "success": False,
                    "position_id": position_id,
                    "reason": "close accepted, fill not known yet: reconcile will record it",
                }
            if result.status is OrderStatus.REJECTED:
                if transition(
                    session,
                    Position,
                    position_id,
                    from_status=CLOSING,
                    to_status=OPEN,
                    close_reason=None,
                    updated_at=now,
                ):
                    order.status, order.error = "REJECTED", result.reason
                    event(
                        session,
                        position_id,
                        now,
                        "CLOSE_FAILED",
                        f"close rejected: {result.reason}; the position stays open",
                        told(position, reason=str(result.reason)),
                    )
                text = f"close rejected: {result.reason}"
                return {"success": False, "position_id": position_id, "error": text, "reason": text}
            final = position.close_reason or "CLOSED"
            if not transition(
                session,
                Position,
                position_id,
                from_status=CLOSING,
                to_status=final,
                closed_at=fill_time(result, now),
                updated_at=now,
            ):
                session.refresh(position)
                return {
                    "success": position.status == final,
                    "position_id": position_id,
                    "realized_pnl": position.realized_pnl,
                    "status": position.status,
                    "reason": f"already recorded ({position.status})",
                }
            session.refresh(position)
            assert result.price is not None
            realized = book_close(
                session,
                position,
                fill_price=result.price,
                fee=result.fee or ZERO,
                now=now,
                order=order,
            )
            order.status = "FILLED"
            maintain_marks_at(session, None, now, self._settings.trading_day_timezone)
            closed_at = position.closed_at or now
            session.add(
                Fill(
                    order_id=order.id,
                    client_order_id=order.client_order_id,
                    price=position.exit_price,
                    quantity=result.quantity or ZERO,
                    fee=position.exit_fee,
                    ts=closed_at,
                )
            )
            held = closed_at - (position.opened_at or closed_at)
            event(
                session,
                position_id,
                now,
                "CLOSED",
                f"{final}: filled at {position.exit_price}, fee {position.exit_fee}, realized "
                f"{realized} after {held.total_seconds() / 3600:.2f} h",
                told(position, status=final, realized_pnl=str(realized)),
            )
            if final == STOPPED_OUT:  # N losing stop-outs lock the pair, in this transaction
                apply_auto_lock(session, position.pair, now, self._settings)
            return {
                "success": True,
                "position_id": position_id,
                "status": final,
                "realized_pnl": realized,
                "exit_price": position.exit_price,
                "entry_price": position.entry_price,
                "fees": (position.entry_fee or ZERO) + (position.exit_fee or ZERO),
                "holding_hours": held.total_seconds() / 3600,
            }

    def record_offline_close(
        self,
        position_id: int,
        client_order_id: str,
        result: OrderResult | None,
        *,
        reason: str = "EMERGENCY_CLOSE",
        note: str = "",
    ) -> dict[str, Any]:
        """Record a close made while the database was unreachable (``helios.closeout``'s
        journal): the close request, its order under ``client_order_id`` and, with ``result``,
        the fill, exactly as ``close_position`` would have. Idempotent: an order id already
        recorded changes nothing. ``result`` None (the answer never came back) leaves the
        position CLOSING for ``reconcile`` to settle from the exchange's record."""
        now = self._clock.now()
        with self._db.write() as session:
            known = session.scalar(select(Order.id).where(Order.client_order_id == client_order_id))
            if known is not None:
                return {
                    "success": False,
                    "position_id": position_id,
                    "already_recorded": True,
                    "reason": f"order {client_order_id} is already recorded",
                }
            moved, position = begin_close(session, position_id, reason, now)
            if not moved:
                text = (
                    f"position {position_id} is {position.status}: the close made while the "
                    "database was unreachable was not applied"
                )
                return {"success": False, "position_id": position_id, "reason": text}
            assert position.quantity is not None
            order = Order(
                client_order_id=client_order_id,
                position_id=position_id,
                action="CLOSE",
                mode=position.mode,
                pair=position.pair,
                side=closing_side(position.side),
                quantity=position.quantity,
                status="INTENT" if result is None else "SENT",
                sender=self._db.identity,
                created_at=(result.created_at if result and result.created_at else now),
                updated_at=now,
            )
            session.add(order)
            event(
                session,
                position_id,
                now,
                "CLOSE_REQUESTED",
                f"{reason} while the database was unreachable" + (f": {note}" if note else ""),
                {"journal": True},
            )
            session.flush()
            order_id = order.id
        if result is None:
            return {
                "success": False,
                "position_id": position_id,
                "reason": "close sent while the database was unreachable, answer unknown: "
                "reconcile will settle it",
            }
        return self.record_close(position_id, order_id, result)

    def close_all(self, reason: Any = "CLOSED", *, actor: str = "system") -> list[dict[str, Any]]:
        """Close every open position with ``reason``; returns each close's dict."""
        if reason not in CLOSE_REASONS:
            raise InvalidInput("reason", reason, f"one of {', '.join(CLOSE_REASONS)}")
        with self._db.read() as session:
            ids = list(
                session.scalars(
                    select(Position.id).where(Position.status == OPEN).order_by(Position.id)
                )
            )
        return [self.close_position(position_id, reason, actor=actor) for position_id in ids]
