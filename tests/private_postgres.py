"""A private PostgreSQL server for tests that stop and start the database (never the shared one).

``PrivatePostgres(folder)`` runs ``initdb`` once into ``folder`` and ``pg_ctl`` on a free port on
127.0.0.1 with trust auth; ``url`` names its database ``helios``. ``stop()`` is a fast shutdown
(every session is cut, as a crashed or restarted server does), ``start()`` brings it back on the
same port. As root the server runs as the ``postgres`` user (PostgreSQL refuses root), so its
folder is made in a place that user can reach.

Skips (or, with HELIOS_REQUIRE_POSTGRES=1, fails) the test when ``initdb``/``pg_ctl`` are absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRE = os.environ.get("HELIOS_REQUIRE_POSTGRES") == "1"


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    def __init__(self, database: str = "helios") -> None:
        initdb, self._pg_ctl = _tool("initdb"), _tool("pg_ctl")
        if initdb is None or self._pg_ctl is None:
            message = "a private PostgreSQL needs initdb and pg_ctl (Debian: postgresql)"
            if REQUIRE:
                pytest.fail(message + " and HELIOS_REQUIRE_POSTGRES=1 forbids skipping")
            pytest.skip(message)
        self._as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="helios-pg-"))
        self.data = self.folder / "data"
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            self.folder.chmod(0o755)
        self.port = free_port()
        self.user = "postgres"
        self._run(initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres",
            "-qc", f"CREATE DATABASE {database}",
        )  # fmt: skip
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        if self._as_root:
            command = ("runuser", "-u", "postgres", "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self._pg_ctl or "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: every session is terminated, as when the server restarts."""
        self._run(self._pg_ctl or "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self._run(self._pg_ctl or "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
