"""Opening a position: risk-checked, written as an intent, sent once, its fill recorded once.

The rule, in order, each step its own transaction:

1. A LIVE trade that needs margin the account lacks is refused before anything is recorded
   (``margin``); a signal already opened is refused (one position per signal).
2. In the risk decision's own transaction (``RiskManager.decide_and_reserve``) the position is
   written OPENING with its OPEN order intent under a deterministic client order id, so a
   passed decision and its reservation are one fact: a concurrent decision sees this position.
3. The order is sent (``venues``); a crash or a lost answer leaves the position OPENING with its
   intent, for ``reconcile`` to settle from the exchange's record.
4. The answer is recorded by one conditional update: OPENING -> OPEN (with the fill booked to the
   account, levels set from the fill price, the bar the fill was in remembered so excursions
   before it never trigger the monitor) or OPENING -> FAILED on a rejection; a second recording
   of the same answer changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.accounts.book import book_open
from helios.accounts.valuation import maintain_marks_at
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Fill, Order, Position
from helios.db.state import transition
from helios.errors import InvalidInput
from helios.exchange.base import OrderRequest, OrderResult, OrderStatus
from helios.faults import crash_point
from helios.market.store import MarketData
from helios.money import ZERO, zar
from helios.money import price as to_price
from helios.positions.installation import Installation
from helios.positions.lifecycle import FAILED, OPEN, OPENING, BookEntry, client_order_id
from helios.positions.margin import MarginGate, needs_margin
from helios.positions.monitoring import current_bar
from helios.positions.records import event, fill_time, told
from helios.positions.venues import Venues
from helios.positions.watchers import BookWatchers
from helios.risk.checks import RiskResult
from helios.risk.inputs import Inputs
from helios.risk.service import RiskManager
from helios.trade import TradeParams, entry_levels, parse_side
from helios.trading_state import trading_mode_in

log = logging.getLogger("helios.positions")


class Opening:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        risk: RiskManager,
        venues: Venues,
        margin: MarginGate,
        installation: Installation,
        watchers: BookWatchers,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._risk = risk
        self._venues = venues
        self._margin = margin
        self._installation = installation
        self._watchers = watchers

    def open_position(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        strategic_reasoning: Any = "",
        *,
        signal_id: int | None = None,
        sizing: Any = None,
        on_refusal: Callable[[Session, RiskResult], None] | None = None,
    ) -> dict[str, Any]:
        """Risk-check, then open at market. The seed's dict: ``success``, ``position_id``,
        ``entry_price``; on refusal ``success: False`` with ``reason`` (and ``error``).
        ``sizing`` (``hx.risk.size_position``'s result) is kept in the risk decision's record, so
        the audit says which sizing method chose the size and why. ``on_refusal``: what a refusal
        by the risk decision settles, written in the decision's own transaction."""
        if not isinstance(strategic_reasoning, str):
            raise InvalidInput("strategic_reasoning", strategic_reasoning, "a text")
        with self._db.read() as session:  # the signal's position, if any, and the mode: one read
            opened = (
                session.scalar(select(Position.id).where(Position.signal_id == signal_id))
                if signal_id is not None
                else None
            )
            mode_now = trading_mode_in(session)
        if opened is not None:  # the unique index is the last line against a race
            raise InvalidInput(
                "signal_id",
                signal_id,
                f"a signal that has no position yet (position {opened} was opened for it)",
            )
        installation = self._installation.id()
        now = self._clock.now()

        def reserve(
            session: Session, risk: RiskResult, params: TradeParams, inputs: Inputs
        ) -> dict[str, Any]:
            """In the risk decision's transaction: the position (OPENING) and its order intent,
            in the trading mode the decision read."""
            mode = inputs.mode
            position = Position(
                pair=self._market.check_pair(pair),  # validated by the check already
                side=parse_side(signal),
                status=OPENING,
                mode=mode,
                position_size_zar=zar(params.position_size_zar, "position_size_zar"),
                leverage=Decimal(repr(params.leverage)),
                stop_loss_pct=Decimal(repr(params.stop_loss_pct)),
                take_profit_pct=Decimal(repr(params.take_profit_pct)),
                trailing_activation_pct=_dec(params.trailing_activation_pct),
                trailing_distance_pct=_dec(params.trailing_distance_pct),
                max_holding_hours=Decimal(repr(params.max_holding_hours)),
                strategic_reasoning=strategic_reasoning,
                risk_decision_id=risk.decision_id,
                signal_id=signal_id,
                created_at=now,
                updated_at=now,
            )
            session.add(position)
            session.flush()
            notional = zar(position.position_size_zar * position.leverage)
            order = Order(
                client_order_id=client_order_id(installation, position.id, "OPEN"),
                position_id=position.id,
                action="OPEN",
                mode=mode,
                pair=position.pair,
                side=position.side,
                quote_amount=notional,
                status="INTENT",
                created_at=now,
                updated_at=now,
                sender=self._db.identity,
            )
            session.add(order)
            event(
                session,
                position.id,
                now,
                "OPEN_REQUESTED",
                f"{position.side} {position.pair} margin {position.position_size_zar} x "
                f"{position.leverage} = {notional} ZAR ({mode}); risk decision {risk.decision_id}",
            )
            session.flush()
            return {
                "position_id": position.id,
                "order_id": order.id,
                "mode": mode,
                "coid": order.client_order_id,
                "notional": notional,
                "pair": position.pair,
                "side": position.side,
                "margin": needs_margin(position.side, position.leverage),
            }

        refusal = self._margin.refusal(signal, trade_params, mode_now)
        if refusal is not None:
            log.warning("[LIVE] open %s %s refused: %s", signal, pair, refusal)
            return {"success": False, "reason": refusal, "error": refusal}
        risk, reserved = self._risk.decide_and_reserve(
            pair,
            signal,
            trade_params,
            reserve,
            signal_id=signal_id,
            sizing=sizing,
            refused=on_refusal,
        )
        if not risk.passed or reserved is None:
            return {
                "success": False,
                "reason": risk.reason,
                "error": risk.reason,
                "violated_limits": list(risk.violated_limits),
                "decision_id": risk.decision_id,
                "halted": risk.halted,
            }
        position_id, order_id = reserved["position_id"], reserved["order_id"]
        mode, coid, notional = reserved["mode"], reserved["coid"], reserved["notional"]
        pair, side = reserved["pair"], reserved["side"]
        log.info("[%s] open %s %s %s ZAR: order %s", mode, side, pair, notional, coid)
        crash_point("open:after_intent")
        result, error = self._venues.send(
            self._venues.exchange(mode),
            OrderRequest.build(coid, pair, side, quote_amount=notional, margin=reserved["margin"]),
        )
        crash_point("open:after_send")
        if result is None:
            return {
                "success": False,
                "position_id": position_id,
                "error": error,
                "reason": f"exchange error: {error}; the position stays OPENING until "
                "reconcile settles it",
            }
        return self.record_open(position_id, order_id, result)

    def record_open(self, position_id: int, order_id: int, result: OrderResult) -> dict[str, Any]:
        """Record an opening order's answer, then tell the book watchers once it is committed."""
        outcome, held = self._write_open(position_id, order_id, result)
        if held is not None:  # committed: the database knows the position is open
            self._watchers.opened(held)
        return outcome

    def _write_open(
        self, position_id: int, order_id: int, result: OrderResult
    ) -> tuple[dict[str, Any], BookEntry | None]:
        """Record an opening order's answer; the position as the book holds it when it opened."""
        now = self._clock.now()
        filled_at = fill_time(result, now)
        with self._db.write() as session:
            session.autoflush = False  # one flush at commit: each flush is a round trip
            order = session.get(Order, order_id)
            assert order is not None
            order.exchange_order_id = result.exchange_order_id
            order.updated_at = now
            if result.status is OrderStatus.PENDING:
                order.status = "SENT"
                return (
                    {
                        "success": False,
                        "position_id": position_id,
                        "reason": "order accepted, fill not known yet: reconcile will record it",
                    },
                    None,
                )
            if result.status is OrderStatus.REJECTED:
                if transition(
                    session,
                    Position,
                    position_id,
                    from_status=OPENING,
                    to_status=FAILED,
                    error=result.reason,
                    updated_at=now,
                ):
                    order.status, order.error = "REJECTED", result.reason
                    position = session.get(Position, position_id)
                    assert position is not None
                    event(
                        session,
                        position_id,
                        now,
                        "OPEN_FAILED",
                        f"order rejected: {result.reason}",
                        told(position, reason=str(result.reason)),
                    )
                return (
                    {
                        "success": False,
                        "position_id": position_id,
                        "status": FAILED,
                        "reason": f"order rejected: {result.reason}",
                        "error": f"order rejected: {result.reason}",
                    },
                    None,
                )
            if not transition(
                session,
                Position,
                position_id,
                from_status=OPENING,
                to_status=OPEN,
                opened_at=filled_at,
                updated_at=now,
            ):
                current = session.get(Position, position_id, populate_existing=True)
                assert current is not None
                return (
                    {
                        "success": current.status != FAILED,
                        "position_id": position_id,
                        "entry_price": current.entry_price,
                        "status": current.status,
                        "reason": f"already recorded ({current.status})",
                    },
                    None,
                )
            position = session.get(Position, position_id, populate_existing=True)
            assert position is not None and result.price is not None
            assert result.quantity is not None
            # every field first, so book_open's flush writes each row once
            entry = to_price(result.price)
            position.stop_loss_price, position.take_profit_price = entry_levels(
                position.side,
                entry,
                position.stop_loss_pct,
                position.take_profit_pct,
                self._settings.price_tick,
            )
            position.best_price = entry
            bar = current_bar(session, position.pair, filled_at)
            if bar is not None:  # excursions before the fill must never trigger this position
                position.monitor_bar_ts, position.monitor_bar_high, position.monitor_bar_low = bar
            order.status = "FILLED"
            book_open(
                session,
                position,
                fill_price=result.price,
                quantity=result.quantity,
                fee=result.fee or ZERO,
                now=now,
                order=order,
            )
            assert position.entry_price == entry
            maintain_marks_at(session, None, now, self._settings.trading_day_timezone)
            session.add(
                Fill(
                    order_id=order.id,
                    client_order_id=order.client_order_id,
                    price=position.entry_price,
                    quantity=position.quantity,
                    fee=position.entry_fee,
                    ts=filled_at,
                )
            )
            event(
                session,
                position_id,
                now,
                "OPENED",
                f"filled {position.quantity} at {entry}, fee {position.entry_fee}; stop "
                f"{position.stop_loss_price}, target {position.take_profit_price}",
                told(position, entry_price=str(entry), size_zar=str(position.position_size_zar)),
            )
            outcome = {
                "success": True,
                "position_id": position_id,
                "entry_price": entry,
                "quantity": position.quantity,
                "stop_loss_price": position.stop_loss_price,
                "take_profit_price": position.take_profit_price,
                "entry_fee": position.entry_fee,
                "status": OPEN,
            }
            held = BookEntry(
                position_id,
                position.pair,
                position.side,
                position.quantity,
                position.mode,
                position.leverage,
            )
            return outcome, held


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))
