"""Issue 15 item 3: the first command after a PostgreSQL restart succeeds.

``helios api`` runs for real (uvicorn in its own process) against a private PostgreSQL server
(``tests/private_postgres.py``, never the shared one) that the test restarts. Every pooled
connection dies with the server; without the pool's pre-ping the first emergency stop after the
restart was handed such a connection and answered 500 ("server closed the connection
unexpectedly"), and a resume after a longer outage the same. (SQLite has no server to restart.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from private_postgres import PrivatePostgres

import helios
from tests.factories import SEED_TRADE, give_market
from tests.test_processes import free_port

pytestmark = pytest.mark.slow
TOKEN = "restart-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


def start_api(url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=url,
        MARKET_FEED="manual",
        HELIOS_API_TOKEN=TOKEN,
        LOG_FILE="",
    )
    log = (folder / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "helios.cli", "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/api/orchestrator/system/trading/mode", timeout=2).ok:
                return process, base
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("helios api did not start: " + (folder / "api.log").read_text())
        time.sleep(0.2)


def warm_the_pool(base: str) -> None:
    """Several reads at once, so the pool holds several connections that the restart kills."""
    for _ in range(3):
        for path in ("/api/orchestrator/system/trading/mode", "/api/portfolio/state/current"):
            assert requests.get(base + path, timeout=10).status_code == 200


def test_the_first_emergency_stop_and_resume_after_a_database_restart_succeed(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    with helios.connect(private_pg.url, market_feed="manual") as hx:
        give_market(hx)
        opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "restart test")
        assert opened["success"], opened
    process, base = start_api(private_pg.url, tmp_path)
    try:
        warm_the_pool(base)
        private_pg.stop()
        time.sleep(1.0)
        private_pg.start()

        stop = requests.post(
            f"{base}/api/autonomous-engine/emergency-stop",
            json={"by": "ops", "reason": "after a restart"},
            headers=AUTH,
            timeout=30,
        )
        assert stop.status_code == 200, (stop.status_code, stop.text)
        with helios.connect(private_pg.url, market_feed="manual", reconcile=False) as hx:
            assert hx.controls.is_halted()
            assert hx.positions.get_open_positions() == []

        warm_the_pool(base)
        private_pg.stop()
        time.sleep(1.0)
        private_pg.start()
        resume = requests.post(
            f"{base}/api/autonomous-engine/start",
            json={"by": "ops", "note": "after a second restart"},
            headers=AUTH,
            timeout=30,
        )
        assert resume.status_code == 200, (resume.status_code, resume.text)
        with helios.connect(private_pg.url, market_feed="manual", reconcile=False) as hx:
            assert not hx.controls.is_halted()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
