"""The API's and the dashboard's watch on the scheduler (issue 17): a leading scheduler whose
heartbeat is older than ``SCHEDULER_SILENT_ALERT_SECONDS`` is told once, as a critical alert, by
whichever process sees it first.

For real: ``helios api`` as a child process (tests/api_process.py), the dashboard's own
connection (``ui/connection.py``, opened by AppTest in this process), a real HTTP receiver on
127.0.0.1, on SQLite and PostgreSQL. The scheduler is not run: its ``heartbeats`` row is written
old, as a killed scheduler leaves it. Each new silence is a new last beat (the alert's dedup
key)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import helios
from api.app import create_app
from helios.db.models import Alert, AlertDelivery
from helios.heartbeat import beat
from tests.alert_support import channel_url, leaks
from tests.api_process import ApiProcess
from tests.dashboard_support import open_page
from tests.fakes.receiver import Received, Receiver

WATCH = "helios-scheduler-watch"  # the thread's name (hx.alerts.start_watch)
SILENT = {"scheduler_silent_alert_seconds": "10", "scheduler_silent_check_seconds": "1"}
QUIET_CHECKS = 5  # check intervals waited after a message for a second one (there must be none)


def watches() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == WATCH and t.is_alive()}


def fall_silent(hx: helios.Helios, minutes: int) -> datetime:
    """The leading scheduler's last beat ``minutes`` ago (a new silence for each value)."""
    now = hx.clock.now()
    last = now - timedelta(minutes=minutes)
    beat(hx.db, "scheduler", last, now - timedelta(hours=2))
    return last


def silent_alerts(hx: helios.Helios) -> list[tuple[str, int, int]]:
    """Each SCHEDULER_SILENT alert: its dedup key, its deliveries, how many are SENT."""
    with hx.db.read() as session:
        rows = session.execute(
            select(Alert.dedup_key, func.count(AlertDelivery.id), func.count(AlertDelivery.sent_at))
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(Alert.kind == "SCHEDULER_SILENT")
            .group_by(Alert.dedup_key)
            .order_by(Alert.dedup_key)
        ).all()
    return [(str(key), int(n), int(sent)) for key, n, sent in rows]


def one_more(receiver: Receiver, before: int, last_beat: datetime) -> Received:
    """The next message, which must tell this silence; then no other for a few checks."""
    found = receiver.wait_for(before + 1, timeout=60)
    time.sleep(QUIET_CHECKS * float(SILENT["scheduler_silent_check_seconds"]))
    assert len(receiver.messages) == before + 1, [m.title for m in receiver.messages]
    message = found[before]
    assert message.title.startswith("[CRITICAL] Scheduler silent for ")
    assert message.type == "failure"
    assert f"limit 10 s; last beat {last_beat:%Y-%m-%d %H:%M:%S} UTC" in message.message
    return message


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.mark.slow
def test_the_api_and_the_dashboard_tell_a_silent_scheduler_once(
    database_url: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    """The API alone tells the silence; with the dashboard's watch on the same database too, a
    new silence is still told once; the dashboard alone tells the next; releasing the
    dashboard's connection stops its watch."""
    url = channel_url(receiver)
    with helios.connect(database_url, market_feed="manual") as hx:
        last = fall_silent(hx, 60)
        api = ApiProcess(tmp_path / "api.log", database_url=database_url, alert_urls=url, **SILENT)
        try:
            one_more(receiver, 0, last)  # the API's watch

            # the dashboard's watch joins: its process's connection, as a page view makes it
            for key, value in {
                "DATABASE_URL": database_url,
                "MARKET_FEED": "manual",
                "ALERT_URLS": url,
                **{k.upper(): v for k, v in SILENT.items()},
            }.items():
                monkeypatch.setenv(key, value)
            st.cache_resource.clear()
            before = watches()
            open_page("app_pages/summary.py")
            [dashboard_watch] = watches() - before
            one_more(receiver, 1, fall_silent(hx, 30))  # two watchers, one message
        finally:
            assert api.stop(), "helios api did not stop within 20 s of Ctrl-C"
        assert "Traceback" not in api.log()
        assert leaks(api.log()) == []

        one_more(receiver, 2, fall_silent(hx, 20))  # the dashboard's watch alone
        assert [(n, sent) for _key, n, sent in silent_alerts(hx)] == [(1, 1)] * 3
        silences = hx.controls.event_log(kind="SCHEDULER_SILENT")
        assert len(silences) == 3 and {e["actor"] for e in silences} == {"watch"}

        st.cache_resource.clear()  # the dashboard's Helios released: its watch stops
        dashboard_watch.join(timeout=10)
        assert not dashboard_watch.is_alive()


def test_an_api_over_a_passed_in_helios_watches_only_when_asked(hx: helios.Helios):
    """``create_app(hx)``: the owner's Helios, no watch; ``watch=True``: one, stopped at
    shutdown (and the Helios stays open, its owner's)."""
    before = watches()
    with TestClient(create_app(hx)):
        assert watches() == before
    with TestClient(create_app(hx, watch=True)):
        [started] = watches() - before
    started.join(timeout=10)
    assert not started.is_alive()
    assert hx.controls.trading_mode().value == "PAPER"  # still open
