"""``hx.positions``: open, monitor, close and reconcile positions, exactly once, crash-safe.

Every order is first written as an intent with a deterministic client order id (position id +
action), then sent, then its fill is recorded; each step is its own transaction and every status
change is a conditional update, so:

- two callers closing one position (the stop monitor and a person on the dashboard): one wins the
  OPEN -> CLOSING update and sends the order; the other gets ``success: False`` ("already
  closing/closed") and sends nothing;
- a process killed between two steps leaves the position OPENING or CLOSING with its intent;
  ``reconcile`` (run by every process at start) asks the exchange about that client order id and
  records what happened, sending the order only if the exchange never saw it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from helios.accounts.account import unrealized
from helios.accounts.book import book_close, book_open
from helios.accounts.valuation import maintain_marks_at
from helios.clock import Clock, ensure_utc
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.db.models import (
    Candle,
    Fill,
    LatestPrice,
    Order,
    Position,
    PositionEvent,
    RiskDecision,
)
from helios.db.state import transition
from helios.errors import HeliosError, InvalidInput
from helios.events import record_exchange_error
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus
from helios.faults import crash_point
from helios.market.candles import DAY
from helios.market.store import MINUTE, MarketData, floor_time, price_ticks
from helios.money import ZERO, zar
from helios.money import price as to_price
from helios.positions.lifecycle import (
    CLOSE_REASONS,
    CLOSING,
    FAILED,
    FINAL_STATUSES,
    OPEN,
    OPENING,
    STOPPED_OUT,
    TRANSITIONAL,
    BookEntry,
    client_order_id,
    closing_side,
)
from helios.positions.monitor import LastLook, Levels, StoredBar, Verdict, bars_since, judge
from helios.risk.checks import RiskResult
from helios.risk.service import Inputs, RiskManager
from helios.settings_store import HALTED_KEY, MODE_KEY, SettingKey, get_setting, put_setting
from helios.trade import TradeParams, entry_levels, parse_side

log = logging.getLogger("helios.positions")
INSTALLATION_KEY = SettingKey.INSTALLATION_ID
RECONCILE_GRACE = timedelta(seconds=30)


MAX_POSITION_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL


def check_position_id(position_id: Any) -> int:
    """A position id as every call takes it: a whole number from 1 to 2**31 - 1 (the column's
    range, so a larger one is refused here rather than by the database)."""
    if (
        isinstance(position_id, bool)
        or not isinstance(position_id, int)
        or not 1 <= position_id <= MAX_POSITION_ID
    ):
        raise InvalidInput(
            "position_id", position_id, f"a position id (whole number from 1 to {MAX_POSITION_ID})"
        )
    return position_id


def needs_margin(side: str, leverage: Decimal | float) -> bool:
    """Whether a position's orders need exchange margin: a short, or more than 1x."""
    return side == "SELL" or Decimal(str(leverage)) > 1


def seed_installation_id(session: Session, now: datetime) -> str:
    """A short random id for this database, part of every client order id."""
    row = get_setting(session, INSTALLATION_KEY)
    if row is not None:
        return row.value
    value = secrets.token_hex(3)
    put_setting(session, INSTALLATION_KEY, value, now, "configuration")
    return value


@dataclass(frozen=True)
class MonitorResult:
    position_id: int
    pair: str
    side: str
    price: Decimal | None
    unrealized_pnl: Decimal | None
    unrealized_pnl_pct: float | None  # of entry notional: the price move in the position's favour
    stop_loss_price: Decimal
    take_profit_price: Decimal
    action: str  # HOLD, STOP_MOVED or the closing status
    explanation: str
    trigger_price: Decimal | None = None
    close: dict[str, Any] | None = None


def _event(
    session: Session,
    position_id: int,
    now: datetime,
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        PositionEvent(position_id=position_id, ts=now, kind=kind, message=message, details=details)
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class PositionManager:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        risk: RiskManager,
        exchanges: dict[TradingMode, Exchange],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._risk = risk
        self._exchanges = exchanges
        self._installation: str | None = None
        self._book_watchers: list[tuple[Callable[[BookEntry], None], Callable[[int], None]]] = []

    # --- helpers ------------------------------------------------------------------------
    def _exchange(self, mode: str) -> Exchange:
        exchange = self._exchanges.get(TradingMode(mode))
        if exchange is None:
            raise HeliosError(f"no exchange for {mode} mode")
        return exchange

    def _margin_refusal(self, signal: Any, trade_params: Any) -> str | None:
        """In LIVE, a short (SELL) or leverage above 1x needs VALR margin (a margin-enabled
        subaccount, orders with ``allowMargin``): refused before any decision or order when the
        account has none, or when VALR cannot say. PAPER simulates margin: None."""
        with self._db.read() as session:
            row = get_setting(session, MODE_KEY)
        if row is None or row.value != TradingMode.LIVE.value:
            return None
        try:
            side = parse_side(signal)
            leverage = Decimal(
                str(trade_params.get("leverage", 1) if isinstance(trade_params, dict) else 1)
            )
        except (InvalidInput, ArithmeticError, ValueError):
            return None  # the risk check refuses the malformed trade, naming the field
        if not needs_margin(side, leverage):
            return None
        what = "a short (SELL)" if side == "SELL" else f"leverage {leverage}x"
        try:
            enabled = self._exchange(TradingMode.LIVE.value).margin_enabled()
        except HeliosError as exc:
            return (
                f"LIVE: {what} needs VALR margin, and VALR could not say whether it is on ({exc})"
            )
        if enabled:
            return None
        return (
            f"LIVE: {what} needs a margin-enabled VALR subaccount (allowMargin); margin is not "
            "enabled on this account, so nothing was sent"
        )

    def _position_needs_margin(self, position_id: int) -> bool:
        with self._db.read() as session:
            row = session.execute(
                select(Position.side, Position.leverage).where(Position.id == position_id)
            ).one()
        return needs_margin(row.side, row.leverage)

    def installation_id(self) -> str:
        """This database's installation id (the prefix of every client order id)."""
        return self._installation_id()

    def _installation_id(self) -> str:
        if self._installation is None:
            with self._db.write() as session:
                self._installation = seed_installation_id(session, self._clock.now())
        return self._installation

    def _send(self, exchange: Exchange, request: OrderRequest) -> tuple[OrderResult | None, str]:
        """Send an order; a failure (no answer, an exchange error) is returned as text and
        recorded as an EXCHANGE_ERROR event, which the halt watchdog counts. A request refused
        before anything was sent (the venue's pair rules: a minimum, margin not allowed on the
        pair) is a definitive REJECTED result: the open FAILS, a close leaves the position OPEN,
        instead of a transitional state no reconcile could ever settle. A scheduler that no
        longer leads sends nothing (the fence raises ``Fenced``; the intent stays for the leader
        that took over, which settles it by its client order id)."""
        self._db.check_fence()
        try:
            return exchange.submit_market_order(request), ""
        except InvalidInput as exc:  # our own request was refused before sending
            return (
                OrderResult(
                    client_order_id=request.client_order_id,
                    exchange_order_id=None,
                    status=OrderStatus.REJECTED,
                    pair=request.pair,
                    side=request.side.value,
                    reason=f"refused before sending: {exc}",
                ),
                "",
            )
        except Exception as exc:
            return None, self._exchange_failure(
                exchange,
                exc,
                f"order {request.client_order_id} ({request.side.value} {request.pair})",
                request.sent_at,
            )

    def _exchange_failure(
        self, exchange: Exchange, exc: Exception, what: str, at: datetime | None = None
    ) -> str:
        """An exchange call that got no usable answer: logged (with its traceback when it is not
        one of ours), recorded as an EXCHANGE_ERROR event (which the halt rule counts) at ``at``
        (default now); returns the error as text."""
        if not isinstance(exc, HeliosError):
            log.exception("%s failed", what)
        error = f"{type(exc).__name__}: {exc}"
        when = at or self._clock.now()
        record_exchange_error(self._db, when, exchange.name, f"{what} failed: {error}")
        return error

    # --- open ---------------------------------------------------------------------------
    def open_position(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        strategic_reasoning: Any = "",
        *,
        signal_id: int | None = None,
        sizing: Any = None,
    ) -> dict[str, Any]:
        """Risk-check, then open at market. The seed's dict: ``success``, ``position_id``,
        ``entry_price``; on refusal ``success: False`` with ``reason`` (and ``error``).
        ``sizing`` (``hx.risk.size_position``'s result) is kept in the risk decision's record, so
        the audit says which sizing method chose the size and why."""
        if not isinstance(strategic_reasoning, str):
            raise InvalidInput("strategic_reasoning", strategic_reasoning, "a text")
        if signal_id is not None:
            with self._db.read() as session:
                opened = session.scalar(select(Position.id).where(Position.signal_id == signal_id))
            if opened is not None:  # the unique index is the last line against a race
                raise InvalidInput(
                    "signal_id",
                    signal_id,
                    f"a signal that has no position yet (position {opened} was opened for it)",
                )
        installation = self._installation_id()
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
            _event(
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

        refusal = self._margin_refusal(signal, trade_params)
        if refusal is not None:
            log.warning("[LIVE] open %s %s refused: %s", signal, pair, refusal)
            return {"success": False, "reason": refusal, "error": refusal}
        risk, reserved = self._risk.decide_and_reserve(
            pair, signal, trade_params, reserve, signal_id=signal_id, sizing=sizing
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
        result, error = self._send(
            self._exchange(mode),
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
        return self._record_open(position_id, order_id, result)

    def watch_book(
        self, opened: Callable[[BookEntry], None], closed: Callable[[int], None]
    ) -> None:
        """Be told of each opening fill and each final close as soon as the database holds it
        (the scheduler's remembered book for a close-out without the database: a position
        opened a moment before the database went away must be in it)."""
        self._book_watchers.append((opened, closed))

    def _record_open(self, position_id: int, order_id: int, result: OrderResult) -> dict[str, Any]:
        outcome, held = self._write_open(position_id, order_id, result)
        if held is not None:  # committed: the database knows the position is open
            for opened, _closed in self._book_watchers:
                opened(held)
        return outcome

    def _write_open(
        self, position_id: int, order_id: int, result: OrderResult
    ) -> tuple[dict[str, Any], BookEntry | None]:
        """Record an opening order's answer; the position as the book holds it when it opened."""
        now = self._clock.now()
        filled_at = _filled_at(result, now)
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
                    _event(
                        session, position_id, now, "OPEN_FAILED", f"order rejected: {result.reason}"
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
                position.side, entry, position.stop_loss_pct, position.take_profit_pct
            )
            position.best_price = entry
            bar = self._current_bar(session, position.pair, filled_at)
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
            _event(
                session,
                position_id,
                now,
                "OPENED",
                f"filled {position.quantity} at {entry}, fee {position.entry_fee}; stop "
                f"{position.stop_loss_price}, target {position.take_profit_price}",
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

    # --- close --------------------------------------------------------------------------
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
        installation = self._installation_id()
        now = ensure_utc(at) if at is not None else self._clock.now()
        trigger = trigger_price if trigger_price is not None else stop_price
        with self._db.write() as session:
            moved, position = _begin_close(session, position_id, reason, now, trigger)
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
            _event(
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
        result, error = self._send(self._exchange(mode), request)
        crash_point("close:after_send")
        if result is None:
            return {
                "success": False,
                "position_id": position_id,
                "error": error,
                "reason": f"exchange error: {error}; the position stays CLOSING until "
                "reconcile settles it",
            }
        return self._record_close(position_id, order_id, result, at)

    def _record_close(
        self,
        position_id: int,
        order_id: int,
        result: OrderResult,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        outcome = self._write_close(position_id, order_id, result, at)
        if outcome.get("status") in FINAL_STATUSES:
            for _opened, closed in self._book_watchers:
                closed(position_id)
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
                    _event(
                        session,
                        position_id,
                        now,
                        "CLOSE_FAILED",
                        f"close rejected: {result.reason}; the position stays open",
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
                closed_at=_filled_at(result, now),
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
            _event(
                session,
                position_id,
                now,
                "CLOSED",
                f"{final}: filled at {position.exit_price}, fee {position.exit_fee}, realized "
                f"{realized} after {held.total_seconds() / 3600:.2f} h",
            )
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
            moved, position = _begin_close(session, position_id, reason, now)
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
            _event(
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
        return self._record_close(position_id, order_id, result)

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

    # --- monitor ------------------------------------------------------------------------
    def _current_bar(
        self, session: Session, pair: str, now: datetime
    ) -> tuple[datetime, Decimal, Decimal] | None:
        """The newest intraday bar of ``pair`` at ``now`` (one-minute bars first: every live feed
        and set_price write them, and that look-up is one index probe)."""
        row = session.execute(
            _NEWEST_BAR.where(Candle.interval_seconds == MINUTE),
            {"pair": pair, "now": now},
        ).first()
        if row is None:  # a feed with coarser bars only (replay of hourly candles, say)
            row = session.execute(
                _NEWEST_BAR.where(Candle.interval_seconds < DAY), {"pair": pair, "now": now}
            ).first()
        return (row.ts, row.high, row.low) if row else None

    def monitor_positions(self, now: datetime | None = None) -> list[MonitorResult]:
        """One pass over open positions: P&L, stop, target, trailing stop, timeout. Hits close
        the position with STOPPED_OUT, TAKE_PROFIT or TIMEOUT."""
        now = ensure_utc(now) if now is not None else self._clock.now()
        with self._db.read() as session:
            positions = list(
                session.scalars(
                    select(Position).where(Position.status == OPEN).order_by(Position.id)
                )
            )
            prices = {row.pair: row.price for row in session.scalars(select(LatestPrice))}
            bars_by_pair: dict[str, list[Candle]] = {}
            for pair in {p.pair for p in positions}:
                starts = [
                    p.monitor_bar_ts or p.opened_at or now for p in positions if p.pair == pair
                ]
                since = floor_time(min(starts), 3600)
                rows = list(
                    session.scalars(
                        select(Candle)
                        .where(
                            Candle.pair == pair,
                            Candle.interval_seconds < DAY,
                            Candle.ts >= since,
                            Candle.ts <= now,
                        )
                        .order_by(Candle.ts)
                    )
                )
                finest = min((c.interval_seconds for c in rows), default=None)
                bars_by_pair[pair] = [c for c in rows if c.interval_seconds == finest]
            # the prices observed since each position's last look (or its entry)
            looked = [_last_look(p, now) for p in positions]
            ticks = (
                price_ticks(session, {p.pair for p in positions}, min(looked), now)
                if positions
                else {}
            )
        results: list[MonitorResult] = []
        updates: list[dict[str, Any]] = []
        moved: dict[int, tuple[str, dict[str, str]]] = {}
        for position in positions:
            verdict, seen = self._judge(
                position,
                bars_by_pair.get(position.pair, []),
                prices.get(position.pair),
                now,
                ticks.get(position.pair, []),
            )
            mark = prices.get(position.pair)
            pnl = pct = None
            if mark is not None and position.entry_price and position.quantity:
                pnl = unrealized(position.side, position.entry_price, mark, position.quantity)
                pct = float(pnl / (position.entry_price * position.quantity))
            action = verdict.exit_status or ("STOP_MOVED" if verdict.stop_moved else "HOLD")
            update_row = {
                "pid": position.id,
                "seen_version": position.version,
                "best": verdict.best_price,
                "stop": verdict.stop_loss_price,
                "at": now,
                "bar_ts": seen[0] if seen else position.monitor_bar_ts,
                "bar_high": seen[1] if seen else position.monitor_bar_high,
                "bar_low": seen[2] if seen else position.monitor_bar_low,
            }
            updates.append(update_row)
            results.append(
                MonitorResult(
                    position.id,
                    position.pair,
                    position.side,
                    mark,
                    pnl,
                    pct,
                    verdict.stop_loss_price,
                    position.take_profit_price or ZERO,
                    action,
                    verdict.explanation,
                    verdict.trigger_price,
                )
            )
            if verdict.stop_moved:
                moved[position.id] = (
                    f"trailing stop {position.stop_loss_price} -> "
                    f"{verdict.stop_loss_price} (best {verdict.best_price})",
                    {"from": str(position.stop_loss_price), "to": str(verdict.stop_loss_price)},
                )
        self._save_levels(updates, moved, prices, now)
        closed: list[MonitorResult] = []
        for result in results:
            if result.action in CLOSE_REASONS:
                outcome = self.close_position(
                    result.position_id,
                    result.action,
                    actor="monitor",
                    stop_price=result.trigger_price if result.action == STOPPED_OUT else None,
                    trigger_price=result.trigger_price,
                    at=now,
                )
                closed.append(MonitorResult(**{**result.__dict__, "close": outcome}))
            else:
                closed.append(result)
        return closed

    def _save_levels(
        self,
        updates: list[dict[str, Any]],
        moved: dict[int, tuple[str, dict[str, str]]],
        prices: dict[str, Decimal],
        now: datetime,
    ) -> None:
        """Store each position's best price, (trailed) stop and the bar seen, in one
        transaction, with a STOP_MOVED event for each stop that moved, and maintain the
        account's peak and day start from the pass's valuation (``ledger.maintain_marks_at``).

        Each row is written only if it is still OPEN and unchanged since this pass read it
        (``version``): a slower pass that overlapped a newer one (a notebook and the scheduler)
        never writes its older view over the newer one, so a trailed stop never moves back.
        """
        table = Position.__table__
        guarded = (
            update(table)
            .where(
                table.c.id == bindparam("pid"),
                table.c.status == OPEN,
                table.c.version == bindparam("seen_version"),
            )
            .values(
                best_price=bindparam("best"),
                stop_loss_price=bindparam("stop"),
                last_monitored_at=bindparam("at"),
                monitor_bar_ts=bindparam("bar_ts"),
                monitor_bar_high=bindparam("bar_high"),
                monitor_bar_low=bindparam("bar_low"),
                version=table.c.version + 1,
            )
        )
        with self._db.write() as session:
            connection = session.connection()
            plain = [row for row in updates if row["pid"] not in moved]
            if plain:
                connection.execute(guarded, plain)
            for row in updates:
                if row["pid"] in moved and connection.execute(guarded, row).rowcount == 1:
                    message, details = moved[row["pid"]]
                    _event(session, row["pid"], now, "STOP_MOVED", message, details)
            maintain_marks_at(session, prices, now, self._settings.trading_day_timezone)

    @staticmethod
    def _judge(
        position: Position,
        candles: list[Candle],
        latest: Decimal | None,
        now: datetime,
        ticks: Sequence[tuple[datetime, Decimal]] = (),
    ) -> tuple[Verdict, tuple[datetime, Decimal, Decimal] | None]:
        """What happened since the last look (``monitor.bars_since``: the bars and the prices
        observed, ``ticks``), then the pure ``judge``. Also returns the newest bar's (ts, high,
        low) to remember for the next pass."""
        seen_ts = position.monitor_bar_ts
        look = LastLook(
            _last_look(position, now),
            ensure_utc(seen_ts) if seen_ts is not None else None,
            position.monitor_bar_high,
            position.monitor_bar_low,
        )
        stored = [
            StoredBar(ensure_utc(c.ts), int(c.interval_seconds), c.high, c.low) for c in candles
        ]
        bars = bars_since(position.side, stored, list(ticks), look)
        newest = candles[-1] if candles else None
        seen = (
            (newest.ts, newest.high, newest.low)
            if newest is not None and newest.ts >= (seen_ts or newest.ts)
            else None
        )
        assert position.entry_price is not None and position.stop_loss_price is not None
        assert position.take_profit_price is not None and position.opened_at is not None
        levels = Levels(
            side=position.side,
            entry_price=position.entry_price,
            stop_loss_price=position.stop_loss_price,
            take_profit_price=position.take_profit_price,
            best_price=position.best_price or position.entry_price,
            trailing_activation_pct=position.trailing_activation_pct,
            trailing_distance_pct=position.trailing_distance_pct,
            opened_at=position.opened_at,
            max_holding_hours=position.max_holding_hours,
        )
        return judge(levels, bars, latest, now), seen

    # --- recovery -----------------------------------------------------------------------
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
            exchange = self._exchange(mode)
            try:
                known = exchange.get_order(order.client_order_id)
            except Exception as exc:  # VALR cannot say: send nothing, count it, try the next
                error = self._exchange_failure(
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
                margin = self._position_needs_margin(position_id)
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
                known, error = self._send(exchange, request)
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
                self._record_open(position_id, order.id, known)
                if action == "OPEN"
                else self._record_close(position_id, order.id, known)
            )
            with self._db.write() as session:
                _event(
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

    # --- queries ------------------------------------------------------------------------
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
                "position": _row(position),
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
                "orders": [_row(o) for o in orders],
                "fills": [_row(f) for f in fills],
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


_NEWEST_BAR = (
    select(Candle.ts, Candle.high, Candle.low)
    .where(Candle.pair == bindparam("pair"), Candle.ts <= bindparam("now"))
    .order_by(Candle.ts.desc(), Candle.interval_seconds)
    .limit(1)
)


def _begin_close(
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


def _last_look(position: Position, now: datetime) -> datetime:
    """Since when the monitor has not seen this position's prices: its last pass, else its
    entry (prices observed before the entry must never judge it)."""
    return ensure_utc(position.last_monitored_at or position.opened_at or now)


def _row(obj: Any) -> dict[str, Any]:
    """A model row as a JSON-friendly dict (Decimals as text, times in ISO 8601)."""
    return {column.key: _jsonable(getattr(obj, column.key)) for column in obj.__table__.columns}


def _filled_at(result: OrderResult, now: datetime) -> datetime:
    """When the venue filled the order: the position's holding time (and its 72-hour limit)
    runs from the fill, also when the fill is recorded later (by ``reconcile`` after a crash)."""
    if result.created_at is None:
        return now
    return min(ensure_utc(result.created_at), now)


def _dec(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))
