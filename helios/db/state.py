"""State changes as conditional updates: exactly one process wins (DESIGN.md, "Single source of
truth").

Two processes may try to move the same row at once (the scheduler's stop monitor and a person on
the dashboard both closing one position). Reading the status and then writing the new one lets
both "win"; one ``UPDATE ... SET status = 'CLOSING' WHERE id = :id AND status = 'OPEN'`` does
not: the database applies it to the row once, and every other caller sees zero rows changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session


def transition(
    session: Session,
    model: Any,
    row_id: int,
    *,
    from_status: str | Iterable[str],
    to_status: str,
    **values: Any,
) -> bool:
    """Move row ``row_id`` of ``model`` from ``from_status`` (one or several) to ``to_status``,
    setting ``values`` too, in one conditional UPDATE. True if this caller made the change;
    False if the row was not in ``from_status`` (someone else moved it first, or it is gone).

    Runs in the caller's transaction: commit (leave ``db.write()``) to make the win visible.
    """
    allowed = [from_status] if isinstance(from_status, str) else list(from_status)
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_(allowed))
        .values(status=to_status, **values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
