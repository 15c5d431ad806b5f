"""``helios api`` for real: uvicorn on 127.0.0.1 (a free port) in its own process, with a token,
and the seed's curl examples run with curl as written (plus the token): the mode check, the
emergency stop, close-all, back to PAPER. Writes without the token get 401 and change nothing;
Ctrl-C stops the server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import helios
from tests.api_process import ApiProcess, free_port
from tests.factories import SEED_TRADE, give_market

pytestmark = pytest.mark.slow
TOKEN = "server-token-0123456789-abcdefghij"
CURL = shutil.which("curl")


def curl(*args: str) -> tuple[int, dict]:
    """Run curl as a person would; returns (HTTP status, JSON body)."""
    if CURL is None:
        pytest.skip("curl is not installed")
    result = subprocess.run(
        [CURL, "-sS", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    return int(code), json.loads(body) if body else {}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, helios.Helios]]:
    with helios.connect(database_url, market_feed="manual") as hx:
        give_market(hx)
        for pair in ("BTCZAR", "ETHZAR"):
            assert hx.positions.open_position(pair, "BUY", SEED_TRADE, "server test")["success"]
    api = ApiProcess(tmp_path / "api.log", database_url=database_url, helios_api_token=TOKEN)
    hx = helios.connect(database_url, market_feed="manual", reconcile=False)
    try:
        yield api.base, hx
    finally:
        hx.close()
        if not api.stop():
            pytest.fail("helios api did not stop within 20 s of Ctrl-C")
        assert TOKEN not in api.log()  # never logged


def test_the_seeds_curl_examples_against_a_real_server(server: tuple[str, helios.Helios]):
    base, hx = server
    auth = f"Authorization: Bearer {TOKEN}"
    # Check current mode
    code, body = curl(f"{base}/api/orchestrator/system/trading/mode")
    assert (code, body["mode"]) == (200, "PAPER")

    # a write without the token: 401, nothing changes
    code, body = curl("-X", "POST", f"{base}/api/autonomous-engine/emergency-stop")
    assert code == 401 and body["error"] == "unauthorized"
    code, _ = curl(
        "-X",
        "POST",
        f"{base}/api/autonomous-engine/emergency-stop",
        "-H",
        "Authorization: Bearer x",
    )
    assert code == 401
    assert hx.controls.is_halted() is False
    assert len(hx.positions.get_open_positions()) == 2

    # Set to LIVE (the seed's example): refused, with what is missing
    code, body = curl(
        "-X",
        "PUT",
        f"{base}/api/orchestrator/system/trading/mode",
        "-H",
        "Content-Type: application/json",
        "-H",
        auth,
        "-d",
        '{"mode": "LIVE"}',
    )
    assert code == 409 and body["error"] == "refused" and body["missing"]
    assert hx.controls.trading_mode().value == "PAPER"

    # Emergency Stop (Manual): stop all trading immediately
    code, body = curl("-X", "POST", f"{base}/api/autonomous-engine/emergency-stop", "-H", auth)
    assert code == 200, body
    assert body["halt"]["halted"] is True and len(body["closed"]) == 2
    assert hx.controls.halt_state().cause == "emergency_stop"
    assert {p["status"] for p in hx.positions.closed_positions().to_dict("records")} == {
        "EMERGENCY_CLOSE"
    }

    # Close all positions (none left)
    code, body = curl("-X", "POST", f"{base}/api/portfolio/positions/close-all", "-H", auth)
    assert (code, body) == (200, {"closed": [], "failed": []})

    # Set mode to PAPER
    code, body = curl(
        "-X",
        "PUT",
        f"{base}/api/orchestrator/system/trading/mode",
        "-H",
        "Content-Type: application/json",
        "-H",
        auth,
        "-d",
        '{"mode": "PAPER"}',
    )
    assert code == 200 and body["mode"] == "PAPER"

    # the reads answer, the docs are served
    for path in ("/api/portfolio/summary", "/api/portfolio/positions?status=EMERGENCY_CLOSE"):
        assert requests.get(base + path, timeout=10).status_code == 200
    assert requests.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    events = {(e["kind"], e["actor"]) for e in hx.controls.event_log()}
    assert ("EMERGENCY_STOP", "api") in events and ("CLOSE_ALL", "api") in events
    # resume, with who
    response = requests.post(
        f"{base}/api/autonomous-engine/start",
        json={"by": "thandi"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["resumed"] is True
    assert hx.controls.halt_state().halted is False


def test_helios_up_api_starts_the_api_beside_the_scheduler(database_url: str, tmp_path: Path):
    from tests.test_processes import child_env, stop

    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helios.cli",
            "up",
            "--no-dashboard",
            "--api",
            "--api-port",
            str(port),
        ],
        env=child_env(database_url, HELIOS_API_TOKEN=TOKEN, LOG_FILE=""),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/api/portfolio/summary", timeout=2
                ).json()
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        assert answer is not None, (tmp_path / "up.log").read_text()
        assert answer["mode"] == "PAPER"
    finally:
        if process.poll() is None:
            stop(process)
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert f"API on http://127.0.0.1:{port}" in output
    assert TOKEN not in output
