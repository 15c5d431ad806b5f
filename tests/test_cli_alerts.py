"""``helios alert test|status|send`` for real (``python -m helios.cli`` as a child process, on
SQLite and PostgreSQL) against a real HTTP receiver on 127.0.0.1 (apprise's ``json://``): a test
alert delivered (exit 0), the receiver down (exit 1, the channel masked), no channel configured
(exit 2, the key named); the channel's password and token never in the output, the log file or
the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import helios
from helios.alerts.rules import CRITICAL, Alert
from tests.alert_support import PATH, channel_url, leaks, masked, stored_text
from tests.fakes.receiver import Receiver
from tests.test_cli_controls import Cli

PING_UUID = "5f1c2d3e-aaaa-4bbb-8ccc-0123456789ab"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def cli_for(database_url: str, folder: Path, alert_urls: str, **env: str) -> Cli:
    cli = Cli(database_url, folder)
    cli.env.update(ALERT_URLS=alert_urls, **env)
    return cli


def everything(cli: Cli, *runs: object) -> str:
    """The runs' stdout and stderr and the log file."""
    text = [f"{r.stdout}\n{r.stderr}" for r in runs]  # type: ignore[attr-defined]
    if cli.log_file.exists():
        text.append(cli.log_file.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(text)


def test_a_test_alert_is_delivered_and_exits_0(
    database_url: str, tmp_path: Path, receiver: Receiver
):
    cli = cli_for(database_url, tmp_path, channel_url(receiver))
    done = cli("alert", "test", "--by", "thandi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [masked(receiver), "delivered"]
    [message] = receiver.wait_for(1)
    assert message.title == "[INFO] Helios test alert from thandi"
    assert (message.type, message.path) == ("info", PATH)
    assert message.authorization is not None  # the URL's user and password were used
    with helios.connect(database_url, market_feed="manual") as hx:
        [event] = hx.controls.event_log(kind="ALERT_TEST")
        assert event["actor"] == "thandi"
        assert leaks(stored_text(hx)) == []
    assert leaks(everything(cli, done)) == []


def test_the_receiver_down_exits_1_with_the_channel_masked_and_no_secret(
    database_url: str, tmp_path: Path
):
    down = Receiver.dead()
    cli = cli_for(database_url, tmp_path, channel_url(down))
    done = cli("alert", "test", "--by", "sipho")
    assert done.returncode == 1, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith(f"{masked(down)}  FAILED: ") and "Connection error" in line
    status = cli("alert", "status")
    assert status.returncode == 0, status.stderr
    assert f"channel      {masked(down)}" in status.stdout
    assert "delivered  never" in status.stdout and "Connection error" in status.stdout
    assert leaks(everything(cli, done, status)) == []
    with helios.connect(database_url, market_feed="manual") as hx:
        assert leaks(stored_text(hx)) == []


def test_no_channel_exits_2_naming_the_key(database_url: str, tmp_path: Path):
    cli = cli_for(database_url, tmp_path, "")
    for command in ("test", "send"):
        done = cli("alert", command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "ALERT_URLS is empty" in done.stderr and ".env.example" in done.stderr
    status = cli("alert", "status")
    assert status.returncode == 0 and "ALERT_URLS is empty" in status.stdout


def test_status_shows_the_channel_the_queue_and_the_switch_masked_and_send_delivers(
    database_url: str, tmp_path: Path, receiver: Receiver
):
    url = channel_url(receiver)
    ping = f"https://hc-ping.example/{PING_UUID}"
    cli = cli_for(
        database_url, tmp_path, url, HEARTBEAT_PING_URL=ping, ALERT_MIN_SEVERITY="warning"
    )
    with helios.connect(database_url, market_feed="manual", alert_urls=url) as hx:
        alert = Alert(CRITICAL, "HALT", "Drawdown halt", "drawdown 16.2% > 15%", "drill-1")
        assert hx.alerts.record(alert) is not None
        status = cli("alert", "status")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[:3] == [
            f"channel      {masked(receiver)}",
            "  pending    1",
            "  delivered  never (0 message(s) in all)",
        ]
        assert "  last error none" in lines
        assert "dead-man     https://hc-ping.example/*** (HEARTBEAT_PING_URL)" in lines
        assert "min severity warning (ALERT_MIN_SEVERITY)" in lines
        assert PING_UUID not in status.stdout

        sent = cli("alert", "send")
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.splitlines() == [
            f"{masked(receiver)}  1 message(s) carrying 1 alert(s)",
            "pending      0 in all channels",
        ]
        [message] = receiver.wait_for(1)
        assert "Drawdown halt" in message.title and "16.2% > 15%" in message.message
        assert message.type == "failure"  # critical
        assert hx.alerts.pending_count() == 0
        after = cli("alert", "status")
        assert "  pending    0" in after.stdout
        assert "delivered  never" not in after.stdout and "(1 message(s) in all)" in after.stdout
        assert leaks(everything(cli, status, sent, after)) == []
        assert PING_UUID not in everything(cli, status, sent, after)


def test_send_reports_a_failing_channel_with_exit_1(database_url: str, tmp_path: Path):
    down = Receiver.dead()
    url = channel_url(down)
    cli = cli_for(database_url, tmp_path, url)
    with helios.connect(database_url, market_feed="manual", alert_urls=url) as hx:
        alert = Alert(CRITICAL, "HALT", "Drawdown halt", "drawdown 16.2% > 15%", "drill-2")
        assert hx.alerts.record(alert) is not None
        sent = cli("alert", "send")
        assert sent.returncode == 1, sent.stderr
        first = sent.stdout.splitlines()[0]
        assert first.startswith(f"{masked(down)}  0 message(s) carrying 0 alert(s), then FAILED: ")
        assert hx.alerts.pending_count() == 1  # kept for the next pass
        [channel] = hx.alerts.status()["channels"]
        assert channel["failures"] == 1
        assert channel["next_attempt_at"] - channel["last_error_at"] == timedelta(seconds=2)
        status = cli("alert", "status")
        assert "  next try   " in status.stdout
        assert leaks(everything(cli, sent, status)) == []
