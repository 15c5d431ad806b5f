"""``helios api`` as a child process on a free port of 127.0.0.1, for the tests that need the
real server (uvicorn, its logging, its signals): started with the given settings and no .env,
ready once the mode endpoint answers, stopped with Ctrl-C (SIGINT) as a person would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
READY_PATH = "/api/orchestrator/system/trading/mode"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiProcess:
    """One ``python -m helios.cli api``; its terminal output goes to ``output``."""

    def __init__(self, output: Path, **settings: Any) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = output
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
        env.update(HELIOS_ENV_FILE="", MARKET_FEED="manual", LOG_FILE="")
        env.update({key.upper(): str(value) for key, value in settings.items()})
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "helios.cli", "api", "--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(self.base + READY_PATH, timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("helios api did not start: " + self.log()[-3000:])
            time.sleep(0.2)

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> bool:
        """Ctrl-C; True if it stopped within ``timeout`` (else it is killed)."""
        if self.process.poll() is not None:
            return True
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
