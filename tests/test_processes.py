"""The README's first command, for real: ``helios up`` starts the scheduler and the dashboard,
prices and snapshots reach the database, the dashboard answers, and Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from helios.db.engine import normalise_url

pytestmark = pytest.mark.slow
HELIOS = [sys.executable, "-m", "helios.cli"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=database_url,
        MARKET_FEED="sim",
        PRICE_INTERVAL_SECONDS="1",
        SNAPSHOT_INTERVAL_SECONDS="5",
        HEARTBEAT_INTERVAL_SECONDS="1",
        SIM_BACKFILL_DAYS="60",
        **extra,
    )
    return env


def counts(database_url: str) -> tuple[int, int, int]:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            prices = conn.execute(text("SELECT count(*) FROM latest_prices")).scalar_one()
            snaps = conn.execute(text("SELECT count(*) FROM portfolio_snapshots")).scalar_one()
            beats = conn.execute(text("SELECT count(*) FROM heartbeats")).scalar_one()
            return int(prices), int(snaps), int(beats)
    except Exception:
        return 0, 0, 0
    finally:
        engine.dispose()


def stop(process: subprocess.Popen[bytes]) -> float:
    """Ctrl-C to the whole process group, as a terminal does; returns seconds to exit."""
    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail("helios up did not stop within 25 s of Ctrl-C")
    return time.monotonic() - began


def test_helios_up_brings_prices_snapshots_and_the_dashboard_then_stops_on_ctrl_c(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [*HELIOS, "up", "--port", str(port)],
        env=child_env(database_url),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = (0, 0, 0)
        status = None
        while time.monotonic() < deadline:
            seen = counts(database_url)
            try:
                status = requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            except requests.RequestException:
                status = None
            if seen[0] >= 3 and seen[1] >= 1 and status is not None and status.ok:
                break
            time.sleep(1)
        assert seen[0] == 3, f"latest prices for 3 pairs expected, got {seen}"
        assert seen[1] >= 1, "no portfolio snapshot within 60 s"
        assert seen[2] >= 1, "no scheduler heartbeat"
        assert status is not None and status.text == "ok"
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200
    finally:
        seconds = stop(process)
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert process.returncode == 0, output[-3000:]
    assert seconds < 20
    assert "scheduler stopped" in output


def test_a_bad_setting_stops_start_up_with_the_key_and_range(tmp_path: Path) -> None:
    env = child_env(f"sqlite:///{tmp_path / 'x.db'}", MAX_LEVERAGE="50")
    result = subprocess.run(
        [*HELIOS, "up"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "MAX_LEVERAGE=" in result.stderr and "<= 10.0" in result.stderr
    assert not (tmp_path / "x.db").exists(), "a rejected configuration must not create a database"


def test_helios_config_never_prints_secrets(tmp_path: Path) -> None:
    env = child_env(
        f"sqlite:///{tmp_path / 'x.db'}",
        VALR_API_SECRET="s3cr3t-value-do-not-show",
        VALR_API_KEY="key-value-do-not-show",
    )
    result = subprocess.run(
        [*HELIOS, "config"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "VALR_API_SECRET=set" in result.stdout
    assert "do-not-show" not in result.stdout + result.stderr


def test_a_new_install_trades_the_demo_at_once_and_does_not_halt(
    database_url: str, tmp_path: Path
) -> None:
    """The embedded default trades offline at once: on an empty database the scheduler backfills
    the simulated history (its last close is yesterday's, hours old), polls the simulated feed,
    and a DEMO signal becomes an open position within seconds. The backfilled history never
    looks fresh (issue 14), and it must not look stale either: the feed that just started has a
    full period to deliver, so nothing halts (before, the first watchdog pass halted a new
    install for prices "38,000 s old" and every demo signal was rejected)."""
    log = (tmp_path / "scheduler.log").open("wb")
    process = subprocess.Popen(
        [*HELIOS, "scheduler"],
        env=child_env(database_url, DEMO_SIGNAL_INTERVAL_SECONDS="2"),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = create_engine(normalise_url(database_url))
    opened = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not opened:
            time.sleep(1)
            try:
                with engine.connect() as conn:
                    opened = int(
                        conn.execute(
                            text("SELECT count(*) FROM positions WHERE opened_at IS NOT NULL")
                        ).scalar_one()
                    )
            except Exception:
                opened = 0  # the schema is still being made
        with engine.connect() as conn:
            halts = (
                conn.execute(text("SELECT message FROM events WHERE kind = 'HALT'")).scalars().all()
            )
            refused = (
                conn.execute(text("SELECT status_reason FROM signals WHERE status = 'REJECTED'"))
                .scalars()
                .all()
            )
    finally:
        stop(process)
        log.close()
        engine.dispose()
    assert halts == [], halts
    assert opened >= 1, f"no demo position opened within 90 s; refused: {refused[:3]}"
