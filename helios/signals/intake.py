"""Signal intake: every signal that arrives is stored, the refused ones with their reason.

- malformed (``parse_signal`` refuses a field): stored REJECTED with what was sent (bounded, for
  the audit) and the field; ``SignalRejected`` is raised after storing it (the refusal stands
  even if its record cannot be written);
- not approved by the LLM tier, or expired before it arrived: stored REJECTED with the reason;
- a duplicate (its ``dedup_key`` taken by a PENDING signal, the unique index decides, so two
  processes cannot both accept it): stored REJECTED naming the first;
- otherwise stored PENDING for the trading loop. The sender gets a receipt either way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Signal
from helios.errors import InvalidInput
from helios.signals.records import PENDING, REJECTED, receipt
from helios.signals.rows import signal_row
from helios.signals.validation import (
    MAX_TEXT,
    PairChecker,
    SignalInput,
    SignalRejected,
    parse_signal,
)
from helios.text import clean_text
from helios.trade import parse_side

log = logging.getLogger("helios.signals")


def refusal(parsed: SignalInput, now: datetime) -> str:
    """Why a well-formed signal is refused on arrival ("" when it is not): not approved by the
    LLM tier, or already expired."""
    if not parsed.llm_approved:
        return "not approved by the LLM tier" + (
            f": {parsed.llm_reasoning}" if parsed.llm_reasoning else ""
        )
    if parsed.expires_at <= now:
        return f"expired at {parsed.expires_at.isoformat()}, before it arrived"
    return ""


def log_arrival(signal_id: int | None, parsed: SignalInput, status: str, reason: str) -> None:
    """The log line of a stored arrival."""
    log.info(
        "signal %s %s %s confidence %.2f from %s: %s%s",
        signal_id,
        parsed.pair,
        parsed.side,
        parsed.confidence,
        parsed.source,
        status,
        f" ({reason})" if reason else "",
    )


def jsonable(value: Any, depth: int = 0) -> Any:
    """What was sent, as JSON, bounded (a malformed payload is kept for the audit)."""
    if depth > 4:
        return repr(value)[:200]
    if value is None or isinstance(value, bool | int | str):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k)[:60]: jsonable(v, depth + 1) for k, v in list(value.items())[:40]}
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in list(value)[:40]]
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)[:200]


def _or_none(check: Any) -> Any:
    try:
        return check()
    except (InvalidInput, ValueError, TypeError):
        return None


class SignalIntake:
    """Validates (``parse_signal``) and stores each arriving signal; ``max_leverage`` reads the
    current risk limit (trade parameters are checked against it)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: PairChecker,
        max_leverage: Callable[[], float],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._max_leverage = max_leverage

    def submit_raw(self, raw: Any) -> dict[str, Any]:
        now = self._clock.now()
        try:
            parsed = parse_signal(raw, self._settings, self._market, now, self._max_leverage())
        except InvalidInput as error:
            signal_id = self._store_malformed(raw, error, now)
            log.warning("signal refused (malformed): %s", error)
            raise SignalRejected(error, signal_id) from None
        stored = self._store(parsed, now, refusal(parsed, now))
        log_arrival(stored["signal_id"], parsed, stored["status"], stored["reason"])
        return stored

    def _row(self, parsed: SignalInput, now: datetime, status: str, reason: str) -> Signal:
        return Signal(**signal_row(parsed, now, status, reason))

    def _store(self, parsed: SignalInput, now: datetime, refused: str) -> dict[str, Any]:
        if refused:
            with self._db.write() as session:
                row = self._row(parsed, now, REJECTED, refused)
                session.add(row)
                session.flush()
                return receipt(row)
        try:
            with self._db.write() as session:
                row = self._row(parsed, now, PENDING, "")
                session.add(row)
                session.flush()
                return receipt(row)
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
                return receipt(row)

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
            payload={"sent": jsonable(raw), "field": error.field},
        )
        try:
            with self._db.write() as session:
                session.add(row)
                session.flush()
                return row.id
        except Exception:  # the refusal stands even if its record cannot be written
            log.exception("could not store a malformed signal")
            return None
