"""Issue 15, item 11: a database the command cannot reach is one line, not a traceback.

Every ``helios`` command, run for real (``python -m helios.cli`` as a child process), against a
PostgreSQL URL whose port nobody listens on (with a password that must never be printed) and
against SQLite paths that cannot be opened (a folder, a path under a file, a file that is not a
database): exit code 2 and exactly one line on stderr naming the database (password hidden) and
the error. ``helios config`` does not touch the database and still works, password hidden.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_processes import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-Pa55word"
COMMANDS: list[list[str]] = [
    ["status"],
    ["migrate"],
    ["scheduler"],
    ["api"],
    ["dashboard"],
    ["up"],
    ["up", "--api", "--no-dashboard"],
    ["halt", "--by", "ops"],
    ["resume", "--by", "ops"],
    ["emergency-stop", "--by", "ops", "--reason", "drill"],
    ["close-all", "--by", "ops"],
    ["mode"],
    ["mode", "PAPER", "--by", "ops"],
    ["signal", "BTCZAR", "BUY", "--confidence", "0.8"],
]


def helios(database_url: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        HELIOS_ENV_FILE="",
        DATABASE_URL=database_url,
        MARKET_FEED="manual",
        LOG_FILE=str(folder / "logs" / "helios.log"),
        JOURNAL_DIR=str(folder / "journal"),
    )
    return subprocess.run(
        [sys.executable, "-m", "helios.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], shown: str, command: list[str]):
    where = f"helios {' '.join(command)}"
    assert result.returncode == 2, (where, result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (where, result.stderr[-3000:])
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    assert lines[0].startswith("helios: ") and shown in lines[0], (where, lines[0])
    return lines[0]


def test_every_command_against_an_unreachable_postgresql_is_one_line(tmp_path: Path):
    port = free_port()  # nobody listens there
    url = f"postgresql://helios:{PASSWORD}@127.0.0.1:{port}/helios"
    shown = f"postgresql://helios:***@127.0.0.1:{port}/helios"
    for command in COMMANDS:
        line = assert_one_line(helios(url, tmp_path, *command), shown, command)
        assert "refused" in line.lower(), line
    config = helios(url, tmp_path, "config")
    assert config.returncode == 0 and shown in config.stdout and PASSWORD not in config.stdout


@pytest.mark.parametrize("kind", ["a_folder", "under_a_file", "not_a_database"])
def test_every_command_against_an_unopenable_sqlite_file_is_one_line(tmp_path: Path, kind: str):
    if kind == "a_folder":
        path = tmp_path / "helios.db"
        path.mkdir()
    elif kind == "under_a_file":
        (tmp_path / "plain").write_text("a file, not a folder")
        path = tmp_path / "plain" / "helios.db"
    else:
        path = tmp_path / "helios.db"
        path.write_bytes(b"this is not an SQLite database, just text" * 100)
    url = f"sqlite:///{path}"
    for command in COMMANDS if kind == "a_folder" else COMMANDS[:3] + COMMANDS[7:10]:
        assert_one_line(helios(url, tmp_path, *command), str(path), command)
