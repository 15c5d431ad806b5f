"""Issue 15 item 3: the first command after a PostgreSQL restart succeeds.

``helios api`` runs for real (uvicorn in its own process) against a private PostgreSQL server
(``tests/private_postgres.py``, never the shared one) that the test restarts. Every pooled
connection dies with the server; without the pool's pre-ping the first emergency stop after the
restart was handed such a connection and answered 500 ("server closed the connection
unexpectedly"), and a resume after a longer outage the same. (SQLite has no server to restart.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from private_postgres import PrivatePostgres
from scheduler_process import wait_for
from sqlalchemy import select

import helios
from helios.db.models import Event, Heartbeat
from tests.api_process import ApiProcess
from tests.factories import SEED_TRADE, give_market

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
    api = ApiProcess(tmp_path / "api.log", database_url=private_pg.url, helios_api_token=TOKEN)
    base = api.base
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
        api.stop()


def test_a_scheduler_whose_database_goes_down_during_its_start_waits_and_runs(
    private_pg: PrivatePostgres,
) -> None:
    """The chaos test's failure in CI: a replacement scheduler had connected, then the database
    restarted before its jobs began; its start-up reads (the trading mode) raised and the
    process ended ("cannot use the database"), a standby lost for good. A database that
    answered the connect and then went away is an outage like any other: the start waits for
    it (as the running jobs do) and the scheduler runs."""
    from jobs.scheduler import run

    with helios.connect(private_pg.url, market_feed="manual") as hx:
        give_market(hx)
    hx = helios.connect(private_pg.url, market_feed="manual", reconcile=False)
    stop = threading.Event()
    failed: list[BaseException] = []

    def start() -> None:
        try:
            run(hx, stop)
        except BaseException as exc:  # the failure the test looks for
            failed.append(exc)

    try:
        private_pg.stop()  # connected, then the server goes away before the jobs begin
        runner = threading.Thread(target=start, daemon=True)
        runner.start()
        time.sleep(2.0)
        assert not failed, f"the start ended on a database outage: {failed[0]!r}"
        private_pg.start()

        def running() -> bool:
            assert not failed, f"the start ended: {failed[0]!r}"
            with hx.db.read() as session:
                started = session.scalars(
                    select(Event).where(Event.kind == "SCHEDULER_START")
                ).all()
                beats = session.scalars(select(Heartbeat.pid)).all()
            return bool(started) and os.getpid() in beats

        wait_for(running, 60, "the scheduler to start and beat")
    finally:
        stop.set()
        if "runner" in locals():
            runner.join(30)
        hx.close()
    assert not failed, failed
