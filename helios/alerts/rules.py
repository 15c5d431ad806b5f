"""What the operator is told, and how urgently (issue 17): the alert each event becomes.

Pure (L0): an event of the log (``helios.events``) or of a position's story (``PositionEvent``)
in, an ``Alert`` or None out. The outbox (``helios.alerts.outbox``) applies it to every event a
write transaction records, so an alert exists exactly when the event that causes it does.

The table (the issue's list; a severity below ``ALERT_MIN_SEVERITY`` is not queued):

- critical: an automatic halt with its trigger and figures, a halt escalated to a close-out, an
  emergency stop (who, why), the close-out's result (closed, realized P&L, not closed yet), a
  journal record the database could not take, a LIVE reconciliation mismatch, a LIVE order VALR
  rejected, the scheduler silent (``helios.alerts.silence``); the database lost is told without
  the database (``helios.alerts.offline``), so its replayed halt is not told twice;
- warning: a halt by hand, a standby taking over, a job failing ``ALERT_JOB_ERRORS`` times in a
  row (then every 20 times that), a stale feed at half its halt threshold, a limit loosened, a
  mode change, a close-all, a position stopped out, a PAPER order rejected, a reconciliation
  that could not run, a pair locked (by a person or after stop-outs: ``helios.pair_locks``);
- info: a resume, a lock lifted, a limit change that tightens, positions opened and closed
  (``ALERT_POSITION_EVENTS``, off by default), the daily and weekly reports
  (``helios.reports``).

A halt and what it did (an escalation, the close-out's result, an emergency stop's closes) carry
the halt's start as their ``thread``, so when they are ready together the operator gets them in
one message (``helios.alerts.digest``). Every alert has a ``dedup_key``: the event's kind, time
and a checksum of its text (a position's id and step), so the same event recorded twice is one
alert; an alert's own key where the cause is shared between processes (two processes seeing
one silence).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from helios.config.choices import AlertSeverity

CRITICAL, WARNING, INFO = AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO
STOPPED_OUT_KIND = "POSITION_STOPPED_OUT"
JOB_ERROR_REPEAT = 20  # after the first warning, every this many times the threshold
# a halt and what it did (its escalation, the close-out's result) are one episode: ready
# together, they travel as one message (``helios.alerts.digest``)
EPISODE_KINDS = ("HALT", "HALT_ESCALATED", "EMERGENCY_STOP", "CLOSEOUT_RESULT", "CLOSEOUT_DONE")


@dataclass(frozen=True)
class Alert:
    """One message for the operator. ``figures`` are what a digest adds up (exact text)."""

    severity: AlertSeverity
    kind: str
    title: str
    body: str
    dedup_key: str
    figures: Mapping[str, Any] | None = None
    attachment_name: str | None = None
    attachment: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Policy:
    """What the configuration says about alerts (``Settings``: ALERT_MIN_SEVERITY,
    ALERT_POSITION_EVENTS, ALERT_JOB_ERRORS)."""

    min_severity: AlertSeverity = INFO
    position_events: bool = False
    job_errors: int = 3

    def wanted(self, alert: Alert | None) -> bool:
        return alert is not None and alert.severity.rank >= self.min_severity.rank


def _key(prefix: str, ts: datetime, text: str) -> str:
    return f"{prefix}:{ts.isoformat()}:{zlib.crc32(text.encode('utf-8')):08x}"[:200]


def _figures(details: Mapping[str, Any] | None) -> str:
    if not details:
        return ""
    shown = [f"{k}: {v}" for k, v in details.items() if not isinstance(v, (dict, list))]
    return ("\n" + "\n".join(shown)) if shown else ""


def _percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.2f}%"
    except (TypeError, ValueError):
        return str(value)


def halt_summary(cause: str, details: Mapping[str, Any]) -> str:
    """The figures behind an automatic halt in a line (drawdown 16.20% > 15.00%)."""
    if cause in ("drawdown", "daily_loss") and cause in details and "limit" in details:
        shown = cause.replace("_", " ")
        return f"{shown} {_percent(details[cause])} > {_percent(details['limit'])}"
    return ""


def from_event(
    kind: str,
    severity: str,
    message: str,
    actor: str,
    details: Mapping[str, Any] | None,
    ts: datetime,
    policy: Policy,
) -> Alert | None:
    """The alert an event of the log becomes (None: not one to tell)."""
    details = details or {}
    key = _key(f"event:{kind}", ts, message)
    chosen: tuple[AlertSeverity, str] | None = None
    if kind == "HALT":
        cause = str(details.get("cause", ""))
        if details.get("detected_at") and cause == "database_lost":
            return None  # replayed from the journal: told when it happened (alerts.offline)
        if cause == "emergency_stop":
            chosen = (CRITICAL, f"Emergency stop by {actor}")
        elif cause == "manual":
            chosen = (WARNING, f"Trading halted by {actor}")
        else:
            figures = halt_summary(cause, details)
            chosen = (CRITICAL, f"HALT: {cause}" + (f" ({figures})" if figures else ""))
    elif kind == "HALT_ESCALATED":
        cause = str(details.get("cause", ""))
        chosen = (
            CRITICAL,
            f"Emergency stop by {actor}"
            if cause == "emergency_stop"
            else f"Halt now closes every position ({cause})",
        )
    elif kind == "EMERGENCY_STOP":
        chosen = (CRITICAL, f"Emergency stop by {actor}: close-out result")
    elif kind in ("CLOSEOUT_RESULT", "CLOSEOUT_DONE"):
        chosen = (CRITICAL, "Close-out result")
    elif kind == "JOURNAL_NOT_APPLIED":
        chosen = (CRITICAL, "Close-out journal record not applied")
    elif kind == "RECONCILE_MISMATCH":
        chosen = (CRITICAL, "LIVE reconciliation mismatch")
    elif kind == "SCHEDULER_SILENT":
        chosen = (CRITICAL, "Scheduler silent")
        key = str(details.get("dedup_key") or key)
    elif kind in ("LEADER_TAKEOVER", "MODE_CHANGE", "LIMITS_LOOSENED", "STALE_FEED", "CLOSE_ALL"):
        titles = {
            "LEADER_TAKEOVER": "Standby scheduler took over",
            "MODE_CHANGE": "Trading mode changed",
            "LIMITS_LOOSENED": f"Risk limits loosened by {actor}",
            "STALE_FEED": "Price feed going stale",
            "CLOSE_ALL": f"Close all by {actor}",
        }
        chosen = (WARNING, titles[kind])
    elif kind in ("PAIR_LOCKED", "PAIR_LOCK_AUTO"):
        pair = details.get("pair", "?")
        who = "automatically after stop-outs" if kind == "PAIR_LOCK_AUTO" else f"by {actor}"
        chosen = (WARNING, f"Pair {pair} locked {who}")
    elif kind == "PAIR_UNLOCKED":
        chosen = (INFO, f"Pair {details.get('pair', '?')} lock lifted by {actor}")
    elif kind == "RECONCILE_FAILED":
        chosen = (WARNING, "LIVE reconciliation could not run")
    elif kind == "JOB_ERROR":
        count = int(details.get("consecutive", 0) or 0)
        limit = policy.job_errors
        if count < limit or (count > limit and count % (limit * JOB_ERROR_REPEAT)):
            return None
        chosen = (WARNING, f"Job {details.get('job', '?')} failed {count} times in a row")
    elif kind == "RESUME":
        chosen = (INFO, f"Trading resumed by {actor}")
    elif kind == "LIMITS_CHANGED":
        chosen = (INFO, f"Risk limits changed by {actor}")
    if chosen is None:
        return None
    level, title = chosen
    figures = _numbers(details) or {}
    if kind in EPISODE_KINDS and details.get("halt_since"):
        figures["thread"] = f"halt:{details['halt_since']}"  # told with its halt (digest)
    alert = Alert(level, kind, title, message + _figures(_shown(details)), key, figures or None)
    return alert if policy.wanted(alert) else None


def _shown(details: Mapping[str, Any]) -> dict[str, Any]:
    hidden = ("dedup_key", "checklist", "halt_since")
    return {k: v for k, v in details.items() if k not in hidden}


def _numbers(details: Mapping[str, Any]) -> dict[str, Any] | None:
    picked = {
        k: v for k, v in details.items() if isinstance(v, (str, int, float)) and k != "dedup_key"
    }
    return picked or None


def from_position_event(
    position_id: int,
    kind: str,
    message: str,
    details: Mapping[str, Any] | None,
    ts: datetime,
    policy: Policy,
) -> Alert | None:
    """The alert a step of a position's story becomes (None: not one to tell)."""
    details = details or {}
    mode, pair = str(details.get("mode", "")), str(details.get("pair", ""))
    label = f"position {position_id}" + (f" {details.get('side', '')} {pair}" if pair else "")
    key = f"position:{position_id}:{kind}:{ts.isoformat()}"
    figures = {"position_id": position_id, **{k: v for k, v in details.items() if k != "details"}}
    alert: Alert | None = None
    if kind in ("OPEN_FAILED", "CLOSE_FAILED"):
        live = mode == "LIVE"
        title = f"{'LIVE' if live else 'PAPER'} order rejected: {label}"
        alert = Alert(CRITICAL if live else WARNING, f"ORDER_REJECTED_{mode or 'PAPER'}",
                      title, message, key, figures)  # fmt: skip
    elif kind == "CLOSED" and details.get("status") == "STOPPED_OUT":
        pnl = details.get("realized_pnl")
        alert = Alert(WARNING, STOPPED_OUT_KIND, f"Stopped out: {label}" + (
            f", realized R{pnl}" if pnl is not None else ""), message, key, figures)  # fmt: skip
    elif kind == "CLOSED" and policy.position_events:
        alert = Alert(INFO, "POSITION_CLOSED", f"Closed ({details.get('status', '')}): {label}",
                      message, key, figures)  # fmt: skip
    elif kind == "OPENED" and policy.position_events:
        alert = Alert(INFO, "POSITION_OPENED", f"Opened: {label}", message, key, figures)
    return alert if policy.wanted(alert) else None


def database_lost(
    message: str, detected_at: datetime, closed: int, failed: int, journal: str
) -> Alert:
    """The database lost: told without it (``helios.alerts.offline``), once per outage."""
    outcome = (
        f"{closed} position(s) closed through the journal, {failed} not closed"
        if closed or failed
        else "no position was open"
    )
    return Alert(
        CRITICAL,
        "DATABASE_LOST",
        "Database lost: trading halted, close-out through the journal",
        f"{message}. {outcome}. The journal ({journal}) is replayed into the database when it "
        "answers again; until then nothing can be recorded or opened.",
        f"database-lost:{detected_at.isoformat()}",
        {"closed": closed, "not_closed": failed, "journal": journal},
    )


def amount(value: Any) -> Decimal | None:
    """A figure's exact amount (text in the outbox), None when it is not one."""
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None
