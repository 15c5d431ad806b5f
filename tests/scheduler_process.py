"""Run the real scheduler (``python -m jobs``) as a child process against a test database.

Used by the scheduler's integration tests and benchmarks: short intervals, the manual feed by
default (the test writes the prices), logs captured to a file the failure message shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

FAST = {
    "MARKET_FEED": "manual",
    "PRICE_INTERVAL_SECONDS": "0.5",
    "MONITOR_INTERVAL_SECONDS": "0.5",
    "TRADING_INTERVAL_SECONDS": "0.5",
    "WATCHDOG_INTERVAL_SECONDS": "0.5",
    "HEARTBEAT_INTERVAL_SECONDS": "1",
    "SNAPSHOT_INTERVAL_SECONDS": "1",
    "LEADER_POLL_SECONDS": "0.5",
    "LEADER_LEASE_SECONDS": "3",
    "DEMO_SIGNALS": "off",
    "SIM_BACKFILL_DAYS": "0",
    "LOG_LEVEL": "INFO",
}


def scheduler_env(database_url: str, folder: Path, **settings: Any) -> dict[str, str]:
    """The child's environment: no .env, the test database, fast intervals, files in ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(FAST)
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=database_url,
        JOURNAL_DIR=str(folder / "journal"),
        LOG_FILE=str(folder / "helios.log"),
        PYTHONUNBUFFERED="1",
    )
    env.update({key.upper(): str(value) for key, value in settings.items()})
    return env


class SchedulerProcess:
    """One ``python -m jobs`` child; its output goes to ``<folder>/scheduler-<n>.out``."""

    count = 0

    def __init__(self, database_url: str, folder: Path, **settings: Any) -> None:
        SchedulerProcess.count += 1
        folder.mkdir(parents=True, exist_ok=True)
        self.output = folder / f"scheduler-{SchedulerProcess.count}.out"
        self._handle = open(self.output, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobs"],
            cwd=ROOT,
            env=scheduler_env(database_url, folder, **settings),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, as a crash or the OOM killer would."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._handle.close()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._handle.close()
        return int(self.process.returncode or 0)

    def __enter__(self) -> SchedulerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def wait_for(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    process: SchedulerProcess | None = None,
    interval: float = 0.1,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` (and the
    scheduler's log) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # the database may be briefly busy or away
            last_error = exc
        if process is not None and not process.alive():
            break
        time.sleep(interval)
    tail = process.log()[-4000:] if process is not None else ""
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}"
        + (f" (last error: {last_error})" if last_error else "")
        + (f"\n--- scheduler log ---\n{tail}" if tail else "")
    )
