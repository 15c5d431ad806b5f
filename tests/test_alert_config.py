"""Bad alert configuration refuses to start (issue 17, "Must show"): ``helios scheduler``,
``helios up`` and ``helios api`` as child processes, each with an ``ALERT_URLS`` holding a scheme
apprise does not know, one with an empty entry, and an ``ALERT_MIN_SEVERITY`` that does not
exist. Each exits with code 2 before starting anything, naming the key and what is allowed, and
never printing the secret parts of the URLs (a password and a token in each).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PASSWORD, TOKEN = "S3cretPassw0rd", "TOKEN123456789012"
GOOD = f"json://user:{PASSWORD}@127.0.0.1:9/hook/{TOKEN}"
BAD = {
    "an unknown scheme": (
        {"ALERT_URLS": f"{GOOD},nosuchscheme://user:{PASSWORD}@example.org/{TOKEN}"},
        "ALERT_URLS",
        "entry 2: unknown scheme 'nosuchscheme://'",
    ),
    "an empty entry": (
        {"ALERT_URLS": f"{GOOD},,"},
        "ALERT_URLS",
        "entry 2 of 3 is empty",
    ),
    "a severity that does not exist": (
        {"ALERT_URLS": GOOD, "ALERT_MIN_SEVERITY": "loud"},
        "ALERT_MIN_SEVERITY",
        "loud",
    ),
}
COMMANDS = {"scheduler": ["scheduler"], "up": ["up"], "api": ["api", "--port", "9"]}


def run(command: list[str], settings: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=f"sqlite:///{folder / 'never.db'}",
        LOG_FILE=str(folder / "helios.log"),
        MARKET_FEED="manual",
    )
    env.update(settings)
    return subprocess.run(
        [sys.executable, "-m", "helios.cli", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("case", list(BAD))
def test_bad_alert_configuration_refuses_to_start_naming_the_key(case: str, tmp_path: Path):
    settings, key, detail = BAD[case]
    with ThreadPoolExecutor(len(COMMANDS)) as pool:
        results = dict(
            zip(
                COMMANDS,
                pool.map(
                    lambda name: run(COMMANDS[name], settings, tmp_path / name), list(COMMANDS)
                ),
                strict=True,
            )
        )
    for name, result in results.items():
        shown = result.stdout + result.stderr
        assert result.returncode == 2, (name, result.returncode, shown[-3000:])
        assert key in shown and detail in shown, (name, shown[-3000:])
        assert "Traceback" not in shown, (name, shown[-3000:])
        assert PASSWORD not in shown and TOKEN not in shown, (name, shown)
        # nothing was started: no database, no log written
        assert not (tmp_path / name / "never.db").exists(), name
