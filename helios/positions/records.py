"""A position's records as every part of ``hx.positions`` writes and reads them.

- A position id is a whole number from 1 to 2**31 - 1 (the id column's range on PostgreSQL), so
  a larger one is refused with the field's name rather than by the database.
- Each step of a position's life is told as a ``PositionEvent`` (kind, message, details) in the
  same transaction as the change it describes, so its story never disagrees with its state.
- The holding time (and its 72-hour limit) runs from the venue's fill, also when the fill is
  recorded later (by ``reconcile`` after a crash).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.db.models import PositionEvent
from helios.errors import InvalidInput
from helios.exchange.base import OrderResult

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


def event(
    session: Session,
    position_id: int,
    now: datetime,
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one event to a position's story, in the caller's transaction."""
    session.add(
        PositionEvent(position_id=position_id, ts=now, kind=kind, message=message, details=details)
    )


def told(position: Any, **figures: str) -> dict[str, Any]:
    """What a step's event says of its position for the operator's alerts
    (``helios.alerts.rules``): the pair, side and mode, and the step's own figures as text."""
    return {"pair": position.pair, "side": position.side, "mode": position.mode, **figures}


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: Decimals as text, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def row(obj: Any) -> dict[str, Any]:
    """A model row as a JSON-friendly dict (Decimals as text, times in ISO 8601)."""
    return {column.key: jsonable(getattr(obj, column.key)) for column in obj.__table__.columns}


def fill_time(result: OrderResult, now: datetime) -> datetime:
    """When the venue filled the order: the position's holding time (and its 72-hour limit)
    runs from the fill, also when the fill is recorded later (by ``reconcile`` after a crash)."""
    if result.created_at is None:
        return now
    return min(ensure_utc(result.created_at), now)
