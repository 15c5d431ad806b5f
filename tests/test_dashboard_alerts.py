"""The Controls page's Alerts section (issue 17), rendered headless with AppTest on SQLite and
PostgreSQL against a real HTTP receiver on 127.0.0.1: each channel masked with its pending
count, last delivery and last error; "Send a test alert" reaches the receiver and ends in the
page's flash; the channel's password and token appear nowhere on the page; with no channel the
page says what to set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import helios
from helios.alerts.rules import CRITICAL, Alert
from tests.alert_support import PATH, channel_url, leaks, masked, page_text, stored_text
from tests.dashboard_support import click, open_page, table_with
from tests.fakes.receiver import Receiver

PAGE = "app_pages/controls.py"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def alerting(database_url: str, url: str, monkeypatch: pytest.MonkeyPatch) -> helios.Helios:
    """The page's channel (the dashboard reads the environment) and Helios on it here."""
    monkeypatch.setenv("ALERT_URLS", url)
    return helios.connect(database_url, market_feed="manual", alert_urls=url)


def queue_halts(hx: helios.Helios, count: int) -> None:
    for number in range(count):
        alert = Alert(CRITICAL, "HALT", f"Halt {number}", f"drill {number}", f"drill-{number}")
        assert hx.alerts.record(alert) is not None


def channel_row(at) -> dict:  # type: ignore[no-untyped-def]
    [row] = table_with(at, "Pending").to_dict("records")
    return row


def test_the_page_shows_the_channel_masked_and_the_test_alert_reaches_the_receiver(
    seeded: helios.Helios,
    database_url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
):
    with alerting(database_url, channel_url(receiver), monkeypatch) as hx:
        queue_halts(hx, 2)  # queued, not sent: no scheduler runs
        at = open_page(PAGE)
        row = channel_row(at)
        assert row["Channel"] == masked(receiver)
        assert (row["Pending"], row["Last delivery"], row["Last error"]) == (2, "never", "none")
        [line] = [c.value for c in at.caption if "ALERT_MIN_SEVERITY" in c.value]
        assert "**info**" in line and "not set (`HEARTBEAT_PING_URL`)" in line
        recent = table_with(at, "Deliveries")
        assert set(recent["Title"]) == {"Halt 0", "Halt 1"}
        assert set(recent["Deliveries"]) == {f"{masked(receiver)}: PENDING"}
        assert receiver.messages == []

        at.text_input(key="controls_who").input("thandi").run()
        click(at, "alert_test")
        [message] = receiver.wait_for(1)
        assert message.title == "[INFO] Helios test alert from thandi"
        assert (message.type, message.path) == ("info", PATH)
        assert message.authorization is not None  # the URL's user and password were used
        assert [s.value for s in at.success if "Test alert" in s.value] == [
            f"Test alert delivered to 1 channel(s): {masked(receiver)}."
        ]
        row = channel_row(at)
        assert row["Pending"] == 2 and row["Last delivery"] != "never"
        assert row["Messages sent"] == 1
        assert "Helios test alert from thandi" in set(table_with(at, "Deliveries")["Title"])
        [event] = hx.controls.event_log(kind="ALERT_TEST")
        assert event["actor"] == "thandi" and "delivered" in event["message"]
        shown = page_text(at)
        assert masked(receiver) in shown and "Helios test alert from thandi" in shown
        assert leaks(shown) == []
        assert leaks(stored_text(hx)) == []
        at.run()
        assert not [s.value for s in at.success if "Test alert" in s.value]  # shown once


def test_a_channel_that_is_down_shows_its_error_and_no_secret(
    seeded: helios.Helios, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    down = Receiver.dead()
    with alerting(database_url, channel_url(down), monkeypatch) as hx:
        at = open_page(PAGE)
        at.text_input(key="controls_who").input("sipho").run()
        click(at, "alert_test")
        [error] = [e.value for e in at.error if "Test alert not delivered" in e.value]
        assert error.startswith(f"Test alert not delivered to 1 of 1 channel(s). {masked(down)}: ")
        assert "Connection error" in error
        row = channel_row(at)
        assert row["Last delivery"] == "never" and "Connection error" in row["Last error"]
        assert leaks(page_text(at)) == []
        assert leaks(stored_text(hx)) == []


def test_the_test_alert_needs_a_name(
    seeded: helios.Helios,
    database_url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
):
    with alerting(database_url, channel_url(receiver), monkeypatch) as hx:
        at = open_page(PAGE)
        click(at, "alert_test")
        assert [e.value for e in at.error if "Enter your name first" in e.value]
        assert receiver.messages == []
        assert hx.controls.event_log(kind="ALERT_TEST") == []


def test_with_no_channel_the_page_says_what_to_set(seeded: helios.Helios):
    at = open_page(PAGE)
    [info] = [i.value for i in at.info if "No alert channel is configured" in i.value]
    assert "`ALERT_URLS`" in info and "`.env.example`" in info
    assert at.button(key="alert_test").disabled
    assert not [frame for frame in at.dataframe if "Pending" in frame.value.columns]
    assert "No alerts yet." in [i.value for i in at.info]
