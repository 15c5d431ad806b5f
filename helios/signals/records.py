"""A stored signal: its statuses, the row as a dict, the receipt the sender gets, and the reads.

Every signal that arrives is a row of ``signals`` and keeps it: PENDING until the trading loop
takes it, then EXECUTED, REJECTED or EXPIRED (refusals at intake are REJECTED at once). The
receipt is what the sender is told (``accepted`` only when PENDING); ``as_dict`` is the one
shape a signal is read in (``hx.signals.get``/``recent``, the trading loop's input).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from helios.db.engine import Database
from helios.db.models import Signal
from helios.errors import InvalidInput
from helios.signals.rows import EXECUTED, EXPIRED, PENDING, REJECTED, STATUSES

__all__ = [
    "EXECUTED",
    "EXPIRED",
    "PENDING",
    "REJECTED",
    "STATUSES",
    "SignalReads",
    "as_dict",
    "receipt",
]


def receipt(row: Signal) -> dict[str, Any]:
    return {
        "accepted": row.status == PENDING,
        "signal_id": row.id,
        "status": row.status,
        "reason": row.status_reason,
    }


def as_dict(row: Signal) -> dict[str, Any]:
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


class SignalReads:
    """The stored signals, read: one by id, the latest (optionally of one status), the counts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, signal_id: int) -> dict[str, Any]:
        with self._db.read() as session:
            row = session.get(Signal, signal_id)
            if row is None:
                raise InvalidInput("signal_id", signal_id, "the id of a stored signal")
            return as_dict(row)

    def recent(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", status, "one of " + ", ".join(STATUSES))
        query = select(Signal).order_by(Signal.id.desc()).limit(limit)
        if status:
            query = query.where(Signal.status == status)
        with self._db.read() as session:
            return [as_dict(row) for row in session.scalars(query)]

    def counts(self) -> dict[str, int]:
        with self._db.read() as session:
            rows = session.execute(select(Signal.status, func.count()).group_by(Signal.status))
            return {status: int(n) for status, n in rows}
