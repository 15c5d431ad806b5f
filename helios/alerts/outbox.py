"""The alert outbox (L1): an alert is written in the transaction of the event that causes it.

``install`` hooks the outbox into a ``Database``'s write sessions: after every flush, each new
``Event`` and ``PositionEvent`` is mapped by the pure ``helios.alerts.rules`` and the alerts it
gives are inserted in the same transaction, with one PENDING delivery per configured channel.
So an alert exists exactly when its event does: a transaction that rolls back leaves neither,
and nothing the caller does is delayed by a channel (the sender, ``helios.alerts.sender``,
delivers later, from any process).

``record`` is the one write: ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``, so the same alert
recorded twice (two processes, a replay, a restart) is queued once and never fails the
transaction that causes it. Recording adds one statement to that transaction on PostgreSQL (the
alert and its deliveries together), two on SQLite, each built once (bench:
``bench/bench_alerts.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from helios.alerts.rules import Alert, Policy, from_event, from_position_event
from helios.db.engine import Database
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertDelivery, Event, PositionEvent

log = logging.getLogger("helios.alerts")
PENDING, SENT = "PENDING", "SENT"
_TABLE = AlertRow.__table__
_DELIVERIES = AlertDelivery.__table__


def _statements() -> tuple[dict[str, Any], Any, Any]:
    """The outbox's statements, built once (values bound at execution: no statement is built,
    coerced or cache-keyed per alert, half of what recording cost on SQLite)."""
    alert_insert = {
        name: builder(_TABLE)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(_TABLE.c.id)
        for name, builder in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
    }
    # PostgreSQL: the alert and its deliveries in one statement (one round trip, not two): the
    # alert inserted in a CTE whose RETURNING id feeds the deliveries over unnest(:channels)
    new_alert = (
        alert_insert["postgresql"]
        .values({c: bindparam(c, type_=_TABLE.c[c].type) for c in COLUMNS})
        .cte("new_alert")
    )
    channel = (
        func.unnest(bindparam("channels", type_=ARRAY(String)))
        .table_valued("channel")
        .render_derived(name="c")
    )
    together = (
        insert(_DELIVERIES)
        .from_select(
            ["alert_id", "channel", "status", "attempts"],
            select(new_alert.c.id, channel.c.channel, literal(PENDING), literal(0))
            .select_from(new_alert)
            .join(channel, true()),
        )
        .returning(_DELIVERIES.c.alert_id)
    )
    return alert_insert, insert(_DELIVERIES), together


COLUMNS = (
    "created_at", "severity", "kind", "title", "body", "figures", "dedup_key",
    "attachment_name", "attachment",
)  # fmt: skip
_ALERT, _DELIVERY, _TOGETHER = _statements()


def record(
    session: Session,
    alert: Alert,
    channels: Sequence[str],
    now: datetime,
    sent: Sequence[str] = (),
) -> int | None:
    """Queue ``alert`` for ``channels`` in the caller's transaction; its id, or None when an
    alert with its dedup key is already queued (nothing is written then). ``sent``: channels
    that already have it (told while the database was away), recorded SENT."""
    values = {
        "created_at": now,
        "severity": alert.severity.value,
        "kind": alert.kind[:40],
        "title": alert.title,
        "body": alert.body,
        "figures": dict(alert.figures) if alert.figures else None,
        "dedup_key": alert.dedup_key[:200],
        "attachment_name": alert.attachment_name,
        "attachment": alert.attachment,
    }
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql" and channels and not sent:
        found = connection.execute(_TOGETHER, {**values, "channels": list(channels)}).first()
        return None if found is None else int(found[0])
    alert_id = connection.execute(_ALERT[dialect], values).scalar()
    if alert_id is None:
        return None
    if channels:
        connection.execute(
            _DELIVERY,
            [
                {
                    "alert_id": alert_id,
                    "channel": channel,
                    "status": SENT if channel in sent else PENDING,
                    "attempts": 1 if channel in sent else 0,
                    "sent_at": now if channel in sent else None,
                }
                for channel in channels
            ],
        )
    return int(alert_id)


def alerts_of(session: Session, policy: Policy) -> list[tuple[Alert, datetime]]:
    """The alerts the objects this flush added become (their events, mapped by the rules)."""
    found: list[tuple[Alert, datetime]] = []
    for obj in session.new:
        alert = None
        if isinstance(obj, Event):
            alert = from_event(
                obj.kind, obj.severity, obj.message, obj.actor, obj.details, obj.ts, policy
            )
        elif isinstance(obj, PositionEvent):
            alert = from_position_event(
                obj.position_id, obj.kind, obj.message, obj.details, obj.ts, policy
            )
        if alert is not None:
            found.append((alert, obj.ts))
    return found


def install(db: Database, policy: Policy, channels: Callable[[], Sequence[str]]) -> None:
    """Queue the alerts of every event written through ``db`` in the same transaction."""

    def after_flush(session: Session) -> None:
        for alert, ts in alerts_of(session, policy):
            record(session, alert, channels(), ts)

    db.on_flush(after_flush)
