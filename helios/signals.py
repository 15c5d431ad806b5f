"""``hx.signals``: upstream signals in, and the trading loop that turns them into positions.

A signal is the upstream tiers' proposal: a pair, BUY or SELL, the ML model's predicted return
and confidence, the LLM tier's approval and its reasoning, optional trade parameters, when it was
made and when it expires. Every way in (``hx.signals.submit`` for Python, ``helios signal`` on
the command line, the demo generator, later the REST API) goes through ``parse_signal``, so a
signal is validated the same way whoever sends it, and every signal that arrives is stored, the
refused ones with their reason:

- malformed (a field missing or out of range): REJECTED, the field named; ``submit`` raises
  ``SignalRejected`` (an ``InvalidInput``) after storing it;
- not approved by the LLM tier, expired before it arrived, or a duplicate of an accepted signal
  (same ``dedup_key``): REJECTED with the reason, returned as a receipt;
- otherwise PENDING, until the trading loop (``process_pending``, the scheduler's ``trading``
  job) takes it: sized by ``hx.risk.size_position`` unless the signal names its own size,
  risk-checked and opened by ``hx.positions.open_position``; it ends EXECUTED (with the
  position), REJECTED (with the risk checks' reason) or EXPIRED.

A signal opens at most one position: ``positions.signal_id`` is unique, so a crash or a second
process can never open a second position for it, and a signal found PENDING with a position
(a crash between the two writes) is marked EXECUTED on the next pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Position, Signal
from helios.errors import Fenced, InvalidInput
from helios.events import record_event
from helios.market.store import MarketData
from helios.positions.manager import PositionManager
from helios.risk.service import RiskManager
from helios.text import clean_text, hostile_character
from helios.trade import KNOWN_PARAMS, TradeParams, parse_side
from helios.trading_state import TradingState

log = logging.getLogger("helios.signals")

PENDING, EXECUTED, REJECTED, EXPIRED = "PENDING", "EXECUTED", "REJECTED", "EXPIRED"
STATUSES = (PENDING, EXECUTED, REJECTED, EXPIRED)
SIGNAL_FIELDS = (
    "pair",
    "side",
    "confidence",
    "llm_approved",
    "llm_reasoning",
    "predicted_return",
    "trade_params",
    "created_at",
    "expires_at",
    "source",
    "dedup_key",
)
MAX_LIFETIME = timedelta(days=7)  # a signal is a view on the market now, not a standing order
CHECK_EVERY = 50  # signals between two leadership checks in one trading pass
MAX_FUTURE_SKEW = timedelta(seconds=60)  # a signal stamped later than this ahead is refused
MAX_TEXT = 5000


class SignalRejected(InvalidInput):
    """A malformed signal: stored as REJECTED (``signal_id``), nothing else changed."""

    def __init__(self, error: InvalidInput, signal_id: int | None) -> None:
        super().__init__(error.field, error.value, error.allowed)
        self.signal_id = signal_id


@dataclass(frozen=True)
class SignalInput:
    """A validated signal, ready to store."""

    pair: str
    side: str
    confidence: float
    llm_approved: bool
    llm_reasoning: str
    predicted_return: float | None
    trade_params: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime
    source: str
    dedup_key: str


@dataclass(frozen=True)
class SignalOutcome:
    """What the trading loop made of one signal (also one line of the decision log)."""

    signal_id: int
    pair: str
    side: str
    status: str
    reason: str
    position_id: int | None = None
    position_size_zar: float | None = None
    leverage: float | None = None
    violated_limits: tuple[str, ...] = ()
    mode: str = ""

    def log_line(self) -> str:
        size = (
            f"R{self.position_size_zar:,.2f} x{self.leverage:g}"
            if self.position_size_zar is not None and self.leverage is not None
            else "size -"
        )
        where = f" -> position {self.position_id}" if self.position_id else ""
        return (
            f"[{self.mode or '-'}] signal {self.signal_id} {self.pair} {self.side} {size}: "
            f"{self.status}{where}: {self.reason}"
        )


# --- validation ---------------------------------------------------------------------------
def _finite(raw: Mapping[str, Any], key: str, low: float, high: float, allowed: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidInput(key, value, allowed)
    try:
        number = float(value)
    except (ValueError, OverflowError):  # 10**400 does not fit a float
        raise InvalidInput(key, value, allowed) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(key, value, allowed)
    return number


def _text(raw: Mapping[str, Any], key: str, default: str, limit: int, required: bool) -> str:
    value = raw.get(key, default)
    if value is None:
        value = default
    allowed = (
        f"a text of {'1' if required else '0'} to {limit} characters, without control "
        "characters, unpaired surrogates or bidi overrides"
    )
    if (
        not isinstance(value, str)
        or len(value) > limit
        or (required and not value.strip())
        or hostile_character(value) is not None  # helios.text: refused, not altered
    ):
        raise InvalidInput(key, value, allowed)
    return value.strip() if required else value


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    allowed = "a time with its zone (ISO 8601, e.g. 2026-11-26T08:00:00Z)"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(key, raw.get(key), allowed) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(key, raw.get(key), allowed)
    return ensure_utc(value)


def _approval(raw: Mapping[str, Any]) -> bool:
    value = raw.get("llm_approved")
    if not isinstance(value, bool):
        raise InvalidInput("llm_approved", value, "true or false (the LLM tier's approval)")
    return value


def parse_signal(
    raw: Any, settings: Settings, market: MarketData, now: datetime, max_leverage: float
) -> SignalInput:
    """Validate a signal (a mapping of ``SIGNAL_FIELDS``); raises InvalidInput naming the field,
    the value and what is allowed. Unknown keys are refused so a typo is never ignored."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("signal", raw, "a mapping of " + ", ".join(SIGNAL_FIELDS))
    unknown = sorted(str(key) for key in raw if key not in SIGNAL_FIELDS)
    if unknown:
        raise InvalidInput("signal", unknown, "keys among " + ", ".join(SIGNAL_FIELDS))
    pair = market.check_pair(raw.get("pair"))
    side = parse_side(raw.get("side"), "side")
    confidence = _finite(raw, "confidence", 0.0, 1.0, "a number from 0 to 1 (the ML confidence)")
    approved = _approval(raw)
    reasoning = _text(raw, "llm_reasoning", "", MAX_TEXT, required=False)
    predicted = (
        None
        if raw.get("predicted_return") is None
        else _finite(
            raw,
            "predicted_return",
            -1.0,
            10.0,
            "a fraction from -1 to 10 (0.03 means +3% expected)",
        )
    )
    params = raw.get("trade_params")
    if params is not None:
        if not isinstance(params, Mapping):
            raise InvalidInput("trade_params", params, "a mapping of " + ", ".join(KNOWN_PARAMS))
        params = dict(params)
        # the ranges of every key; the size may be left to the sizing rule
        probe = dict(params)
        if probe.get("position_size_zar") is None:
            probe["position_size_zar"] = 1
        TradeParams.parse(probe, settings, max_leverage, side)
        params = {key: float(value) for key, value in params.items() if value is not None}
    created = _time(raw, "created_at") or now
    if created > now + MAX_FUTURE_SKEW:
        raise InvalidInput(
            "created_at",
            raw.get("created_at"),
            f"not later than {MAX_FUTURE_SKEW.seconds} s after now ({now.isoformat()})",
        )
    expires = _time(raw, "expires_at") or created + timedelta(
        seconds=settings.signal_expiry_seconds
    )
    if expires <= created or expires > created + MAX_LIFETIME:
        raise InvalidInput(
            "expires_at",
            raw.get("expires_at"),
            f"later than created_at and at most {MAX_LIFETIME.days} days after it",
        )
    source = _text(raw, "source", "python", 40, required=True)
    dedup = _text(raw, "dedup_key", "", 120, required=False).strip()
    if not dedup:  # the same content from the same source at the same time is a resend
        content = json.dumps([confidence, predicted, params, approved], sort_keys=True)
        digest = hashlib.sha256(content.encode()).hexdigest()[:12]
        dedup = f"{source[:30]}:{pair}:{side}:{created.isoformat()}:{digest}"[:120]
    return SignalInput(
        pair=pair,
        side=side,
        confidence=confidence,
        llm_approved=approved,
        llm_reasoning=reasoning,
        predicted_return=predicted,
        trade_params=params,
        created_at=created,
        expires_at=expires,
        source=source,
        dedup_key=dedup,
    )


def _jsonable(value: Any, depth: int = 0) -> Any:
    """What was sent, as JSON, bounded (a malformed payload is kept for the audit)."""
    if depth > 4:
        return repr(value)[:200]
    if value is None or isinstance(value, bool | int | str):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k)[:60]: _jsonable(v, depth + 1) for k, v in list(value.items())[:40]}
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in list(value)[:40]]
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)[:200]


def _or_none(check: Any) -> Any:
    try:
        return check()
    except (InvalidInput, ValueError, TypeError):
        return None


# --- the service --------------------------------------------------------------------------
class Signals:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        risk: RiskManager,
        positions: PositionManager,
        controls: TradingState,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._risk = risk
        self._positions = positions
        self._controls = controls

    # --- intake -------------------------------------------------------------------------
    def submit(
        self,
        pair: Any,
        side: Any,
        confidence: Any,
        llm_approved: Any,
        *,
        llm_reasoning: Any = "",
        predicted_return: Any = None,
        trade_params: Any = None,
        created_at: Any = None,
        expires_at: Any = None,
        source: Any = "python",
        dedup_key: Any = None,
    ) -> dict[str, Any]:
        """Store one signal for the trading loop. Returns a receipt: ``accepted``,
        ``signal_id``, ``status`` (PENDING or REJECTED) and ``reason``. Malformed input raises
        ``SignalRejected`` naming the field (the refusal is stored too)."""
        return self.submit_raw(
            {
                "pair": pair,
                "side": side,
                "confidence": confidence,
                "llm_approved": llm_approved,
                "llm_reasoning": llm_reasoning,
                "predicted_return": predicted_return,
                "trade_params": trade_params,
                "created_at": created_at,
                "expires_at": expires_at,
                "source": source,
                "dedup_key": dedup_key,
            }
        )

    def submit_raw(self, raw: Any) -> dict[str, Any]:
        """``submit`` for a mapping (the REST API's body, a CLI's arguments)."""
        now = self._clock.now()
        try:
            parsed = parse_signal(raw, self._settings, self._market, now, self._max_leverage())
        except InvalidInput as error:
            signal_id = self._store_malformed(raw, error, now)
            log.warning("signal refused (malformed): %s", error)
            raise SignalRejected(error, signal_id) from None
        refusal = ""
        if not parsed.llm_approved:
            refusal = "not approved by the LLM tier" + (
                f": {parsed.llm_reasoning}" if parsed.llm_reasoning else ""
            )
        elif parsed.expires_at <= now:
            refusal = f"expired at {parsed.expires_at.isoformat()}, before it arrived"
        receipt = self._store(parsed, now, refusal)
        log.info(
            "signal %s %s %s confidence %.2f from %s: %s%s",
            receipt["signal_id"],
            parsed.pair,
            parsed.side,
            parsed.confidence,
            parsed.source,
            receipt["status"],
            f" ({receipt['reason']})" if receipt["reason"] else "",
        )
        return receipt

    def _max_leverage(self) -> float:
        return float(self._risk.get_limits().max_leverage)

    def _row(self, parsed: SignalInput, now: datetime, status: str, reason: str) -> Signal:
        return Signal(
            dedup_key=parsed.dedup_key if status == PENDING else None,
            pair=parsed.pair,
            side=parsed.side,
            predicted_return=(
                Decimal(repr(parsed.predicted_return))
                if parsed.predicted_return is not None
                else None
            ),
            confidence=Decimal(repr(parsed.confidence)),
            llm_approved=parsed.llm_approved,
            llm_reasoning=parsed.llm_reasoning,
            trade_params=parsed.trade_params,
            source=parsed.source,
            created_at=parsed.created_at,
            expires_at=parsed.expires_at,
            received_at=now,
            status=status,
            status_reason=reason,
            processed_at=now if status != PENDING else None,
            payload={"dedup_key": parsed.dedup_key},
        )

    def _store(self, parsed: SignalInput, now: datetime, refusal: str) -> dict[str, Any]:
        if refusal:
            with self._db.write() as session:
                row = self._row(parsed, now, REJECTED, refusal)
                session.add(row)
                session.flush()
                return _receipt(row)
        try:
            with self._db.write() as session:
                row = self._row(parsed, now, PENDING, "")
                session.add(row)
                session.flush()
                return _receipt(row)
        except IntegrityError:  # the dedup key is taken: a duplicate
            with self._db.write() as session:
                first = session.scalars(
                    select(Signal.id).where(Signal.dedup_key == parsed.dedup_key)
                ).first()
                row = self._row(
                    parsed,
                    now,
                    REJECTED,
                    f"duplicate of signal {first} (dedup_key {parsed.dedup_key!r})",
                )
                session.add(row)
                session.flush()
                return _receipt(row)

    def _store_malformed(self, raw: Any, error: InvalidInput, now: datetime) -> int | None:
        fields = raw if isinstance(raw, Mapping) else {}
        source = fields.get("source")
        row = Signal(
            dedup_key=None,
            pair=_or_none(lambda: self._market.check_pair(fields.get("pair"))),
            side=_or_none(lambda: parse_side(fields.get("side"), "side")),
            llm_reasoning="",
            source=(clean_text(source, limit=40) or "?") if isinstance(source, str) else "?",
            created_at=now,
            received_at=now,
            status=REJECTED,
            status_reason=f"malformed: {error}"[:MAX_TEXT],
            processed_at=now,
            payload={"sent": _jsonable(raw), "field": error.field},
        )
        try:
            with self._db.write() as session:
                session.add(row)
                session.flush()
                return row.id
        except Exception:  # the refusal stands even if its record cannot be written
            log.exception("could not store a malformed signal")
            return None

    # --- queries ------------------------------------------------------------------------
    def get(self, signal_id: int) -> dict[str, Any]:
        with self._db.read() as session:
            row = session.get(Signal, signal_id)
            if row is None:
                raise InvalidInput("signal_id", signal_id, "the id of a stored signal")
            return _as_dict(row)

    def recent(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", status, "one of " + ", ".join(STATUSES))
        query = select(Signal).order_by(Signal.id.desc()).limit(limit)
        if status:
            query = query.where(Signal.status == status)
        with self._db.read() as session:
            return [_as_dict(row) for row in session.scalars(query)]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self._db.read() as session:
            rows = session.execute(select(Signal.status, func.count()).group_by(Signal.status))
            return {status: int(n) for status, n in rows}

    # --- the trading loop ---------------------------------------------------------------
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
        halt = self._controls.halt_state()
        mode = self._mode()
        with self._db.write() as session:
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
                    pending.append(_as_dict(signal))
                    continue
                signal.status, signal.status_reason = status, reason[:MAX_TEXT]
                signal.position_id, signal.processed_at = position_id, now
                outcome = SignalOutcome(
                    signal.id, signal.pair or "?", signal.side or "?", status, reason, position_id
                )
                outcome = replace(outcome, mode=mode)
                _decision_event(session, outcome, now)
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
            result = self._positions.open_position(
                pair,
                side,
                params,
                signal["llm_reasoning"] or "",
                signal_id=signal_id,
                sizing=sizing,
            )
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

    def _mode(self) -> str:
        return self._controls.trading_mode().value

    def _finish(
        self,
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
        with self._db.write() as session:
            session.execute(
                update(Signal)
                .where(Signal.id == signal["id"], Signal.status == PENDING)
                .values(
                    status=status,
                    status_reason=reason[:MAX_TEXT],
                    position_id=position_id,
                    processed_at=now,
                )
            )
            _decision_event(session, outcome, now)
        return outcome


def _decision_event(session: Session, outcome: SignalOutcome, now: datetime) -> None:
    """The decision log line, in the events table too (``record_event`` also logs it)."""
    record_event(
        session,
        ts=now,
        kind=f"SIGNAL_{outcome.status}",
        severity="INFO",
        actor="trading-loop",
        message=outcome.log_line()[:2000],
        details={
            "signal_id": outcome.signal_id,
            "position_id": outcome.position_id,
            "violated_limits": list(outcome.violated_limits),
            "mode": outcome.mode,
        },
    )


def _receipt(row: Signal) -> dict[str, Any]:
    return {
        "accepted": row.status == PENDING,
        "signal_id": row.id,
        "status": row.status,
        "reason": row.status_reason,
    }


def _as_dict(row: Signal) -> dict[str, Any]:
    return {
        "id": row.id,
        "pair": row.pair,
        "side": row.side,
        "confidence": float(row.confidence) if row.confidence is not None else None,
        "predicted_return": (
            float(row.predicted_return) if row.predicted_return is not None else None
        ),
        "llm_approved": row.llm_approved,
        "llm_reasoning": row.llm_reasoning,
        "trade_params": row.trade_params,
        "source": row.source,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "received_at": row.received_at,
        "status": row.status,
        "status_reason": row.status_reason,
        "position_id": row.position_id,
        "processed_at": row.processed_at,
        "dedup_key": row.dedup_key,
        "payload": row.payload,
    }
