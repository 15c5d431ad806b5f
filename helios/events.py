"""The event log: mode changes, halts, emergency actions, errors. Written in the caller's
transaction so an event exists exactly when the change it describes does."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helios.db.models import Event

log = logging.getLogger("helios.events")

SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
# An exchange call that failed (an order that could not be sent, a market-data call to the
# exchange that failed). The halt watchdog counts them (``helios.halts``).
EXCHANGE_ERROR = "EXCHANGE_ERROR"


def event_values(
    *,
    ts: datetime,
    kind: str,
    message: str,
    actor: str,
    severity: str = "INFO",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``events`` columns of one event (pure: ``record_event`` writes them, and so may a
    writer that writes its records behind)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity={severity!r}: one of {SEVERITIES}")
    return {
        "ts": ts,
        "kind": kind,
        "severity": severity,
        "message": message,
        "actor": actor,
        "details": details,
    }


def record_event(
    session: Session,
    *,
    ts: datetime,
    kind: str,
    message: str,
    actor: str,
    severity: str = "INFO",
    details: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        **event_values(
            ts=ts, kind=kind, message=message, actor=actor, severity=severity, details=details
        )
    )
    session.add(event)
    session.flush()
    log_event({"kind": kind, "message": message, "actor": actor, "severity": severity})
    return event


def log_event(values: dict[str, Any]) -> None:
    """An event's log line (``event_values``' fields)."""
    log.log(
        getattr(logging, values["severity"]),
        "%s: %s (by %s)",
        values["kind"],
        values["message"],
        values["actor"],
    )


def event_row(event: Event) -> dict[str, Any]:
    """An event as the event logs list it (Controls page, API, ``hx.events.query``)."""
    return {
        "id": event.id,
        "ts": event.ts,
        "kind": event.kind,
        "severity": event.severity,
        "actor": event.actor,
        "message": event.message,
    }


def recent_events(session: Session, limit: int = 50, kind: str | None = None) -> list[Event]:
    query = select(Event).order_by(Event.id.desc()).limit(limit)
    if kind:
        query = query.where(Event.kind == kind)
    return list(session.scalars(query))


def record_exchange_error(db: Any, now: datetime, source: str, message: str) -> None:
    """Record a failed exchange call in its own transaction; never raises (the database may be
    what is failing: the log line stays)."""
    try:
        with db.write() as session:
            record_event(
                session,
                ts=now,
                kind=EXCHANGE_ERROR,
                severity="ERROR",
                actor=source,
                message=message[:2000],
            )
    except Exception:
        log.exception("could not record an exchange error (%s: %s)", source, message)
