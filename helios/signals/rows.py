"""A signal's records as values: the row it is stored as, its outcome, and the decision line.

The rule: what a signal leaves in the database is built here, by pure functions of the parsed
signal, the instant and the outcome, and the services write what these return (the intake
``signal_row``; the trading loop ``settle_values`` and ``decision_event_values``). One place
says what a signal's records hold, so a second writer (a replay that decides from a book held in
memory and writes its records behind, ``docs/replay.md``, step 1 of "What meeting it takes")
writes the same rows the live services write, not a copy of them.

- ``signal_row``: the ``signals`` columns of an arrival. A PENDING signal keeps its
  ``dedup_key`` (the unique index makes a second arrival of it a duplicate) also once the loop
  settles it; a signal refused on arrival has none (it blocks nothing) and is processed then.
- ``settle_values``: a pending signal's outcome (status, reason cut to ``MAX_TEXT``, position,
  when), the parameters of the trading loop's conditional update; ``settled_row``: a row with
  that outcome applied (a writer that stores the settled row at once).
- ``decision_event_values``: the decision line (``SignalOutcome.log_line``) as the event the
  events table keeps beside the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from helios.signals.validation import MAX_TEXT, SignalInput

PENDING, EXECUTED, REJECTED, EXPIRED = "PENDING", "EXECUTED", "REJECTED", "EXPIRED"
STATUSES = (PENDING, EXECUTED, REJECTED, EXPIRED)
DECISION_ACTOR = "trading-loop"
MAX_EVENT_MESSAGE = 2000


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


def signal_row(parsed: SignalInput, now: datetime, status: str, reason: str) -> dict[str, Any]:
    """The ``signals`` columns of a well-formed signal that arrived at ``now`` with ``status``
    (PENDING, or REJECTED with ``reason``)."""
    if status not in STATUSES:
        raise ValueError(f"status={status!r}: one of {STATUSES}")
    return {
        "dedup_key": parsed.dedup_key if status == PENDING else None,
        "pair": parsed.pair,
        "side": parsed.side,
        "predicted_return": (
            Decimal(repr(parsed.predicted_return)) if parsed.predicted_return is not None else None
        ),
        "confidence": Decimal(repr(parsed.confidence)),
        "llm_approved": parsed.llm_approved,
        "llm_reasoning": parsed.llm_reasoning,
        "trade_params": parsed.trade_params,
        "source": parsed.source,
        "created_at": parsed.created_at,
        "expires_at": parsed.expires_at,
        "received_at": now,
        "status": status,
        "status_reason": reason,
        "processed_at": now if status != PENDING else None,
        "payload": {"dedup_key": parsed.dedup_key},
    }


def settle_values(outcome: SignalOutcome, now: datetime) -> dict[str, Any]:
    """The parameters of the trading loop's settle (``signal_id`` and the ``new_*`` values)."""
    return {
        "signal_id": outcome.signal_id,
        "new_status": outcome.status,
        "new_reason": outcome.reason[:MAX_TEXT],
        "new_position_id": outcome.position_id,
        "new_processed_at": now,
    }


def settled_row(row: dict[str, Any], outcome: SignalOutcome, now: datetime) -> dict[str, Any]:
    """A stored signal's ``row`` once the trading loop settled it with ``outcome`` at ``now``
    (what ``settle_values``' update leaves: the row written settled in one go)."""
    values = settle_values(outcome, now)
    return {
        **row,
        "status": values["new_status"],
        "status_reason": values["new_reason"],
        "position_id": values["new_position_id"],
        "processed_at": values["new_processed_at"],
    }


def decision_event_values(outcome: SignalOutcome, now: datetime) -> dict[str, Any]:
    """The decision line as an event (``helios.events.record_event``'s fields)."""
    return {
        "ts": now,
        "kind": f"SIGNAL_{outcome.status}",
        "severity": "INFO",
        "actor": DECISION_ACTOR,
        "message": outcome.log_line()[:MAX_EVENT_MESSAGE],
        "details": {
            "signal_id": outcome.signal_id,
            "position_id": outcome.position_id,
            "violated_limits": list(outcome.violated_limits),
            "mode": outcome.mode,
        },
    }
