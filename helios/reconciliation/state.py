"""The stored result of the last reconciliation pass (the settings row ``live_reconcile_state``).

Each judged pass stores its report, whether it is over the threshold, the breach's message and
figures, the signature of its differences (a ``RECONCILE_MISMATCH`` event is recorded when the
set of differences changes, not every pass) and, while an acknowledged difference is watched,
its reference (``helios.reconciliation.halting``). ``hx.halts.breaches()`` reads the condition
from here (``stored_breach``), so a resume acknowledges it and the watchdog re-arms it like any
other trigger. Only the current LIVE period's state counts: an older one reads as nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from helios.db.engine import Database
from helios.reconciliation.baseline import LIVE, STATE_KEY, load, period
from helios.reconciliation.report import ReconcileReport, as_money, as_text
from helios.settings_store import MODE_KEY, get_setting, put_setting, read_settings

ACTOR = "reconciliation"


def stored_breach(session: Session) -> tuple[str, dict[str, Any]] | None:
    """The reconciliation halt condition as the last pass stored it (message, figures), or None:
    for ``hx.halts.breaches`` (so a resume acknowledges it and the watchdog re-arms it). Only in
    LIVE and only for the current LIVE period."""
    found = read_settings(session, (MODE_KEY, STATE_KEY))  # one statement: read every pass
    mode = found.get(MODE_KEY)
    if mode is None or mode.value != LIVE:
        return None
    row = found.get(STATE_KEY)
    state = load(row.value if row else None)
    if state.get("live_since") != period(mode) or not state.get("over_threshold"):
        return None
    return str(state.get("breach_message", "reconciliation difference")), dict(
        state.get("breach_figures") or {}
    )


def stored_report(session: Session) -> dict[str, Any] | None:
    """The last stored pass of the current LIVE period (``ReconcileReport.to_dict()``)."""
    mode = get_setting(session, MODE_KEY)
    row = get_setting(session, STATE_KEY)
    state = load(row.value if row else None)
    if mode is None or state.get("live_since") != period(mode):
        return None
    report = state.get("report")
    return report if isinstance(report, dict) else None


def signature(report: ReconcileReport) -> str | None:
    """What identifies a pass's set of differences (None when it has none)."""
    if not report.mismatched:
        return None
    return json.dumps(
        {
            "currencies": {
                line.currency: as_text(line.difference)
                for line in report.currencies
                if line.mismatched
            },
            "orders": sorted(f"{i.kind}:{i.client_order_id}" for i in report.orders),
        },
        sort_keys=True,
    )


def figures(report: ReconcileReport) -> dict[str, Any]:
    """The differences in figures (an event's and a breach's details)."""
    return {
        "currencies": {
            line.currency: line.to_dict() for line in report.currencies if line.mismatched
        },
        "orders": [issue.to_dict() for issue in report.orders],
        "total_value_zar": as_money(report.total_value_zar),
        "threshold_zar": as_money(report.threshold_zar),
    }


def store_state(
    db: Database,
    live_since: str,
    report: ReconcileReport,
    signature: str | None,
    *,
    breach_message: str = "",
    figures: dict[str, Any] | None = None,
    ack_reference: str | None = None,
    ack_marker: str | None = None,
) -> None:
    """Store ``report`` as the last pass of ``live_since``."""
    state = {
        "live_since": live_since,
        "checked_at": report.checked_at.isoformat(),
        "status": report.status,
        "over_threshold": report.over_threshold,
        "signature": signature,
        "breach_message": breach_message,
        "breach_figures": figures or {},
        "ack_reference_zar": ack_reference,
        "ack_marker": ack_marker,
        "report": report.to_dict(),
    }
    with db.write() as session:
        put_setting(session, STATE_KEY, json.dumps(state), report.checked_at, ACTOR)


__all__ = ["ACTOR", "figures", "signature", "store_state", "stored_breach", "stored_report"]
