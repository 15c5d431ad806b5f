"""The scheduler killed (issue 17, "Must show"): the API process raises the "scheduler silent"
alert, and the dead-man's switch stops pinging.

A real scheduler (``python -m jobs``) pings the receiver's ``/ping`` (``HEARTBEAT_PING_URL``,
every ``HEARTBEAT_PING_SECONDS`` = 5) and beats every second; a real ``helios api`` on the same
database watches its heartbeat (``SCHEDULER_SILENT_ALERT_SECONDS`` = 10, checked every
``SCHEDULER_SILENT_CHECK_SECONDS`` = 1) and delivers to the same JSON webhook. The scheduler is
SIGKILLed: the critical "Scheduler silent" message reaches the webhook within the issue's bound
(the limit plus one check interval, plus a delivery pass: asserted with a generous margin, the
delay measured is printed), once; no ping arrives after the kill.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alert_receivers import HttpReceiver
from api_process import ApiProcess
from scheduler_process import SchedulerProcess, wait_for
from sqlalchemy import select

import helios
from helios.clock import ensure_utc
from helios.db.models import Alert, AlertDelivery, Heartbeat

pytestmark = pytest.mark.slow

SILENT_SECONDS = 10
CHECK_SECONDS = 1
PING_SECONDS = 5
MARGIN_SECONDS = 10  # a delivery pass and a busy two-core machine
HOOK = "/hook/TOKEN123456789012"


def last_beat(hx: helios.Helios) -> datetime | None:
    with hx.db.read() as session:
        row = session.get(Heartbeat, "scheduler")
        return ensure_utc(row.last_beat_at) if row is not None else None


def wall(monotonic: float) -> datetime:
    """The wall-clock time of a ``time.monotonic()`` reading taken a moment ago."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic), UTC)


def test_a_killed_scheduler_is_told_by_the_api_and_its_pings_stop(
    database_url: str, tmp_path: Path
) -> None:
    with HttpReceiver() as receiver, helios.connect(database_url, market_feed="manual") as hx:
        alert_urls = receiver.json_url(HOOK, "user:S3cretPassw0rd")
        scheduler = SchedulerProcess(
            database_url,
            tmp_path,
            ALERT_URLS=alert_urls,
            HEARTBEAT_PING_URL=receiver.ping_url,
            HEARTBEAT_PING_SECONDS=PING_SECONDS,
            HEARTBEAT_INTERVAL_SECONDS=1,
        )
        api = None
        try:
            wait_for(lambda: last_beat(hx), 60, "the scheduler's first beat", scheduler)
            api = ApiProcess(
                tmp_path / "api.log",
                database_url=database_url,
                alert_urls=alert_urls,
                scheduler_silent_alert_seconds=SILENT_SECONDS,
                scheduler_silent_check_seconds=CHECK_SECONDS,
            )
            # the dead-man's switch: a GET of /ping every 5 s while all is well
            wait_for(lambda: len(receiver.pings) >= 2, 60, "two pings", scheduler)
            assert {p.path for p in receiver.pings} == {"/ping"}
            time.sleep(3 * CHECK_SECONDS)  # the API's watch sees a beating scheduler
            assert receiver.posts == []

            scheduler.kill()
            killed = time.monotonic()
            beat = last_beat(hx)
            assert beat is not None
            pings_at_kill = len(receiver.pings)
            [silent] = wait_for(
                lambda: [p for p in receiver.posts if "Scheduler silent" in p.title],
                SILENT_SECONDS + CHECK_SECONDS + 60,
                "the scheduler-silent message",
            )
            delay = (wall(silent.at) - beat).total_seconds()
            since_kill = silent.at - killed
            time.sleep(PING_SECONDS + 3 * CHECK_SECONDS)  # more checks: not told twice
            api_log = api.log()
        finally:
            scheduler.kill()
            if api is not None:
                api.stop()

        print(
            f"\nscheduler silent: told {delay:.1f} s after the last beat "
            f"({since_kill:.1f} s after the SIGKILL); limit {SILENT_SECONDS} s + check "
            f"{CHECK_SECONDS} s; pings before the kill {pings_at_kill}, after "
            f"{len(receiver.pings) - pings_at_kill}"
        )
        assert silent.title.startswith("[CRITICAL] Scheduler silent for "), silent.title
        assert silent.type == "failure"
        assert "no heartbeat from the leading scheduler" in silent.message
        assert f"limit {SILENT_SECONDS} s" in silent.message
        assert delay > SILENT_SECONDS  # not before the limit
        assert delay <= SILENT_SECONDS + CHECK_SECONDS + MARGIN_SECONDS, delay
        assert [p.title for p in receiver.posts] == [silent.title]  # once
        # the pings stopped with the scheduler (one already on its way may still land)
        assert len(receiver.pings) <= pings_at_kill + 1
        assert all(p.at <= killed + 1 for p in receiver.pings), receiver.pings
        with hx.db.read() as session:
            alerts = list(session.scalars(select(Alert).where(Alert.kind == "SCHEDULER_SILENT")))
            states = list(session.scalars(select(AlertDelivery.status)))
        assert len(alerts) == 1 and states == ["SENT"]
        assert "S3cretPassw0rd" not in api_log and "TOKEN123456789012" not in api_log
