"""The trading loop: each PENDING signal, oldest first, becomes one position or a refusal.

One pass (``process_pending``, the scheduler's ``trading`` job) settles in one transaction the
signals it need not trade: one that already has a position (a crash between opening and the
record) is EXECUTED, an expired one EXPIRED, and under a halt every one is REJECTED with the
halt's reason (closing stays allowed, opening does not). Each other signal is sized
(``size_position`` unless it names its own size), risk-checked and opened by
``open_position``, and ends EXECUTED or REJECTED with the reason. A signal opens at most one
position: ``positions.signal_id`` is unique, so a crash or a second process can never open a
second one. Every outcome is one decision line, in the log and in the events table.

The halt flag and the mode are read through ``TradingControls`` (its one read, in the pass's own
write transaction), not the controls module, which sits above the signals. A signal the risk
decision refuses is settled in the decision's transaction (``open_position(on_refusal=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.db.models import Position, Signal
from helios.errors import Fenced, InvalidInput
from helios.events import record_event
from helios.faults import crash_point
from helios.positions.manager import PositionManager
from helios.risk.checks import RiskResult
from helios.risk.service import RiskManager
from helios.signals.records import EXECUTED, EXPIRED, PENDING, REJECTED, as_dict
from helios.signals.rows import SignalOutcome, decision_event_values, settle_values

log = logging.getLogger("helios.signals")

CHECK_EVERY = 50  # signals between two leadership checks in one trading pass


# a pending signal's outcome (built once: its compiled form is reused at every decision)
_SIGNALS = Signal.__table__
_SETTLE = (
    update(_SIGNALS)
    .where(_SIGNALS.c.id == bindparam("signal_id"), _SIGNALS.c.status == PENDING)
    .values(
        status=bindparam("new_status"),
        status_reason=bindparam("new_reason"),
        position_id=bindparam("new_position_id"),
        processed_at=bindparam("new_processed_at"),
    )
)


class HaltView(Protocol):
    """The halt flag as the trading loop reads it."""

    @property
    def halted(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class TradingControls(Protocol):
    """The read of the trading state the loop needs (``hx.trading_state`` provides it): the
    halt flag and the mode, in the pass's own transaction."""

    def flags_in(self, session: Session) -> tuple[HaltView, TradingMode]: ...


class TradingLoop:
    """Processes the pending signals with the risk service (sizing) and the positions service
    (risk check and opening) passed in."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        risk: RiskManager,
        positions: PositionManager,
        controls: TradingControls,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._risk = risk
        self._positions = positions
        self._controls = controls

    def process_pending(
        self,
        limit: int | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> list[SignalOutcome]:
        """One pass of the trading loop over pending signals, oldest first.

        Expired signals become EXPIRED; under a halt every pending signal is REJECTED with the
        halt's reason (closing stays allowed, opening does not); each other signal is sized,
        risk-checked and opened, and ends EXECUTED or REJECTED with the reason. A database
        error leaves the signal PENDING for the next pass; any other failure of one signal
        rejects that signal with the error and the pass goes on. ``keep_going`` (the
        scheduler's leadership check) is asked every ``CHECK_EVERY`` signals; False ends the
        pass, leaving the rest PENDING.
        """
        now = self._clock.now()
        batch = limit or self._settings.trading_batch_size
        outcomes: list[SignalOutcome] = []
        with self._db.write() as session:
            halt, trading_mode = self._controls.flags_in(session)
            mode = trading_mode.value
            rows = session.execute(
                select(Signal, Position.id)
                .outerjoin(Position, Position.signal_id == Signal.id)
                .where(Signal.status == PENDING)
                .order_by(Signal.created_at, Signal.id)
                .limit(batch)
            ).all()
            pending = []
            for signal, position_id in rows:
                # settled here, in one transaction: each still gets its decision line and event
                if position_id is not None:  # a crash between opening and this record
                    status, reason = EXECUTED, f"position {position_id} was opened for it"
                elif signal.expires_at is not None and signal.expires_at <= now:
                    status, reason = EXPIRED, "expired before the trading loop reached it"
                elif halt.halted:
                    status, reason = REJECTED, f"trading halted: {halt.reason}"
                else:
                    pending.append(as_dict(signal))
                    continue
                outcome = SignalOutcome(
                    signal.id,
                    signal.pair or "?",
                    signal.side or "?",
                    status,
                    reason,
                    position_id,
                    mode=mode,
                )
                values = settle_values(outcome, now)
                signal.status, signal.status_reason = values["new_status"], values["new_reason"]
                signal.position_id = values["new_position_id"]
                signal.processed_at = values["new_processed_at"]
                decision_event(session, outcome, now)
                outcomes.append(outcome)
        for done, signal in enumerate(pending):
            if keep_going is not None and done and done % CHECK_EVERY == 0 and not keep_going():
                log.warning("trading pass stopped after %d signal(s): not leading any more", done)
                break
            try:
                outcomes.append(self._process_one(signal, mode))
            except (SQLAlchemyError, Fenced):
                raise  # the database, or another leader took over: the signal stays PENDING
            except Exception as error:  # one bad signal must not block the queue
                log.exception("signal %s could not be processed", signal["id"])
                outcomes.append(
                    self._finish(
                        signal,
                        REJECTED,
                        f"internal error: {type(error).__name__}: {error}",
                        None,
                        mode=mode,
                    )
                )
        return outcomes

    def _process_one(self, signal: dict[str, Any], mode: str) -> SignalOutcome:
        """Size, check and open one signal; ``mode``: the trading mode read at the pass's
        start, for the decision line (the risk decision stores the mode it read itself)."""
        pair, side, signal_id = signal["pair"], signal["side"], signal["id"]
        params = dict(signal["trade_params"] or {})
        sizing = None
        try:
            if params.get("position_size_zar") is None:
                sizing = self._risk.size_position(
                    pair,
                    side,
                    signal["confidence"],
                    params.get("stop_loss_pct"),
                    params.get("take_profit_pct"),
                    params.get("leverage", 1.0),
                    ml_predictions=(
                        {pair: signal["predicted_return"]}
                        if signal["predicted_return"] is not None
                        else None
                    ),
                    confidence_scores=(
                        {pair: signal["confidence"]}
                        if signal["predicted_return"] is not None
                        else None
                    ),
                )
                if sizing.position_size_zar <= 0:
                    return self._finish(
                        signal,
                        REJECTED,
                        f"sizing gives no position: {sizing.explanation}",
                        None,
                        mode=mode,
                    )
                params["position_size_zar"] = sizing.position_size_zar
            settled: list[SignalOutcome] = []

            def refused(session: Session, risk: RiskResult) -> None:
                """A refusal's outcome, in the decision's own transaction."""
                settled.append(
                    self._settle(
                        session,
                        signal,
                        REJECTED,
                        risk.reason,
                        None,
                        size=float(params["position_size_zar"]),
                        leverage=float(params.get("leverage", 1.0)),
                        violated=tuple(risk.violated_limits),
                        mode=mode,
                    )
                )

            result = self._positions.open_position(
                pair,
                side,
                params,
                signal["llm_reasoning"] or "",
                signal_id=signal_id,
                sizing=sizing,
                on_refusal=refused,
            )
            crash_point("signal:after_decision")
            if settled:  # refused, and settled with its decision
                return settled[0]
        except (InvalidInput, IntegrityError) as error:
            with self._db.read() as session:
                opened = session.scalar(select(Position.id).where(Position.signal_id == signal_id))
            if opened is not None:  # another process opened a position for this signal
                return self._finish(
                    signal,
                    EXECUTED,
                    f"position {opened} was already opened for it",
                    opened,
                    mode=mode,
                )
            if isinstance(error, IntegrityError):
                raise
            # e.g. the pair left PAIRS or a limit changed since the signal arrived
            return self._finish(signal, REJECTED, str(error), None, mode=mode)
        size = float(params["position_size_zar"])
        leverage = float(params.get("leverage", 1.0))
        if result.get("success"):
            reason = f"opened at {result.get('entry_price')}"
            status = EXECUTED
        elif result.get("position_id") and result.get("status") != "FAILED":
            status = EXECUTED  # the order went out; its answer is pending (reconcile settles)
            reason = str(result.get("reason"))
        else:
            status = REJECTED
            reason = str(result.get("reason"))
        return self._finish(
            signal,
            status,
            reason,
            result.get("position_id"),
            size=size,
            leverage=leverage,
            violated=tuple(result.get("violated_limits") or ()),
            mode=str(result.get("mode") or mode),
        )

    def _finish(
        self,
        signal: dict[str, Any],
        status: str,
        reason: str,
        position_id: int | None,
        **figures: Any,
    ) -> SignalOutcome:
        """``_settle`` in a write transaction of its own."""
        with self._db.write() as session:
            return self._settle(session, signal, status, reason, position_id, **figures)

    def _settle(
        self,
        session: Session,
        signal: dict[str, Any],
        status: str,
        reason: str,
        position_id: int | None,
        *,
        size: float | None = None,
        leverage: float | None = None,
        violated: tuple[str, ...] = (),
        mode: str = "",
    ) -> SignalOutcome:
        """The signal's outcome (status, reason, position) and its decision line, written in
        the caller's transaction: its own (``_finish``) or the refusing decision's."""
        outcome = SignalOutcome(
            signal_id=signal["id"],
            pair=signal["pair"],
            side=signal["side"],
            status=status,
            reason=reason,
            position_id=position_id,
            position_size_zar=size,
            leverage=leverage,
            violated_limits=violated,
            mode=mode,
        )
        now = self._clock.now()
        settled = session.connection().execute(_SETTLE, settle_values(outcome, now))
        if settled.rowcount:  # not settled by another process meanwhile: one decision line
            decision_event(session, outcome, now)
        return outcome


def decision_event(session: Session, outcome: SignalOutcome, now: datetime) -> None:
    """The decision log line, in the events table too (``record_event`` also logs it)."""
    record_event(session, **decision_event_values(outcome, now))
