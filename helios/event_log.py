"""``hx.events``: the event log, filtered, searched and paged in SQL.

``EventFilter`` (frozen, checked when made: a bad value raises ``InvalidInput`` naming the field,
the value and the allowed range) says what to list:

- ``kinds`` / ``severities``: any of these (empty: all);
- ``pair``: events that name the pair (its code in the message or in the details, the way the
  system events carry it: the ``events`` table has no pair column);
- ``who``: the actor contains this text, case-insensitive (``api:`` finds every API caller);
- ``text``: the message, the kind or the actor contains this text, case-insensitive (``%`` and
  ``_`` are plain characters here);
- ``page`` (from 1) and ``page_size`` (1 to ``MAX_PAGE_SIZE``: ``helios.paging``).

``EventLog.query`` answers one page, newest first, with the total that match (one COUNT and one
LIMIT/OFFSET select over the same WHERE clause). ``kinds()`` and ``actors()`` give the values
present, for the filter's choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select

from helios.db.engine import Database
from helios.db.models import Event
from helios.errors import InvalidInput
from helios.events import SEVERITIES, event_row
from helios.paging import check_page, offset, page_count

MAX_TEXT = 200


def _texts(name: str, values: Any) -> None:
    if not isinstance(values, tuple) or not all(isinstance(v, str) and v for v in values):
        raise InvalidInput(name, values, "a tuple of non-empty strings")


def _optional_text(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
        raise InvalidInput(name, value, f"None or text of at most {MAX_TEXT} characters")


@dataclass(frozen=True)
class EventFilter:
    """Which events to list (module docstring)."""

    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    pair: str | None = None
    who: str | None = None
    text: str | None = None
    page: int = 1
    page_size: int = 50

    def __post_init__(self) -> None:
        check_page(self.page, self.page_size)
        _texts("kinds", self.kinds)
        _texts("severities", self.severities)
        for severity in self.severities:
            if severity not in SEVERITIES:
                raise InvalidInput("severities", severity, f"one of {', '.join(SEVERITIES)}")
        for name in ("pair", "who", "text"):
            _optional_text(name, getattr(self, name))

    @property
    def offset(self) -> int:
        return offset(self.page, self.page_size)


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, and how many match the filter."""

    events: tuple[dict[str, Any], ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return column.icontains(text, autoescape=True)  # type: ignore[no-any-return]


class EventLog:
    def __init__(self, db: Database, pairs: Sequence[str]) -> None:
        self._db = db
        self._pairs = tuple(pairs)

    def _where(self, wanted: EventFilter) -> list[ColumnElement[bool]]:
        if not isinstance(wanted, EventFilter):
            raise InvalidInput("filter", wanted, "an EventFilter")
        clauses: list[ColumnElement[bool]] = []
        if wanted.kinds:
            clauses.append(Event.kind.in_(wanted.kinds))
        if wanted.severities:
            clauses.append(Event.severity.in_(wanted.severities))
        if wanted.pair:
            pair = wanted.pair.strip().upper()
            if pair not in self._pairs:
                raise InvalidInput("pair", wanted.pair, f"one of {', '.join(self._pairs)}")
            details = cast(Event.details, String)
            clauses.append(or_(_contains(Event.message, pair), _contains(details, pair)))
        if wanted.who and wanted.who.strip():
            clauses.append(_contains(Event.actor, wanted.who.strip()))
        if wanted.text and wanted.text.strip():
            text = wanted.text.strip()
            clauses.append(
                or_(
                    _contains(Event.message, text),
                    _contains(Event.kind, text),
                    _contains(Event.actor, text),
                )
            )
        return clauses

    def query(self, wanted: EventFilter) -> EventPage:
        """One page of the events matching ``wanted``, newest first, with their total."""
        where = self._where(wanted)
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(Event).where(*where)) or 0
            rows = session.scalars(
                select(Event)
                .where(*where)
                .order_by(Event.id.desc())
                .limit(wanted.page_size)
                .offset(wanted.offset)
            ).all()
            events = tuple(event_row(e) for e in rows)
        return EventPage(events, int(total), wanted.page, wanted.page_size)

    def kinds(self) -> list[str]:
        """Every event kind recorded, sorted (the filter's choices)."""
        with self._db.read() as session:
            return sorted(session.scalars(select(Event.kind).distinct()))

    def actors(self) -> list[str]:
        """Everyone who has an event, sorted."""
        with self._db.read() as session:
            return sorted(session.scalars(select(Event.actor).distinct()))
