"""The scheduler silent (L0, pure): its heartbeat older than ``SCHEDULER_SILENT_ALERT_SECONDS``.

The API and the dashboard judge it (``hx.alerts.check_scheduler``), since the scheduler cannot
tell of its own death. A scheduler that never beat on this database (a fresh install, the API
run alone) is not judged. The alert's dedup key is the last beat's time, so the API and the
dashboard seeing the same silence queue one alert, and a silence is told once however long it
lasts (a scheduler that beats again and falls silent again is a new silence).
"""

from __future__ import annotations

from datetime import datetime

from helios.alerts.rules import CRITICAL, Alert

KIND = "SCHEDULER_SILENT"


def scheduler_silent(
    last_beat_at: datetime | None, now: datetime, limit_seconds: float
) -> Alert | None:
    """The critical alert when the leading scheduler's last beat is strictly older than
    ``limit_seconds``; None while it beats (or never did)."""
    if last_beat_at is None:
        return None
    age = (now - last_beat_at).total_seconds()
    if age <= limit_seconds:
        return None
    return Alert(
        CRITICAL,
        KIND,
        f"Scheduler silent for {age:,.0f} s",
        f"no heartbeat from the leading scheduler for {age:,.0f} s (limit {limit_seconds:,.0f} s;"
        f" last beat {last_beat_at:%Y-%m-%d %H:%M:%S} UTC): the trading loop, the stop monitor "
        "and the watchdog are not running. Open positions are unwatched until it is back.",
        f"scheduler-silent:{last_beat_at.isoformat()}",
        {"silent_seconds": round(age, 1), "limit_seconds": limit_seconds},
    )
