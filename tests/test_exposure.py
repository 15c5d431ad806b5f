"""Issue 15, item 10: a console or an API bound beyond this machine refuses to start unlocked.

The real commands as processes: ``helios dashboard``, ``helios up`` and ``helios api`` on a
non-loopback address (``DASHBOARD_ADDRESS`` / ``API_ADDRESS`` / ``--host``) without
``DASHBOARD_PASSWORD_HASH`` / ``HELIOS_API_TOKEN`` exit 2 with one line saying how to make the
missing secret, before touching the database; with the secret they start. A dashboard started
by hand (``streamlit run app.py``) on such an address draws only the refusal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helios.auth import hash_password
from helios.exposure import exposure_problem, is_loopback
from tests.api_process import ApiProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "exposure-token-0123456789-abcdefghij"
EXPOSED = ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "helios.example.com"]


def env_for(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=database_url,
        MARKET_FEED="manual",
        LOG_FILE=str(folder / "logs" / "helios.log"),
        JOURNAL_DIR=str(folder / "journal"),
    )
    env.update(extra)
    return env


def helios(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helios.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_the_rule():
    for address in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", " LOCALHOST "):
        assert is_loopback(address), address
        assert exposure_problem("dashboard", address, locked=False) is None
    for address in [*EXPOSED, "", None]:
        assert not is_loopback(address), address
        assert exposure_problem("dashboard", address, locked=True) is None
        assert exposure_problem("api", address, locked=True) is None
        problem = exposure_problem("dashboard", address, locked=False)
        assert problem and "helios hash-password" in problem and "\n" not in problem
        problem = exposure_problem("api", address, locked=False)
        assert problem and "HELIOS_API_TOKEN" in problem and "\n" not in problem


def test_helios_dashboard_and_up_refuse_a_non_loopback_address_without_a_password_hash(
    tmp_path: Path,
):
    # the database is never reached: the refusal comes first (this URL would be an error)
    url = f"postgresql://helios:pw@127.0.0.1:{free_port()}/helios"
    for address in EXPOSED:
        env = env_for(url, tmp_path, DASHBOARD_ADDRESS=address)
        for command in (["dashboard"], ["up"], ["up", "--api"]):
            assert_refused(
                helios(env, *command), "DASHBOARD_PASSWORD_HASH", "helios hash-password", address
            )
    # the scheduler alone has no console: nothing to lock (it then fails on the database)
    env = env_for(url, tmp_path, DASHBOARD_ADDRESS="0.0.0.0")
    alone = helios(env, "up", "--no-dashboard")
    assert "DASHBOARD_PASSWORD_HASH" not in alone.stderr


def test_helios_api_and_up_api_refuse_a_non_loopback_address_without_a_token(tmp_path: Path):
    url = f"postgresql://helios:pw@127.0.0.1:{free_port()}/helios"
    for address in EXPOSED:
        assert_refused(
            helios(env_for(url, tmp_path, API_ADDRESS=address), "api"), "HELIOS_API_TOKEN"
        )
        assert_refused(
            helios(env_for(url, tmp_path), "api", "--host", address), "HELIOS_API_TOKEN", address
        )
        assert_refused(
            helios(env_for(url, tmp_path, API_ADDRESS=address), "up", "--api", "--no-dashboard"),
            "HELIOS_API_TOKEN",
        )


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"did not start ({process.poll()}): {log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_with_the_secret_set_they_start_on_every_interface(database_url: str, tmp_path: Path):
    api = ApiProcess(
        tmp_path / "api.out",
        database_url=database_url,
        journal_dir=tmp_path / "journal",
        helios_api_token=TOKEN,
        api_address="0.0.0.0",
    )
    assert api.stop()

    port = free_port()
    log = tmp_path / "dashboard.out"
    env = env_for(
        database_url,
        tmp_path,
        DASHBOARD_ADDRESS="0.0.0.0",
        DASHBOARD_PASSWORD_HASH=hash_password("a long enough password"),
    )
    with log.open("wb") as out:
        dashboard = subprocess.Popen(
            [sys.executable, "-m", "helios.cli", "dashboard", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health", dashboard, log)
    finally:
        stop(dashboard)


def test_a_dashboard_started_by_hand_on_every_interface_draws_only_the_refusal(
    seeded, monkeypatch: pytest.MonkeyPatch
):
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    finally:
        config.set_option("server.address", before)
    shown = " ".join(e.value for e in app.error)
    assert "helios hash-password" in shown and "DASHBOARD_PASSWORD_HASH" in shown
    assert not app.button  # no EMERGENCY STOP, no Halt: nothing but the refusal
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.error, [e.value for e in app.error]
