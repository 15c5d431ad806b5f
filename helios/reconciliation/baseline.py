"""The stored baseline of a LIVE period, and the settings rows reconciliation keeps.

The **baseline** is VALR's balance of each currency (``total``: available + reserved) at the
first pass of a LIVE period, together with the id of the newest LIVE fill at that moment (the
settings row ``live_baseline_balances``, written once per LIVE period). A LIVE period is keyed
by the time the ``trading_mode`` row was switched to LIVE (``period``), so PAPER -> LIVE again
starts a new one and an old period's baseline or state is never read as the current one. The
baseline holds whatever the account had that is not ours (coins held before, say), so only our
own trading is expected to move it. It is taken only when nothing is in flight, so the fills
recorded by then are exactly those VALR has executed; a person may later accept VALR's balances
as the new baseline (``replace``), which clears the stored differences.

The last pass's result is the row ``live_reconcile_state`` (``helios.reconciliation.state``).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import TradingMode
from helios.db.engine import Database
from helios.db.models import Setting
from helios.events import record_event
from helios.reconciliation.compare import QUOTE, Baseline, Book, Venue, units_of
from helios.reconciliation.report import ReconcileReport, as_text
from helios.settings_store import MODE_KEY, SettingKey, get_setting, put_setting

BASELINE_KEY = SettingKey.LIVE_BASELINE
STATE_KEY = SettingKey.LIVE_RECONCILE_STATE
LIVE = TradingMode.LIVE.value


def load(text: str | None) -> dict[str, Any]:
    """A stored JSON object (anything else, or nothing, reads as empty)."""
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def period(mode_row: Setting | Row[Any]) -> str:
    """The LIVE period's key: when the mode row was last switched."""
    return mode_row.updated_at.isoformat()


def decimal_or_none(value: Any) -> Decimal | None:
    """A finite ``Decimal`` from stored text, else None."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def live_since(db: Database) -> str | None:
    """The current LIVE period's key, or None when the mode is not LIVE."""
    with db.read() as session:
        mode = get_setting(session, MODE_KEY)
    if mode is None or mode.value != LIVE:
        return None
    return period(mode)


def read_baseline(session: Session, live_since: str, clock: Clock) -> Baseline | None:
    """The baseline of the LIVE period ``live_since``, or None (none yet, or an old period's)."""
    row = get_setting(session, BASELINE_KEY)
    data = load(row.value if row else None)
    if data.get("live_since") != live_since:
        return None
    balances = {
        str(ccy).upper(): amount
        for ccy, value in (data.get("balances") or {}).items()
        if (amount := decimal_or_none(value)) is not None
    }
    try:
        recorded = datetime.fromisoformat(str(data.get("recorded_at")))
    except ValueError:
        recorded = row.updated_at if row else clock.now()
    return Baseline(
        live_since=live_since,
        recorded_at=recorded,
        by=str(data.get("by", "")),
        fill_id=int(data.get("fill_id", 0)),
        balances=balances,
    )


def baseline_view(found: Baseline) -> dict[str, Any]:
    """The baseline as ``hx.reconciliation.baseline()`` shows it (balances as text)."""
    return {
        "live_since": found.live_since,
        "recorded_at": found.recorded_at.isoformat(),
        "by": found.by,
        "fill_id": found.fill_id,
        "balances": {ccy: as_text(amount) for ccy, amount in found.balances.items()},
    }


def write_baseline(
    db: Database,
    clock: Clock,
    pairs: tuple[str, ...] | list[str],
    live_since: str,
    book: Book,
    venue: Venue,
    by: str,
    *,
    replace: bool = False,
    note: str = "",
    accepted: ReconcileReport | None = None,
) -> Baseline:
    """Store VALR's balances now as the baseline of ``live_since`` with a ``RECONCILE_BASELINE``
    event. The first pass (``replace=False``) keeps a baseline another process stored first; a
    person's acceptance (``replace=True``) overwrites it, records the differences ``accepted``
    and clears the stored state (they no longer stand)."""
    now = clock.now()
    data = {
        "live_since": live_since,
        "recorded_at": now.isoformat(),
        "by": by,
        "fill_id": book.max_fill_id,
        "balances": {ccy: as_text(amount) for ccy, amount in sorted(venue.balances.items())},
    }
    ours = {QUOTE, *(units_of(p, venue.pairs).base for p in pairs)}
    shown = ", ".join(
        f"{ccy} {as_text(venue.balances.get(ccy, Decimal(0)))}" for ccy in sorted(ours)
    )
    try:
        with db.write() as session:
            if not replace:
                existing = read_baseline(session, live_since, clock)
                if existing is not None:  # another process took it first
                    return existing
            put_setting(session, BASELINE_KEY, json.dumps(data), now, by)
            differences = (
                {
                    line.currency: as_text(line.difference)
                    for line in accepted.currencies
                    if line.difference != 0
                }
                if accepted is not None
                else {}
            )
            record_event(
                session,
                ts=now,
                kind="RECONCILE_BASELINE",
                actor=by,
                severity="WARNING" if replace else "INFO",
                message=(
                    f"VALR's balances accepted as the new baseline by {by}: {shown}"
                    + (f" (differences accepted: {differences})" if differences else "")
                    + (f"; {note}" if note else "")
                    if replace
                    else f"LIVE baseline recorded from VALR's balances: {shown}"
                ),
                details={**data, "accepted_differences": differences, "note": note},
            )
            if replace:  # the differences accepted no longer stand
                put_setting(session, STATE_KEY, json.dumps({}), now, by)
    except IntegrityError:  # two first passes at once (PostgreSQL): the other one won
        with db.read() as session:
            existing = read_baseline(session, live_since, clock)
        if existing is None:
            raise
        return existing
    return Baseline(live_since, now, by, book.max_fill_id, dict(venue.balances))


__all__ = [
    "BASELINE_KEY",
    "LIVE",
    "STATE_KEY",
    "baseline_view",
    "decimal_or_none",
    "live_since",
    "load",
    "period",
    "read_baseline",
    "write_baseline",
]
