"""Issue 15 items 4, 5 and 8: the API at its edges, under a real uvicorn on 127.0.0.1.

- 4: a database outage answers 503 ``database_unavailable`` with a ``Retry-After`` and what still
  works (the scheduler's journal close-out), not 500; ``GET /api/health`` says which parts are up
  (PostgreSQL: a private server the test stops and starts; SQLite: a write lock held past the
  busy timeout).
- 5: a body over ``API_MAX_BODY_BYTES`` is refused with 413 while it is read (a Content-Length
  over the limit at once, a chunked body when it passes the limit), without waiting for the
  rest; a write's token is checked before its body is read (malformed JSON without a token: 401);
  a body that does not arrive within ``API_BODY_TIMEOUT_SECONDS`` gets 408 and the connection is
  closed.
- 8: an optimizer prediction out of range is 422 naming ``ml_predictions.PAIR`` (the rule lives
  in ``helios.optimizer.views``, so every caller gets it); a solver failure is the equal-weights
  fallback it is; after a 500 the same keep-alive connection serves the next request.

The raw-socket tests send exactly the bytes a hostile or broken client would; a socket timeout
bounds each wait, so a server that waits for the rest of a body fails the test instead of
hanging it.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import uvicorn
from fastapi import FastAPI

import helios
from api.app import create_app
from helios.clock import ManualClock
from helios.config import load_settings
from helios.errors import ConfigError, InvalidInput
from helios.heartbeat import beat
from helios.optimizer import model
from helios.optimizer.views import MAX_PREDICTION
from tests.factories import SEED_TRADE, connect_book, give_market
from tests.private_postgres import PrivatePostgres, free_port

pytestmark = pytest.mark.slow
TOKEN = "edges-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT = 15.0  # seconds a socket waits for an answer before the test calls it a hang
RISK_CHECK = "/api/portfolio/risk/check"
CLOSE_ALL = "/api/portfolio/positions/close-all"
MODE = "/api/orchestrator/system/trading/mode"


class Served:
    """``app`` under a real uvicorn server in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(
        database_url,
        clock,
        helios_api_token=TOKEN,
        api_max_body_bytes=4096,
        api_body_timeout_seconds=1,
    ) as hx:
        give_market(hx)
        yield hx


@pytest.fixture
def served(book: helios.Helios) -> Iterator[Served]:
    app = create_app(book)

    @app.get("/test/boom")
    def boom() -> None:  # an unexpected failure in a handler
        raise RuntimeError("boom")

    server = Served(app)
    try:
        yield server
    finally:
        server.stop()


# --- raw HTTP ----------------------------------------------------------------------------------


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, headers in lower case, body by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the body")
        rest += chunk
    return status, headers, rest[:length]


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection (EOF or reset) within the wait."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# --- item 5: the body limit, the token before the body, the slow body ----------------------------


def test_a_content_length_over_the_limit_is_413_at_once_without_the_body(served: Served):
    """Eight 100 MB POSTs took the API to 1.74 GB: the declared length alone is enough now. The
    client sends 1 KB of its 100 MB; the answer comes without the rest."""
    with connect(served.port) as sock:
        head = {"Content-Type": "application/json", "Content-Length": str(100 * 1024 * 1024)}
        sock.sendall(request_head("POST", RISK_CHECK, head) + b"[" * 1024)
        status, headers, body = read_response(sock)
        assert status == 413, body
        answer = json.loads(body)
        assert answer["error"] == "body_too_large" and answer["field"] == "body"
        assert answer["value"] == 100 * 1024 * 1024
        assert "4096" in answer["allowed"] and "API_MAX_BODY_BYTES" in answer["allowed"]
        assert headers["connection"] == "close"
        assert closed_by_server(sock)


def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit(served: Served):
    """No Content-Length: the guard counts while reading and answers when the count passes the
    limit; the client never sends the end of its body."""
    with connect(served.port) as sock:
        head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        sock.sendall(request_head("POST", RISK_CHECK, head))
        for _ in range(5):  # 5 KiB > 4 KiB, and no final 0-length chunk
            sock.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
        status, _, body = read_response(sock)
        assert status == 413, body
        assert json.loads(body)["value"] == "more than 4096 bytes"


def test_a_body_within_the_limit_is_served(served: Served, book: helios.Helios):
    body = {"pair": "BTCZAR", "signal": "BUY", "trade_params": SEED_TRADE}
    response = requests.post(served.base + RISK_CHECK, json=body, timeout=WAIT)
    assert response.status_code == 200, response.text
    assert response.json()["passed"] is book.risk.preview("BTCZAR", "BUY", SEED_TRADE).passed


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("api_max_body_bytes", 100, ">= 1024 and <= 16777216"),
        ("api_body_timeout_seconds", 0, ">= 0.5 and <= 300"),
    ],
)
def test_the_limits_are_settings_with_a_range(key: str, value: float, allowed: str):
    with pytest.raises(ConfigError) as caught:
        load_settings(**{key: value})
    [(name, given, rule)] = caught.value.problems
    assert (name, given) == (key.upper(), value) and allowed in rule
    assert load_settings().api_max_body_bytes == 64 * 1024


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-0123456789abcdefgh"}])
def test_a_write_without_the_token_is_401_before_its_body_is_parsed(
    served: Served, book: helios.Helios, headers: dict[str, str]
):
    """Malformed JSON without a token answered 422 (the body was parsed first): now 401."""
    response = requests.post(
        served.base + CLOSE_ALL,
        data=b'{"by": "x", ',
        headers={"Content-Type": "application/json", **headers},
        timeout=WAIT,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    # and a huge body without a token: 401 on the headers alone, nothing of the body waited for
    with connect(served.port) as sock:
        head = {"Content-Type": "application/json", "Content-Length": str(10**8), **headers}
        sock.sendall(request_head("PUT", MODE, head) + b"{")
        status, _, body = read_response(sock)
        assert status == 401, body
    # with the token, malformed JSON is bad input (422) as before
    response = requests.post(
        served.base + CLOSE_ALL,
        data=b'{"by": "x", ',
        headers={"Content-Type": "application/json", **AUTH},
        timeout=WAIT,
    )
    assert response.status_code == 422 and response.json()["field"] == "body"


def test_a_write_without_a_token_setting_is_403_before_its_body_is_parsed(
    database_url: str, clock: ManualClock
):
    with connect_book(database_url, clock) as hx:
        server = Served(create_app(hx))
        try:
            response = requests.post(
                server.base + CLOSE_ALL,
                data=b"not json",
                headers={"Content-Type": "application/json"},
                timeout=WAIT,
            )
        finally:
            server.stop()
    assert response.status_code == 403 and response.json()["error"] == "writes_disabled"


def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(served: Served):
    """1,000 connections sending incomplete bodies were held 60 s: API_BODY_TIMEOUT_SECONDS (1 s
    here) bounds the wait for a body, then the server answers 408 and closes."""
    with connect(served.port) as sock:
        head = {"Content-Type": "application/json", "Content-Length": "200"}
        sock.sendall(request_head("POST", RISK_CHECK, head) + b'{"pair": ')
        status, headers, body = read_response(sock)
        assert status == 408, body
        answer = json.loads(body)
        assert answer["error"] == "body_timeout" and "API_BODY_TIMEOUT_SECONDS" in answer["allowed"]
        assert headers["connection"] == "close"
        assert closed_by_server(sock)


# --- item 8: the optimizer's bound, its solver fallback, the connection after a 500 --------------

OPTIMIZER = "/api/portfolio/optimizer/weights"
PAIRS = ["BTCZAR", "ETHZAR", "SOLZAR"]


@pytest.mark.parametrize("value", [1e308, MAX_PREDICTION * 1.5, 1e6])
def test_an_out_of_range_prediction_is_422_naming_the_pair(served: Served, value: float):
    """1e308 answered 500 (cvxpy: "Problem data contains NaN or Inf")."""
    request = {
        "pairs": PAIRS,
        "ml_predictions": {"BTCZAR": 0.05, "SOLZAR": value},
        "confidence_scores": {"BTCZAR": 0.5, "SOLZAR": 0.5},
    }
    response = requests.post(served.base + OPTIMIZER, json=request, timeout=60)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid_input"
    assert answer["field"] == "ml_predictions.SOLZAR" and answer["value"] == value
    assert "> -1" in answer["allowed"] and f"<= {MAX_PREDICTION:g}" in answer["allowed"]


def test_the_prediction_bound_is_the_optimizers_own(book: helios.Helios):
    """The console and the trading loop call hx.optimizer: the same rule, the same error."""
    with pytest.raises(InvalidInput) as caught:
        book.optimizer.explain(PAIRS, {"ETHZAR": 1e308}, {"ETHZAR": 0.5})
    assert caught.value.field == "ml_predictions.ETHZAR" and caught.value.value == 1e308
    result = book.optimizer.explain(
        PAIRS, {"ETHZAR": MAX_PREDICTION}, {"ETHZAR": 0.5}, frontier_points=0
    )
    assert sum(result["weights"].values()) == pytest.approx(1.0)


def test_a_solver_failure_is_the_equal_weights_fallback_with_its_reason():
    """Problem data the solver cannot take (an infinite view, which the request checks keep
    out) is reported as the fallback it is, not raised."""
    n = len(PAIRS)
    cov = np.full((n, n), 0.2) + np.eye(n) * 0.4
    problem = model.Problem(
        pairs=tuple(PAIRS),
        cov=cov,
        market_caps=np.array([3.0, 2.0, 1.0]),
        predictions={"BTCZAR": 1e308},
        confidences={"BTCZAR": 0.5},
        views={"BTCZAR": float("inf")},
        risk_aversion=2.5,
        tau=0.05,
        risk_free_rate=0.07,
        max_weight=1.0,
        horizon_days=3.0,
        periods_per_year=365,
    )
    result = model.solve(problem)
    assert result["method"] == "equal_weights"
    assert result["weights"] == pytest.approx({pair: 1 / n for pair in PAIRS})
    kinds = [f["kind"] for f in result["fallback"]]
    assert kinds == ["solver_failure"], result["fallback"]
    assert "equal weights" in result["fallback"][0]["reason"]


def test_after_a_500_the_same_connection_serves_the_next_request(served: Served):
    """Starlette's ServerErrorMiddleware re-raised after sending the 500, and uvicorn closed the
    connection under the client's next request. Two requests on one socket now both answer."""
    with connect(served.port) as sock:
        sock.sendall(request_head("GET", "/test/boom", {}))
        status, headers, body = read_response(sock)
        assert status == 500
        answer = json.loads(body)
        assert answer["error"] == "internal_error" and "ref " in answer["message"]
        assert headers.get("connection") != "close"
        sock.sendall(request_head("GET", MODE, {}))
        status, _, body = read_response(sock)
        assert status == 200 and json.loads(body)["mode"] == "PAPER"


# --- item 4: health, and the database outage -----------------------------------------------------


def test_health_says_which_parts_are_up(served: Served, book: helios.Helios, clock: ManualClock):
    answer = requests.get(served.base + "/api/health", timeout=WAIT)
    assert answer.status_code == 200, answer.text
    health = answer.json()
    # no scheduler has beaten yet: the API serves, the whole is degraded
    assert health["status"] == "degraded"
    assert health["database"]["up"] is True
    assert health["scheduler"]["up"] is False
    assert health["scheduler"]["heartbeat_age_seconds"] is None
    assert health["feed"]["up"] is True and health["feed"]["age_seconds"] == 0
    assert health["halt"]["halted"] is False
    now = clock.now()
    beat(book.db, "scheduler", now, now, {"identity": "test"})
    clock.advance(seconds=4)
    health = requests.get(served.base + "/api/health", timeout=WAIT).json()
    assert health["status"] == "ok", health
    assert health["scheduler"] == {
        "up": True,
        "heartbeat_age_seconds": 4.0,
        "stale_after_seconds": 3 * book.settings.heartbeat_interval_seconds,
    }
    assert health["feed"]["age_seconds"] == 4.0
    clock.advance(seconds=book.settings.price_max_age_seconds)  # prices and beat now stale
    book.controls.halt("test halt", "ops")
    answer = requests.get(served.base + "/api/health", timeout=WAIT)
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "degraded"
    assert health["scheduler"]["up"] is False and health["feed"]["up"] is False
    assert health["feed"]["stale_pairs"] == sorted(book.settings.pairs)
    assert health["halt"]["halted"] is True and health["halt"]["reason"] == "test halt"


def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.3)


def assert_unavailable(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    answer = response.json()
    assert answer["error"] == "database_unavailable"
    assert "journal" in " ".join(answer["still_works"])
    return answer


def test_a_postgresql_outage_answers_503_with_retry_after_and_health_says_so(tmp_path: Path):
    """A private server (never the shared one) stopped under a running API: reads and
    close-all answered 500 internal_error; now 503 database_unavailable, and health 503."""
    pg = PrivatePostgres()
    try:
        with helios.connect(pg.url, market_feed="manual", helios_api_token=TOKEN) as hx:
            give_market(hx)
            assert hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "edges")["success"]
            server = Served(create_app(hx))
            try:
                base = server.base
                assert requests.get(base + "/api/health", timeout=WAIT).json()["database"]["up"]
                pg.stop()
                assert_unavailable(requests.get(base + "/api/portfolio/summary", timeout=WAIT))
                assert_unavailable(requests.get(base + "/api/portfolio/positions", timeout=WAIT))
                assert_unavailable(
                    requests.post(base + CLOSE_ALL, json={"by": "ops"}, headers=AUTH, timeout=WAIT)
                )
                health = requests.get(base + "/api/health", timeout=WAIT)
                assert health.status_code == 503 and int(health.headers["retry-after"]) > 0
                body = health.json()
                assert body["status"] == "down" and body["database"]["up"] is False
                assert body["scheduler"]["up"] is None and body["halt"]["halted"] is None
                assert "journal" in " ".join(body["still_works"])
                pg.start()
                wait_for(
                    lambda: requests.get(base + "/api/health", timeout=WAIT).status_code == 200
                )
                done = requests.post(base + CLOSE_ALL, json={"by": "ops"}, headers=AUTH, timeout=30)
                assert done.status_code == 200, done.text
                assert len(done.json()["closed"]) == 1
            finally:
                server.stop()
    finally:
        pg.close()


def test_a_sqlite_write_lock_past_the_busy_timeout_is_503_while_reads_answer(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
):
    """SQLite's outage is a write lock another process holds past the busy timeout: a write
    is 503 database_unavailable (not 500), reads answer (WAL), and the write works after."""
    from tests.conftest import new_sqlite_url

    url = new_sqlite_url(sqlite_template, tmp_path)
    with connect_book(url, clock, helios_api_token=TOKEN, sqlite_busy_timeout_seconds=0.2) as hx:
        give_market(hx)
        assert hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "edges")["success"]
        server = Served(create_app(hx))
        holder = sqlite3.connect(hx.db.engine.url.database, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            assert_unavailable(
                requests.post(
                    server.base + CLOSE_ALL, json={"by": "ops"}, headers=AUTH, timeout=WAIT
                )
            )
            assert requests.get(server.base + "/api/portfolio/summary", timeout=WAIT).ok
            holder.execute("ROLLBACK")
            done = requests.post(
                server.base + CLOSE_ALL, json={"by": "ops"}, headers=AUTH, timeout=WAIT
            )
            assert done.status_code == 200 and len(done.json()["closed"]) == 1, done.text
        finally:
            holder.close()
            server.stop()
