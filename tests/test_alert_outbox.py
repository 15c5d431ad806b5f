"""The outbox and its sender on a real database, against a real HTTP receiver on 127.0.0.1
(apprise's json:// posts): an alert exists exactly when its event does; every delivery is sent
once; a failing channel is retried with backoff and shows a scrubbed error; two processes'
senders never send one alert twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alert_receivers import HttpReceiver
from sqlalchemy import func, select

import helios
from helios.alerts.rules import CRITICAL, Alert
from helios.clock import ManualClock
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertChannel, AlertDelivery
from helios.events import record_event

PASSWORD, TOKEN = "S3cretPassw0rd", "TOKEN123456789012"


class Receiver(HttpReceiver):
    """The JSON webhook (``tests/alert_receivers.py``) with this file's channel URL."""

    def url(self) -> str:  # type: ignore[override]
        return self.json_url(f"/hook/{TOKEN}", f"user:{PASSWORD}")

    def titles(self) -> list[str]:
        return [post.title for post in self.posts]

    @property
    def received(self) -> list[dict[str, Any]]:
        return [post.body for post in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def alerting(database_url: str, clock: ManualClock, receiver: Receiver) -> Iterator[helios.Helios]:
    with connect(database_url, clock, receiver, alert_group_seconds=0) as hx:
        yield hx


def connect(
    database_url: str, clock: ManualClock, receiver: Receiver, **settings: Any
) -> helios.Helios:
    """Helios with the manual feed and the receiver as its one channel."""
    return helios.connect(
        database_url, clock=clock, market_feed="manual", alert_urls=receiver.url(), **settings
    )


def count(hx: helios.Helios, model: Any, *where: Any) -> int:
    with hx.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_an_alert_is_written_with_its_event_and_not_without_it(alerting: helios.Helios):
    hx = alerting
    with pytest.raises(RuntimeError), hx.db.write() as session:
        record_event(session, ts=hx.clock.now(), kind="MODE_CHANGE", actor="a", message="x")
        raise RuntimeError("the transaction fails after the event")
    assert count(hx, AlertRow) == 0 and count(hx, AlertDelivery) == 0
    hx.controls.halt("a person halts", "alice")
    assert count(hx, AlertRow) == 1
    [channel] = hx.alerts.channel_ids
    assert count(hx, AlertDelivery, AlertDelivery.channel == channel) == 1
    assert hx.alerts.status()["channels"][0]["pending"] == 1


def test_the_same_alert_recorded_twice_is_queued_once(alerting: helios.Helios):
    hx = alerting
    alert = Alert(CRITICAL, "X", "t", "b", "same-key")
    assert hx.alerts.record(alert) is not None
    assert hx.alerts.record(alert) is None
    assert count(hx, AlertRow) == 1 and count(hx, AlertDelivery) == 1


def test_delivered_once_and_marked_sent(alerting: helios.Helios, receiver: Receiver):
    hx = alerting
    hx.controls.halt("a person halts", "alice")
    [result] = hx.alerts.send_pending()
    assert (result.messages, result.delivered, result.error) == (1, 1, None)
    assert receiver.titles() == ["[WARNING] Trading halted by alice"]
    assert "a person halts" in receiver.received[0]["message"]
    hx.alerts.send_pending()
    assert len(receiver.received) == 1
    assert count(hx, AlertDelivery, AlertDelivery.status == "SENT") == 1
    [state] = hx.alerts.status()["channels"]
    assert state["pending"] == 0 and state["last_sent_at"] == hx.clock.now()


def test_a_dead_channel_backs_off_shows_its_error_without_the_secret_and_catches_up(
    alerting: helios.Helios, receiver: Receiver, clock: ManualClock
):
    hx = alerting
    receiver.down()
    hx.controls.halt("first", "alice")
    [failed] = hx.alerts.send_pending()
    assert failed.error and failed.messages == 0
    [state] = hx.alerts.status()["channels"]
    assert state["failures"] == 1 and state["pending"] == 1
    assert state["next_attempt_at"] == clock.now() + timedelta(seconds=2)
    for secret in (PASSWORD, TOKEN, receiver.url()):
        assert secret not in (state["last_error"] or "")
    # backing off: no attempt before the time
    [waiting] = hx.alerts.send_pending()
    assert waiting.skipped == "backing off after a failure"
    clock.advance(seconds=2)
    hx.alerts.send_pending()  # still down: the wait doubles
    assert hx.alerts.status()["channels"][0]["next_attempt_at"] == clock.now() + timedelta(
        seconds=4
    )
    hx.controls.emergency_stop("bob", "while the channel is down")
    receiver.up()
    clock.advance(seconds=4)
    hx.alerts.send_pending()
    # the halt, its escalation by the emergency stop and the close-out's result are one
    # episode: one message, the most severe first
    assert receiver.titles() == ["[CRITICAL] Emergency stop by bob"]
    [message] = receiver.received
    assert "emergency stop: 0 closed, 0 not closed yet" in message["message"]
    assert "[WARNING] Trading halted by alice" in message["message"]
    assert count(hx, AlertDelivery, AlertDelivery.status == "SENT") == 3
    [state] = hx.alerts.status()["channels"]
    assert (state["pending"], state["failures"], state["next_attempt_at"]) == (0, 0, None)
    assert state["last_error"]  # the last error stays visible after recovery, with its time


def test_two_processes_sending_at_once_send_each_alert_once(
    database_url: str, clock: ManualClock, receiver: Receiver
):
    def process() -> helios.Helios:
        return connect(
            database_url, clock, receiver, alert_group_seconds=0, alert_max_per_minute=1000
        )

    with process() as one, process() as other:
        for n in range(40):
            one.alerts.record(Alert(CRITICAL, f"K{n}", f"alert {n}", "b", f"k{n}"))
        barrier = threading.Barrier(2)

        def drain(hx: helios.Helios) -> None:
            barrier.wait()
            for _ in range(20):
                hx.alerts.send_pending()

        threads = [threading.Thread(target=drain, args=(h,)) for h in (one, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert count(one, AlertDelivery, AlertDelivery.status == "SENT") == 40
    assert sorted(receiver.titles()) == sorted(f"[CRITICAL] alert {n}" for n in range(40))


def test_a_claim_left_by_a_dead_sender_expires(
    alerting: helios.Helios, receiver: Receiver, clock: ManualClock
):
    hx = alerting
    hx.alerts.record(Alert(CRITICAL, "X", "t", "b", "k"))
    [channel] = hx.alerts.channel_ids
    hx.alerts.send_pending()  # creates the channel's row
    hx.alerts.record(Alert(CRITICAL, "Y", "t2", "b", "k2"))
    with hx.db.write() as session:
        state = session.get(AlertChannel, channel)
        state.claimed_by, state.claimed_until = "dead-process", clock.now() + timedelta(seconds=60)
    [skipped] = hx.alerts.send_pending()
    assert skipped.skipped == "another process is sending" and len(receiver.received) == 1
    clock.advance(seconds=61)
    hx.alerts.send_pending()
    assert receiver.titles() == ["[CRITICAL] t", "[CRITICAL] t2"]


def test_the_per_minute_cap_holds_and_the_rest_follows(
    database_url: str, clock: ManualClock, receiver: Receiver
):
    with connect(
        database_url, clock, receiver, alert_group_seconds=0, alert_max_per_minute=3
    ) as hx:
        for n in range(5):
            hx.alerts.record(Alert(CRITICAL, f"K{n}", f"alert {n}", "b", f"k{n}"))
        hx.alerts.send_pending()
        assert len(receiver.received) == 3  # two single alerts and one carrying the other three
        assert receiver.titles()[2] == "[CRITICAL] 3 more alerts (rate limit reached)"
        hx.alerts.record(Alert(CRITICAL, "late", "late", "b", "late"))
        clock.advance(seconds=30)
        hx.alerts.send_pending()
        assert len(receiver.received) == 3  # the minute's budget is spent
        clock.advance(seconds=30)
        hx.alerts.send_pending()
        assert receiver.titles()[3] == "[CRITICAL] late"


def test_min_severity_keeps_the_lesser_alerts_out_of_the_outbox(
    database_url: str, clock: ManualClock, receiver: Receiver
):
    with connect(database_url, clock, receiver, alert_min_severity="critical") as hx:
        hx.controls.halt("manual: a warning", "alice")
        hx.controls.resume("alice", "an info")
        assert count(hx, AlertRow) == 0
        hx.controls.emergency_stop("bob", "critical")
        assert count(hx, AlertRow) == 2  # the emergency stop and its close-out result


def test_without_a_channel_alerts_are_kept_and_nothing_is_sent(hx: helios.Helios):
    hx.controls.halt("kept for the console", "alice")
    assert count(hx, AlertRow) == 1 and count(hx, AlertDelivery) == 0
    assert hx.alerts.send_pending() == []
    assert hx.alerts.recent(5)[0]["deliveries"] == "no channel"
