"""Issue 15, item 9: no secret reaches a log line, whatever a client puts in its URL.

``helios api`` runs for real (uvicorn in its own process on a free port, its terminal output
captured and ``LOG_FILE`` set); requests carry secrets in the query string under names that
look secret (``token``, ``api_key``, ``password``, ``signature``...), and configured secrets
(``HELIOS_API_TOKEN``, the VALR key and secret, the database password) under innocent names,
raw and percent-encoded, and in the path. Then the logs are read: the access lines are there,
and not one secret anywhere.
"""

from __future__ import annotations

import http.client
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.api_process import ApiProcess
from tests.fakes.valr import FAKE_API_KEY, FAKE_API_SECRET

TOKEN = "tok+en/with=odd&chars-0123456789abcd"  # needs percent-encoding in a URL
DB_PASSWORD = "db-Pa55word+x"
SECRET_NAMES = [
    "token",
    "Token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "signature",
    "X-Amz-Signature",
    "auth",
    "session_id",
]


@pytest.fixture
def server_url(database_url: str) -> Iterator[str]:
    """The test database, reached with a password on PostgreSQL (a role made for this test)."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    from tests import conftest

    role = f"helios_scrub_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url)
    admin = conftest._admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'"))
    try:
        yield url.set(username=role, password=DB_PASSWORD).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE usename = '{role}'"
                )
            )
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def get(port: int, target: str) -> int:
    """A request with exactly this target (no client re-encoding)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Bearer {TOKEN}")
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_no_secret_in_any_log_line_of_a_real_api_server(server_url: str, tmp_path: Path):
    log_file = tmp_path / "logs" / "helios.log"
    api = ApiProcess(
        tmp_path / "terminal.out",
        database_url=server_url,
        helios_api_token=TOKEN,
        valr_api_key=FAKE_API_KEY,
        valr_api_secret=FAKE_API_SECRET,
        log_file=log_file,
        log_level="DEBUG",
        journal_dir=tmp_path / "journal",
    )
    port = api.port
    try:
        unconfigured = [f"nobody-knows-{i}-{uuid.uuid4().hex}" for i in range(len(SECRET_NAMES))]
        configured = [TOKEN, FAKE_API_KEY, FAKE_API_SECRET]
        if "@" in server_url:
            configured.append(DB_PASSWORD)
        targets = [
            f"/api/portfolio/summary?{name}={value}&limit=5"
            for name, value in zip(SECRET_NAMES, unconfigured, strict=True)
        ]
        targets += [f"/api/portfolio/positions?status=OPEN&{SECRET_NAMES[0]}={unconfigured[0]}"]
        targets += [f"/api/portfolio/summary?a=1;token={unconfigured[1]}"]
        for value in configured:
            for shown in {value, quote(value, safe=""), quote_plus(value), quote(value)}:
                targets.append(f"/api/portfolio/summary?q={shown}&x=1")
                targets.append(f"/api/portfolio/summary?q={shown.lower()}")  # %2b as well as %2B
                targets.append(f"/api/portfolio/positions/{shown}")
        for target in targets:
            assert get(port, target) in (200, 404, 422), target
    finally:
        api.stop()
    logged = api.log()
    logged += "\n" + log_file.read_text(encoding="utf-8", errors="replace")
    assert '"GET /api/portfolio/summary?token=***&limit=5 HTTP/1.1" 200' in logged, logged[-3000:]
    assert "api_key=***&limit=5" in logged and "X-Amz-Signature=***" in logged
    lowered = logged.lower()
    for secret in unconfigured + configured:
        for form in {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}:
            assert form.lower() not in lowered, f"{form} is in the logs"


def test_the_filter_scrubs_messages_arguments_and_tracebacks():
    from helios.redact import SecretFilter, scrub

    assert scrub("GET /x?token=abc&b=2 HTTP/1.1", []) == "GET /x?token=***&b=2 HTTP/1.1"
    assert scrub("GET /x?q=sup3rsecret", ["sup3rsecret"]) == "GET /x?q=***"
    assert scrub("short pw here", ["pw"]) == "short pw here"  # too short to scrub safely
    handler = logging.StreamHandler()
    handler.addFilter(SecretFilter(["sup3rsecret"]))
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', ("c", "GET", "/?key=k1"), None
    )
    assert handler.filter(record)
    assert record.getMessage() == 'c - "GET /?key=***"' and record.args == ("c", "GET", "/?key=***")
    try:
        raise RuntimeError("failed with sup3rsecret")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    assert handler.filter(record)
    assert "sup3rsecret" not in handler.format(record) and "***" in handler.format(record)
