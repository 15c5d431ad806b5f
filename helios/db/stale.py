"""Objects a Core statement changed behind the session's back are expired, not left stale.

The hot writes (candles, the latest price) run as Core statements for speed (issue 19: a replay
writes every bar); an ORM object of a row they changed that the session already holds is expired,
so the session reads the row again instead of answering with what it loaded before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session


def expire_stale(session: Session, model: type[Any], keys: Iterable[Any]) -> None:
    """Expire the objects of ``model`` with these primary keys that ``session`` holds."""
    identity_map = session.identity_map
    if not len(identity_map):
        return
    for key in keys:
        held = identity_map.get(session.identity_key(model, key))  # type: ignore[arg-type]
        if held is not None:
            session.expire(held)


def expire_where(
    session: Session, model: type[Any], match: Callable[[dict[str, Any]], bool]
) -> None:
    """Expire the objects of ``model`` that ``session`` holds and ``match`` picks from their
    loaded values (rows a statement changed by a key other than the primary key; an object
    already expired is left as it is, nothing is loaded to decide)."""
    if not len(session.identity_map):
        return
    for held in list(session.identity_map.values()):
        if isinstance(held, model) and match(inspect(held).dict):
            session.expire(held)
