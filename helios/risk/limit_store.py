"""The stored risk limits: versions, never edits (``risk_limit_versions``).

The rule: the limits in force are the newest version. A change never rewrites a version; it
stores the next one (validated against ``limit_rules``, with who, when and why) and records a
``LIMITS_CHANGED`` event, plus ``LIMITS_LOOSENED`` (a warning) when it allows more risk while
positions are open. So every decision can name the version it was judged under
(``risk_decisions.limits_version``) and the history explains every change. The first start
stores version 1 from the configuration (``seed_limits``).

``LimitStore`` is ``hx.risk.limit_store``: a service that only needs the limits in force (the
watchdog, the signals, the metrics) is given it instead of the whole ``hx.risk``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.orm import Session

from helios.accounts.account import MARGIN_HELD_STATUSES
from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Position, RiskLimitVersion
from helios.errors import InvalidInput
from helios.events import record_event
from helios.risk.limits import LIMIT_NAMES, RiskLimits, loosened, validate_changes

# The newest version, only the columns ``RiskLimits`` holds; built once (see ``statements``).
LIMITS_IN_FORCE = (
    select(
        *(getattr(RiskLimitVersion, name) for name in LIMIT_NAMES),
        RiskLimitVersion.version,
        RiskLimitVersion.changed_by,
        RiskLimitVersion.changed_at,
    )
    .order_by(RiskLimitVersion.version.desc())
    .limit(1)
)


class LimitStore:
    """The versions of the risk limits: the one in force, the history, a new version."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get_limits(self) -> RiskLimits:
        """The limits in force (the newest version)."""
        with self._db.read() as session:
            return limits_in_force(session)

    def limit_history(self) -> list[RiskLimits]:
        """Every version, newest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(RiskLimitVersion).order_by(RiskLimitVersion.version.desc())
            )
            return [limits_from_row(row) for row in rows]

    def update_limits(self, changes: dict[str, Any], changed_by: str, note: str = "") -> RiskLimits:
        """Store a new version with ``changes`` applied (validated), who and when.

        Loosening a limit while positions are open is allowed and recorded as an event.
        """
        clean = validate_changes(changes)
        if not isinstance(changed_by, str) or not changed_by.strip():
            raise InvalidInput("changed_by", changed_by, "who is making the change (non-empty)")
        now = self._clock.now()
        with self._db.write() as session:
            before = limits_in_force(session)
            after = RiskLimits.from_values({**before.values(), **clean})
            version = (before.version or 0) + 1
            session.add(limits_row(after, version, changed_by.strip(), now, note))
            changed = {
                k: [getattr(before, k), v] for k, v in clean.items() if getattr(before, k) != v
            }
            record_event(
                session,
                ts=now,
                kind="LIMITS_CHANGED",
                actor=changed_by,
                message=f"risk limits v{before.version} -> v{version}: "
                + ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changed.items()),
                details={"changes": changed, "note": note},
            )
            looser = loosened(before, after)
            open_count = session.scalar(
                select(func.count())
                .select_from(Position)
                .where(Position.status.in_(MARGIN_HELD_STATUSES))
            )
            if looser and open_count:
                record_event(
                    session,
                    ts=now,
                    kind="LIMITS_LOOSENED",
                    actor=changed_by,
                    severity="WARNING",
                    message=f"loosened {', '.join(looser)} with {open_count} open position(s)",
                    details={"limits": looser},
                )
        return replace(after, version=version, changed_by=changed_by.strip(), changed_at=now)


def seed_limits(session: Session, settings: Settings, now: datetime) -> bool:
    """First start: version 1 from configuration. True if seeded."""
    if session.scalar(select(func.count()).select_from(RiskLimitVersion)):
        return False
    limits = RiskLimits.from_values({name: getattr(settings, name) for name in LIMIT_NAMES})
    session.add(limits_row(limits, 1, "configuration", now, "first start"))
    session.flush()
    return True


def limits_in_force(db: Session | Connection) -> RiskLimits:
    """The newest version, read in the caller's transaction."""
    return limits_or_fail(db.execute(LIMITS_IN_FORCE).one_or_none())


def limits_or_fail(row: Row[Any] | None) -> RiskLimits:
    """A row holding the limit columns (``LIMITS_IN_FORCE`` or a statement joining it) as
    ``RiskLimits``; no version stored is an error (``connect()`` seeds version 1)."""
    if row is None or row.version is None:
        raise InvalidInput("risk_limits", None, "a stored version (connect() seeds version 1)")
    return limits_from_row(row)  # type: ignore[arg-type]  # a Row has the same attributes


def limits_row(
    limits: RiskLimits, version: int, by: str, now: datetime, note: str
) -> RiskLimitVersion:
    return RiskLimitVersion(
        version=version,
        changed_by=by,
        changed_at=now,
        note=note,
        **{name: Decimal(repr(getattr(limits, name))) for name in LIMIT_NAMES},
    )


def limits_from_row(row: RiskLimitVersion) -> RiskLimits:
    return RiskLimits(
        **{name: float(getattr(row, name)) for name in LIMIT_NAMES},
        version=row.version,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )
