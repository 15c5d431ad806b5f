"""Heartbeats: each long-running process writes one row; the dashboard shows its age."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helios.db.engine import Database
from helios.db.models import Heartbeat

# heartbeat intervals after which a process counts as gone (the console's "Scheduler not
# running", the API's health check): one late beat on a busy machine is not a death
STALE_INTERVALS = 3


@dataclass(frozen=True)
class Beat:
    process: str
    pid: int
    host: str
    started_at: datetime
    last_beat_at: datetime
    details: dict[str, Any] | None


def beat_age(beat: Beat | None, now: datetime) -> float | None:
    """Seconds since ``beat`` (None when the process never beat)."""
    return None if beat is None else (now - beat.last_beat_at).total_seconds()


def stale_after(interval_seconds: float) -> float:
    """The age past which a process beating every ``interval_seconds`` counts as gone."""
    return STALE_INTERVALS * interval_seconds


def is_alive(beat: Beat | None, now: datetime, interval_seconds: float) -> bool:
    """The liveness rule: a beat no older than ``stale_after(interval_seconds)``."""
    age = beat_age(beat, now)
    return age is not None and age <= stale_after(interval_seconds)


def beat(
    db: Database,
    process: str,
    now: datetime,
    started_at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    with db.write() as session:
        row = session.get(Heartbeat, process)
        if row is None:
            session.add(
                Heartbeat(
                    process=process,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=started_at,
                    last_beat_at=now,
                    details=details,
                )
            )
        else:
            row.pid, row.host, row.started_at = os.getpid(), socket.gethostname(), started_at
            row.last_beat_at, row.details = now, details


def last_beat(db: Database, process: str) -> Beat | None:
    with db.read() as session:
        row = session.get(Heartbeat, process)
        if row is None:
            return None
        return Beat(row.process, row.pid, row.host, row.started_at, row.last_beat_at, row.details)


def forget(db: Database, process: str, identity: str) -> None:
    """Drop ``process``'s row if this process (``details.identity``) wrote it: a scheduler that
    became the leader leaves no stale standby row behind."""
    with db.write() as session:
        row = session.get(Heartbeat, process)
        if row is not None and (row.details or {}).get("identity") == identity:
            session.delete(row)
