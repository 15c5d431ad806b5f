"""How the Controls page shows the operator's alerts (issue 17): the channels and their delivery
state, the recent alerts, a test alert's outcome.

Presentation only: every value comes from ``hx.alerts`` (``status``, ``recent``, ``test``), whose
channels are already masked and whose errors are already scrubbed of credentials; nothing here
reads ``ALERT_URLS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from ui.format import fmt_time
from ui.status import Level

NO_CHANNEL = (
    "**No alert channel is configured**: alerts are recorded (below) but sent nowhere. Set "
    "`ALERT_URLS` to one apprise URL per destination, comma-separated (`json://host:port/path`, "
    "`mailto://user:pass@host?to=...`, `tgram://token/chat`, `ntfy://topic`, ...; see "
    "`.env.example`), then restart the dashboard and the scheduler."
)


def _time(value: datetime | None, zone: str, missing: str = "never") -> str:
    return fmt_time(value, zone) if value is not None else missing


def channel_table(channels: Sequence[dict[str, Any]], zone: str) -> pd.DataFrame:
    """One row per channel (masked): what is pending, the last delivery, the last error and when
    the next attempt is due."""
    rows = []
    for channel in channels:
        error = channel["last_error"]
        if error and channel["last_error_at"] is not None:
            error = f"{_time(channel['last_error_at'], zone)}: {error}"
        rows.append(
            {
                "Channel": channel["channel"],
                "Pending": int(channel["pending"]),
                "Last delivery": _time(channel["last_sent_at"], zone),
                "Last error": error or "none",
                "Failures in a row": int(channel["failures"]),
                "Next attempt": _time(channel["next_attempt_at"], zone, "when due"),
                "Messages sent": int(channel["messages_sent"]),
            }
        )
    return pd.DataFrame(rows)


def settings_line(status: dict[str, Any]) -> str:
    """The minimum severity, the per-minute cap and the dead-man's switch (masked)."""
    ping = status["ping_url"]
    deadman = f"`{ping}`" if ping else "not set (`HEARTBEAT_PING_URL`)"
    return (
        f"Minimum severity sent: **{status['min_severity']}** (`ALERT_MIN_SEVERITY`) · at most "
        f"{status['max_per_minute']} message(s) a minute per channel · dead-man's switch: "
        f"{deadman}"
    )


def recent_table(alerts: Sequence[dict[str, Any]], zone: str) -> pd.DataFrame:
    """The newest alerts with each channel's delivery state."""
    return pd.DataFrame(
        [
            {
                "When": fmt_time(alert["created_at"], zone),
                "Severity": alert["severity"],
                "Kind": alert["kind"],
                "Title": alert["title"],
                "Deliveries": alert["deliveries"],
            }
            for alert in alerts
        ]
    )


def test_outcome(answers: Sequence[dict[str, Any]]) -> tuple[Level, str]:
    """A test alert's answers as the flash after the click: success when every channel took
    it, else which failed and why."""
    failed = [a for a in answers if not a["delivered"]]
    if not failed:
        channels = ", ".join(a["channel"] for a in answers)
        return "success", f"Test alert delivered to {len(answers)} channel(s): {channels}."
    reasons = "; ".join(f"{a['channel']}: {a['error']}" for a in failed)
    level: Level = "error" if len(failed) == len(answers) else "warning"
    return (
        level,
        f"Test alert not delivered to {len(failed)} of {len(answers)} channel(s). {reasons}",
    )
