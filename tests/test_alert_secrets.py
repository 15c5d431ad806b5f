"""No secret of ``ALERT_URLS`` or ``HEARTBEAT_PING_URL`` anywhere it could leak (issue 17,
"Must show"), asserted on SQLite and PostgreSQL after alerts were recorded, sent and failed:

- the database: every row of every table (the events included), as text and as bytes;
- the log: a real scheduler's log file and terminal output (its alert passes failing on a dead
  channel and on an SMTP server that refuses its login, its dead-man's pings);
- ``helios config`` (a subprocess);
- the API: every GET route's answer;
- the console: every page rendered (AppTest), Controls included.

The channels: a JSON webhook with a password and a long token in its URL (a real receiver on
127.0.0.1), the same kind of URL on a port nobody listens on, and an e-mail channel whose
password the SMTP server cannot check (aiosmtpd without AUTH): apprise's failures carry their
own text, which is stored and shown scrubbed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alert_receivers import HttpReceiver, SmtpReceiver
from api_process import free_port
from dashboard_support import open_page
from factories import SEED_REASONING, SEED_TRADE, give_market
from scheduler_process import SchedulerProcess, wait_for
from sqlalchemy import MetaData, create_engine, select

import helios
from helios.config.channels import mask
from helios.db.engine import normalise_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PASSWORD, TOKEN = "S3cretPassw0rd", "TOKEN123456789012"
MAIL_PASSWORD = "MailPassw0rd-77"
PING_TOKEN = "ping-7f3a9c2e5b1d4e8a"
SECRETS = (PASSWORD, TOKEN, MAIL_PASSWORD, PING_TOKEN)


def find_secrets(text: str | bytes, where: str) -> list[str]:
    """Which of the secrets ``text`` holds (as text, or as raw bytes)."""
    if isinstance(text, bytes):
        return [f"{where}: {s}" for s in SECRETS if s.encode() in text]
    return [f"{where}: {s}" for s in SECRETS if s in text]


class Setup:
    def __init__(self, http: HttpReceiver, smtp: SmtpReceiver) -> None:
        dead = free_port()  # nobody listens: connection refused
        self.urls = ",".join(
            [
                http.json_url(f"/hook/{TOKEN}", f"user:{PASSWORD}"),
                f"json://user:{PASSWORD}@127.0.0.1:{dead}/hook/{TOKEN}",
                f"mailto://helios:{MAIL_PASSWORD}@127.0.0.1:{smtp.port}"
                "?to=ops@example.com&from=helios@example.com",
            ]
        )
        self.ping = f"http://127.0.0.1:{http.port}/ping/{PING_TOKEN}"
        self.dead_ping = f"http://127.0.0.1:{dead}/ping/{PING_TOKEN}"
        self.env = {"ALERT_URLS": self.urls, "HEARTBEAT_PING_URL": self.ping}


@pytest.fixture
def setup() -> Iterator[tuple[Setup, HttpReceiver, SmtpReceiver]]:
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield Setup(http, smtp), http, smtp


def dump_database(database_url: str) -> Iterator[tuple[str, Any]]:
    """Every value of every row of every table the database holds (reflected, not the models:
    a table no model knows is read too)."""
    engine = create_engine(normalise_url(database_url))
    try:
        meta = MetaData()
        meta.reflect(engine)
        assert "alerts" in meta.tables and "alert_channels" in meta.tables
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(select(table)):
                    for column, value in zip(table.columns.keys(), row, strict=True):
                        yield f"{table.name}.{column}", value
    finally:
        engine.dispose()


def record_sent_and_failed(hx: helios.Helios, setup: Setup) -> None:
    """Alerts recorded (an emergency stop and its close-out, a test alert), sent to the webhook
    and failed on the two others, the dead-man's switch pinged well and badly."""
    give_market(hx)
    assert hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)["success"]
    hx.controls.emergency_stop(by="secret-test", reason="a test of the alerts")
    results = hx.alerts.send_pending()
    assert [r.error is None for r in results] == [True, False, False], results
    answers = hx.alerts.test(by="secret-test")
    assert [a["delivered"] for a in answers] == [True, False, False], answers
    for answer in answers[1:]:
        assert answer["error"] and not find_secrets(answer["error"], "test answer")
    assert hx.alerts.ping(False) is None and hx.alerts.ping(True) is None
    status = hx.alerts.status()
    assert [c["last_error"] is None for c in status["channels"]] == [True, False, False]
    assert status["ping_url"] and PING_TOKEN not in status["ping_url"]
    assert not find_secrets(repr(status), "hx.alerts.status()")


def test_no_secret_in_the_database_the_log_the_config_the_api_or_any_page(
    database_url: str,
    tmp_path: Path,
    setup: tuple[Setup, HttpReceiver, SmtpReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, http, _smtp = setup
    found: list[str] = []
    with helios.connect(
        database_url, market_feed="manual", alert_urls=config.urls, heartbeat_ping_url=config.ping
    ) as hx:
        record_sent_and_failed(hx, config)
        assert [p.path for p in http.pings] == [f"/ping/{PING_TOKEN}", f"/ping/{PING_TOKEN}/fail"]
        # a dead ping URL: the error is told, masked
        with helios.connect(
            database_url, market_feed="manual", heartbeat_ping_url=config.dead_ping
        ) as other:
            error = other.alerts.ping(True)
            assert error and "Connection refused" in error
            assert error.startswith(mask(config.dead_ping)) and mask(config.dead_ping).endswith(
                "/***"
            )
            found += find_secrets(error, "ping error")

        # a real scheduler: its alert passes fail on two channels, it pings, it logs
        scheduler = SchedulerProcess(
            database_url,
            tmp_path,
            HEARTBEAT_PING_SECONDS=5,
            ALERT_SEND_INTERVAL_SECONDS=1,
            ALERT_RETRY_MAX_SECONDS=2,
            **config.env,
        )
        try:
            pings = len(http.pings)
            wait_for(lambda: len(http.pings) > pings, 60, "the scheduler's ping", scheduler)
            hx.controls.resume(by="secret-test", note="a resume to tell")
            log_file = tmp_path / "helios.log"
            wait_for(
                lambda: log_file.exists() and "failed: A Connection error" in log_file.read_text(),
                60,
                "a failed delivery in the scheduler's log",
                scheduler,
            )
        finally:
            scheduler.stop()
        log_text = log_file.read_text(errors="replace")
        # the failures are logged, masked: the host and port shown, the credentials never
        assert "alert to json://127.0.0.1:" in log_text and "/*** failed:" in log_text
        found += find_secrets(log_text, "log file")
        found += find_secrets(scheduler.log(), "scheduler output")

        # helios config
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
        env.update(config.env, HELIOS_ENV_FILE="", DATABASE_URL=database_url, LOG_FILE="")
        shown = subprocess.run(
            [sys.executable, "-m", "helios.cli", "config"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        assert "json://127.0.0.1:" in shown.stdout and "mailto://127.0.0.1:" in shown.stdout
        found += find_secrets(shown.stdout + shown.stderr, "helios config")

        # the API: every GET route without a parameter, and one position
        from fastapi.testclient import TestClient

        from api.app import create_app

        with TestClient(create_app(hx)) as client:
            paths = client.get("/openapi.json").json()["paths"]
            routes = [p for p, ops in paths.items() if "get" in ops and "{" not in p]
            assert len(routes) >= 8, routes
            position_id = hx.positions.closed_positions()["position_id"].iloc[0]
            for path in [*routes, f"/api/portfolio/positions/{position_id}"]:
                answer = client.get(path)
                assert answer.status_code < 500, (path, answer.text)
                found += find_secrets(answer.text, f"GET {path}")

        # the console: every page, as the operator would see it
        import streamlit as st

        from ui.navigation import PAGE_FILES

        for key, value in {**config.env, "DATABASE_URL": database_url}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("MARKET_FEED", "manual")
        st.cache_resource.clear()
        try:
            for page, _title, _icon in PAGE_FILES:
                at = open_page(page)
                text = page_text(at)
                found += find_secrets(text, f"page {page}")
                if page.endswith("controls.py"):  # the channels are shown, masked
                    assert f"json://127.0.0.1:{http.port}/***" in text
                    assert "mailto://127.0.0.1:" in text and "Connection error" in text
        finally:
            st.cache_resource.clear()

    # the database last: everything above wrote to it
    rows = 0
    for where, value in dump_database(database_url):
        rows += 1
        if isinstance(value, (bytes, memoryview)):
            found += find_secrets(bytes(value), where)
        elif value is not None:
            found += find_secrets(str(value), where)
    assert rows > 100
    assert found == []


def page_text(at: Any) -> str:
    """Everything an AppTest run drew: each element's protobuf (text, labels, help, table data)
    and each table's values."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        children = getattr(node, "children", None) or {}
        for child in children.values():
            walk(child)

    walk(at._tree)
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    assert parts
    return "\n".join(parts)


def test_the_masks_show_the_scheme_and_server_only(
    setup: tuple[Setup, HttpReceiver, SmtpReceiver],
) -> None:
    config, http, smtp = setup
    settings = helios.load_settings(alert_urls=config.urls, heartbeat_ping_url=config.ping)
    ids = [spec.id for spec in settings.alert_channels()]
    assert ids[0] == f"json://127.0.0.1:{http.port}/***"
    assert ids[1].startswith("json://127.0.0.1:") and ids[1].endswith("/***")
    assert ids[2] == f"mailto://127.0.0.1:{smtp.port}/***"
    assert not find_secrets(repr(settings), "repr(settings)")
    assert not find_secrets(" ".join(ids), "channel ids")
