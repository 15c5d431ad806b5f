"""The REST API (issue #9) through FastAPI's TestClient against real databases (SQLite and
PostgreSQL): every endpoint's status and shape, writes that change the database exactly as the
Python calls do, writes without the token refused with nothing changed, bad input named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

import helios
from api.app import create_app
from helios.clock import ManualClock
from helios.db.models import Base, Event, Signal
from tests.factories import SEED_TRADE, connect_book, give_market

TOKEN = "test-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# every write: method, path, a valid body
WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/api/portfolio/positions/1/close", {"by": "thandi"}),
    ("POST", "/api/portfolio/positions/close-all", {"by": "thandi"}),
    ("PUT", "/api/portfolio/risk/limits", {"by": "thandi", "max_leverage": 2}),
    ("PUT", "/api/orchestrator/system/trading/mode", {"mode": "PAPER", "by": "thandi"}),
    ("POST", "/api/autonomous-engine/start", {"by": "thandi"}),
    ("POST", "/api/autonomous-engine/emergency-stop", {"by": "thandi"}),
    (
        "POST",
        "/api/signals",
        {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": True},
    ),
    ("POST", "/api/locks", {"pair": "BTCZAR", "hours": 6, "by": "thandi", "reason": "news"}),
]
READS = [
    "/api/portfolio/summary",
    "/api/portfolio/state/current",
    "/api/portfolio/performance/metrics",
    "/api/portfolio/positions",
    "/api/portfolio/positions?status=OPEN",
    "/api/portfolio/risk-metrics",
    "/api/portfolio/risk/limits",
    "/api/orchestrator/system/trading/mode",
]


def row_counts(hx: helios.Helios) -> dict[str, int]:
    """Rows in every table (to prove nothing was written)."""
    with hx.db.read() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }


def settings_rows(hx: helios.Helios) -> dict[str, str]:
    with hx.db.read() as session:
        rows = session.execute(text("SELECT key, value FROM settings")).all()
    return {key: value for key, value in rows if key != "installation_id"}  # random per database


@pytest.fixture
def twin_url(database_url: str, request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A second fresh database of the same kind as ``database_url``."""
    from sqlalchemy.engine import make_url

    from tests import conftest

    if database_url.startswith("sqlite"):
        yield conftest.new_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    name = f"{conftest.PREFIX}{next(conftest._counter)}"
    admin = conftest._admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """The seed's paper book with a market the risk checks can judge, and the API token."""
    with connect_book(database_url, clock, helios_api_token=TOKEN) as hx:
        give_market(hx)
        yield hx


@pytest.fixture
def client(book: helios.Helios) -> Iterator[TestClient]:
    with TestClient(create_app(book), raise_server_exceptions=False) as test_client:
        yield test_client


def open_two(hx: helios.Helios) -> tuple[int, int]:
    first = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "api test")
    second = hx.positions.open_position("ETHZAR", "SELL", SEED_TRADE, "api test")
    assert first["success"] and second["success"], (first, second)
    return first["position_id"], second["position_id"]


# --- reads -------------------------------------------------------------------------------------


def test_every_read_answers_200_with_the_figures_helios_gives(
    client: TestClient, book: helios.Helios
):
    open_two(book)
    for path in READS:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    v = book.ledger.valuation()
    summary = client.get("/api/portfolio/summary").json()
    assert summary["mode"] == "PAPER" and summary["halted"] is False
    assert summary["total_value"] == str(v.equity)
    assert summary["cash"] == str(v.cash)
    assert summary["pnl"] == str(v.equity - v.initial_capital)
    assert summary["pnl_pct"] == pytest.approx(
        float((v.equity - v.initial_capital) / v.initial_capital)
    )
    assert summary["open_positions"] == 2
    assert summary["drawdown"] == pytest.approx(float(v.drawdown))
    state = client.get("/api/portfolio/state/current").json()
    assert state["valuation"]["margin"] == str(v.margin)
    assert [p["position_id"] for p in state["positions"]] == [1, 2]
    assert state["latest_prices"]["BTCZAR"] == str(book.market.latest_price("BTCZAR"))
    risk = client.get("/api/portfolio/risk-metrics").json()
    assert [row["check"] for row in risk["limits"]] == [
        row["check"] for row in book.risk.utilisation()
    ]
    assert risk["leverage"] == pytest.approx(float(v.leverage))
    limits = client.get("/api/portfolio/risk/limits").json()
    assert limits == json.loads(json.dumps(book.risk.get_limits().to_dict())) | {
        "changed_at": limits["changed_at"]
    }
    assert limits["version"] == 1
    metrics = client.get("/api/portfolio/performance/metrics").json()
    assert {"sharpe", "sortino", "max_drawdown", "win_rate", "exits"} <= set(metrics)
    mode = client.get("/api/orchestrator/system/trading/mode").json()
    assert mode["mode"] == "PAPER"


def test_positions_by_status_and_one_positions_story(client: TestClient, book: helios.Helios):
    first, second = open_two(book)
    assert book.positions.close_position(first, "CLOSED", actor="test")["success"]
    everything = client.get("/api/portfolio/positions").json()
    assert {(p["position_id"], p["status"]) for p in everything} == {
        (first, "CLOSED"),
        (second, "OPEN"),
    }
    only_open = client.get("/api/portfolio/positions", params={"status": "OPEN"}).json()
    assert [p["position_id"] for p in only_open] == [second]
    assert only_open[0]["unrealized_pnl"] is not None
    closed = client.get("/api/portfolio/positions", params={"status": "CLOSED"}).json()
    assert [p["position_id"] for p in closed] == [first]
    assert closed[0]["realized_pnl"] == str(book.positions.closed_positions()["realized_pnl"][0])
    assert client.get("/api/portfolio/positions", params={"status": "TIMEOUT"}).json() == []
    by_pair = client.get("/api/portfolio/positions", params={"pair": "ETHZAR"}).json()
    assert [p["position_id"] for p in by_pair] == [second]
    story = client.get(f"/api/portfolio/positions/{first}").json()
    expected = json.loads(json.dumps(book.positions.position_history(first), default=str))
    assert story == expected
    missing = client.get("/api/portfolio/positions/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found" and missing.json()["field"] == "position_id"
    bad = client.get("/api/portfolio/positions", params={"status": "SIDEWAYS"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"


# --- writes do what the Python calls do --------------------------------------------------------


def _twin_steps_api(client: TestClient) -> list[int]:
    codes = [
        client.post("/api/portfolio/positions/1/close", json={"by": "thandi"}, headers=AUTH),
        client.put(
            "/api/portfolio/risk/limits",
            json={"by": "thandi", "max_leverage": 2, "note": "calmer"},
            headers=AUTH,
        ),
        client.post(
            "/api/autonomous-engine/emergency-stop",
            json={"by": "thandi", "reason": "drill"},
            headers=AUTH,
        ),
        client.post("/api/autonomous-engine/start", json={"by": "thandi"}, headers=AUTH),
        client.put(
            "/api/orchestrator/system/trading/mode",
            json={"mode": "PAPER", "by": "thandi"},
            headers=AUTH,
        ),
    ]
    return [c.status_code for c in codes]


def _twin_steps_python(hx: helios.Helios) -> None:
    assert hx.positions.close_position(1, "CLOSED", actor="api:thandi")["success"]
    hx.risk.update_limits({"max_leverage": 2}, "api:thandi", "calmer")
    hx.controls.emergency_stop("api:thandi", "drill")
    hx.controls.resume("api:thandi", "")
    hx.controls.set_mode("PAPER", "api:thandi", "")


def _state(hx: helios.Helios) -> dict[str, Any]:
    """What the writes leave in the database, without row ids' timing noise."""
    closed = hx.positions.closed_positions()
    with hx.db.read() as session:
        events = [
            (e.kind, e.actor, e.severity) for e in session.scalars(select(Event).order_by(Event.id))
        ]
    limits = hx.risk.get_limits()
    book_rows = closed.astype(str).to_dict("records")
    return {
        "counts": row_counts(hx),
        "closed": book_rows,
        "open": [{k: str(v) for k, v in p.items()} for p in hx.positions.get_open_positions()],
        "valuation": hx.ledger.valuation(),
        "limits": (limits.values(), limits.version, limits.changed_by),
        "settings": settings_rows(hx),
        "events": events,
        "halt": hx.controls.halt_state(),
    }


def test_writes_change_the_database_exactly_as_the_python_calls_do(
    database_url: str, twin_url: str
):
    """The same steps, once through the API and once through helios, on two databases that
    start equal, with the same hand-moved clock: the same rows, the same books."""
    from tests.conftest import START

    outcomes = []
    for url, through_api in ((database_url, True), (twin_url, False)):
        clock = ManualClock(START)
        with connect_book(url, clock, helios_api_token=TOKEN) as hx:
            give_market(hx)
            open_two(hx)
            if through_api:
                with TestClient(create_app(hx), raise_server_exceptions=False) as client:
                    assert _twin_steps_api(client) == [200, 200, 200, 200, 200]
            else:
                _twin_steps_python(hx)
            outcomes.append(_state(hx))
    via_api, via_python = outcomes
    assert via_api == via_python
    assert via_api["closed"][0]["status"] == "EMERGENCY_CLOSE"  # newest first: position 2
    assert {row["status"] for row in via_api["closed"]} == {"CLOSED", "EMERGENCY_CLOSE"}
    assert ("EMERGENCY_STOP", "api:thandi", "CRITICAL") in via_api["events"]
    assert via_api["limits"][2] == "api:thandi"


def test_close_answers_the_close_and_a_second_close_is_refused_409(
    client: TestClient, book: helios.Helios
):
    first, _ = open_two(book)
    done = client.post(f"/api/portfolio/positions/{first}/close", headers=AUTH)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["success"] is True and body["status"] == "CLOSED"
    assert Decimal(body["realized_pnl"]) == Decimal(
        book.positions.position_history(first)["position"]["realized_pnl"]
    )
    before = row_counts(book)
    again = client.post(f"/api/portfolio/positions/{first}/close", headers=AUTH)
    assert again.status_code == 409
    assert again.json()["error"] == "refused" and "already closing/closed" in again.json()["reason"]
    assert row_counts(book) == before
    missing = client.post("/api/portfolio/positions/999/close", headers=AUTH)
    assert missing.status_code == 404
    assert row_counts(book) == before
    # the caller is recorded with the close
    kinds = [e["message"] for e in book.positions.position_history(first)["events"]]
    assert any("requested by api" in message for message in kinds)


def test_emergency_stop_and_close_all_and_resume_record_who(
    client: TestClient, book: helios.Helios
):
    open_two(book)
    stop = client.post(
        "/api/autonomous-engine/emergency-stop",
        json={"by": "thandi", "reason": "drill"},
        headers=AUTH,
    )
    assert stop.status_code == 200, stop.text
    body = stop.json()
    assert body["halt"]["halted"] is True and body["halt"]["by"] == "api:thandi"
    assert {c["status"] for c in body["closed"]} == {"EMERGENCY_CLOSE"} and body["failed"] == []
    assert book.controls.halt_state().cause == "emergency_stop"
    assert book.positions.get_open_positions() == []
    refused_signal = client.post(
        "/api/signals",
        json={"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": False},
        headers=AUTH,
    )
    assert refused_signal.status_code == 409
    resume = client.post(
        "/api/autonomous-engine/start", json={"by": "thandi", "note": "ok"}, headers=AUTH
    )
    assert resume.status_code == 200 and resume.json()["resumed"] is True
    assert book.controls.is_halted() is False
    again = client.post("/api/autonomous-engine/start", json={"by": "thandi"}, headers=AUTH)
    assert again.json()["resumed"] is False
    nobody = client.post("/api/autonomous-engine/start", json={}, headers=AUTH)
    assert nobody.status_code == 422 and nobody.json()["field"] == "by"
    close_all = client.post("/api/portfolio/positions/close-all", headers=AUTH)  # no body at all
    assert close_all.status_code == 200 and close_all.json() == {"closed": [], "failed": []}
    actors = {e["actor"] for e in book.controls.event_log()}
    assert {"api:thandi", "api"} <= actors


def test_mode_PAPER_at_once_and_LIVE_refused_with_every_missing_item(
    client: TestClient, book: helios.Helios
):
    paper = client.put(
        "/api/orchestrator/system/trading/mode", json={"mode": "PAPER"}, headers=AUTH
    )
    assert paper.status_code == 200 and paper.json() == {
        "mode": "PAPER",
        "halted": False,
        "changed": False,
    }
    live = client.put("/api/orchestrator/system/trading/mode", json={"mode": "LIVE"}, headers=AUTH)
    assert live.status_code == 409
    body = live.json()
    assert body["error"] == "refused"
    assert len(body["missing"]) >= 3
    assert {item["key"] for item in body["checklist"]["items"]} >= {"monitoring"}
    assert book.controls.trading_mode().value == "PAPER"
    refusal = book.controls.event_log(kind="MODE_CHANGE_REFUSED")
    assert refusal and refusal[0]["actor"] == "api"
    lower = client.put(
        "/api/orchestrator/system/trading/mode", json={"mode": "paper"}, headers=AUTH
    )
    assert lower.status_code == 422 and lower.json()["field"] == "mode"


def test_limits_update_is_a_new_version_and_bad_values_name_the_field(
    client: TestClient, book: helios.Helios
):
    done = client.put(
        "/api/portfolio/risk/limits",
        json={"by": "thandi", "max_drawdown_pct": 0.1, "note": "tighter"},
        headers=AUTH,
    )
    assert done.status_code == 200, done.text
    assert done.json()["version"] == 2 and done.json()["max_drawdown_pct"] == 0.1
    assert book.risk.get_limits().max_drawdown_pct == 0.1
    before = row_counts(book)
    for body, field in (
        ({"by": "thandi", "max_leverage": 50}, "max_leverage"),
        ({"by": "thandi", "max_drawdown_pct": 0}, "max_drawdown_pct"),
        ({"by": "thandi", "max_drawdwn_pct": 0.1}, "max_drawdwn_pct"),  # a typo is refused
        ({"by": "thandi"}, "changes"),  # nothing to change: helios says so
        ({"max_leverage": 2}, "by"),
        ({"by": "thandi", "max_leverage": "lots"}, "max_leverage"),
    ):
        response = client.put("/api/portfolio/risk/limits", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        error = response.json()
        assert error["error"] == "invalid_input" and error["field"] == field, error
        assert "value" in error and (error.get("rule") or error.get("allowed"))
    assert row_counts(book) == before
    assert book.risk.get_limits().version == 2


# --- the upstream tiers -------------------------------------------------------------------------


def test_signals_queued_refused_and_malformed(client: TestClient, book: helios.Helios):
    signal = {
        "pair": "BTCZAR",
        "side": "BUY",
        "confidence": 0.85,
        "llm_approved": True,
        "llm_reasoning": "breakout confirmed",
        "trade_params": {"position_size_zar": 903, "stop_loss_pct": 0.02},
        "source": "tier4",
        "dedup_key": "tier4-1",
    }
    queued = client.post("/api/signals", json=signal, headers=AUTH)
    assert queued.status_code == 202, queued.text
    receipt = queued.json()
    assert receipt["accepted"] is True and receipt["status"] == "PENDING"
    stored = book.signals.get(receipt["signal_id"])
    assert stored["status"] == "PENDING" and stored["source"] == "api:tier4"
    duplicate = client.post("/api/signals", json=signal, headers=AUTH)
    assert duplicate.status_code == 409
    assert duplicate.json()["status"] == "REJECTED" and "duplicate" in duplicate.json()["reason"]
    before = row_counts(book)
    bad = client.post("/api/signals", json={**signal, "confidence": 1.5}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["field"] == "confidence"
    assert row_counts(book) == before  # refused before helios: nothing stored
    unknown = client.post("/api/signals", json={**signal, "pair": "DOGEZAR"}, headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["field"] == "pair"
    # helios refused it: stored as REJECTED (the intake's audit trail), its id given
    assert unknown.json()["signal_id"] is not None
    with book.db.read() as session:
        row = session.get(Signal, unknown.json()["signal_id"])
        assert row is not None and row.status == "REJECTED"
    too_much = client.post(
        "/api/signals",
        json={**signal, "dedup_key": "x", "trade_params": {"leverage": 5}},
        headers=AUTH,
    )
    assert too_much.status_code == 422
    assert too_much.json()["field"] == "trade_params.leverage"


def test_risk_check_is_the_preview_and_stores_nothing(client: TestClient, book: helios.Helios):
    before = row_counts(book)
    body = {"pair": "BTCZAR", "signal": "BUY", "trade_params": SEED_TRADE}
    response = client.post("/api/portfolio/risk/check", json=body)  # a dry run: no token needed
    assert response.status_code == 200, response.text
    answer = response.json()
    preview = book.risk.preview("BTCZAR", "BUY", SEED_TRADE)
    assert answer["passed"] is preview.passed is True
    assert [c["passed"] for c in answer["checks"]] == [c.passed for c in preview.result.checks]
    assert len(answer["checks"]) == 7 and len(answer["headroom"]) == len(preview.headroom)
    assert answer["levels"]["stop_loss_price"] == str(preview.levels.stop_loss_price)
    too_big = client.post(
        "/api/portfolio/risk/check",
        json={**body, "trade_params": {"position_size_zar": 90000, "leverage": 3}},
    )
    assert too_big.status_code == 200 and too_big.json()["passed"] is False
    assert too_big.json()["violated_limits"]
    missing_size = client.post(
        "/api/portfolio/risk/check", json={**body, "trade_params": {"leverage": 2}}
    )
    assert missing_size.status_code == 422
    assert missing_size.json()["field"] == "trade_params.position_size_zar"
    assert row_counts(book) == before


def test_optimizer_weights_are_hx_optimizers(client: TestClient, book: helios.Helios):
    request = {
        "pairs": ["BTCZAR", "ETHZAR", "SOLZAR"],
        "ml_predictions": {"BTCZAR": 0.05, "ETHZAR": 0.03, "SOLZAR": 0.08},
        "confidence_scores": {"BTCZAR": 0.7, "ETHZAR": 0.6, "SOLZAR": 0.5},
    }
    before = row_counts(book)
    response = client.post("/api/portfolio/optimizer/weights", json=request)
    assert response.status_code == 200, response.text
    expected = book.optimizer.calculate_optimal_weights(
        request["pairs"], request["ml_predictions"], request["confidence_scores"]
    )
    assert response.json()["weights"] == pytest.approx(expected)
    assert sum(response.json()["weights"].values()) == pytest.approx(1.0)
    bad = client.post(
        "/api/portfolio/optimizer/weights",
        json={**request, "ml_predictions": {"XRPZAR": 0.1}},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "ml_predictions"
    one = client.post("/api/portfolio/optimizer/weights", json={"pairs": ["BTCZAR"]})
    assert one.status_code == 422 and one.json()["field"] == "pairs"
    assert row_counts(book) == before


# --- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789abcd"}])
def test_writes_without_the_token_get_401_and_change_nothing(
    client: TestClient, book: helios.Helios, headers: dict[str, str]
):
    open_two(book)
    book.controls.halt("test halt", "tester")
    before = (row_counts(book), settings_rows(book))
    for method, path, body in WRITES:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        # a bad body is not even looked at without the token
        garbage = client.request(method, path, json={"by": 5, "x": [1]}, headers=headers)
        assert garbage.status_code == 401
    assert (row_counts(book), settings_rows(book)) == before
    basic = client.post(
        "/api/autonomous-engine/emergency-stop", headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert basic.status_code == 401


def test_without_the_setting_the_api_is_read_only_and_says_so(
    database_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
):
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        open_two(hx)
        before = row_counts(hx)
        with caplog.at_level("WARNING", logger="helios.api"):
            app = create_app(hx)
        assert "HELIOS_API_TOKEN is not set" in caplog.text
        with TestClient(app, raise_server_exceptions=False) as client:
            for path in READS:
                assert client.get(path).status_code == 200
            for method, path, body in WRITES:
                response = client.request(method, path, json=body, headers=AUTH)
                assert response.status_code == 403, (path, response.text)
                assert response.json()["error"] == "writes_disabled"
                assert "HELIOS_API_TOKEN is not set" in response.json()["message"]
        assert row_counts(hx) == before


def test_no_secret_ever_appears_in_a_response(database_url: str, clock: ManualClock):
    valr_secret = "valr-secret-value-never-shown-0001"
    with connect_book(
        database_url,
        clock,
        helios_api_token=TOKEN,
        valr_api_key="valr-key-value-never-shown-0002",
        valr_api_secret=valr_secret,
        valr_base_url="http://127.0.0.1:9",  # nothing listens: the checklist's key check fails fast
        valr_max_retries=0,
    ) as hx:
        give_market(hx)
        with TestClient(create_app(hx), raise_server_exceptions=False) as client:
            texts = [client.get(path).text for path in READS]
            texts += [client.get("/openapi.json").text, client.get("/docs").text]
            # a client that echoes the token into a field gets it back scrubbed
            texts.append(
                client.put(
                    "/api/orchestrator/system/trading/mode",
                    json={"mode": TOKEN, "by": valr_secret},
                    headers=AUTH,
                ).text
            )
            texts.append(
                client.post(
                    "/api/signals",
                    json={
                        "pair": TOKEN[:12] + "ZAR",
                        "side": "BUY",
                        "confidence": 0.5,
                        "llm_approved": True,
                        "source": TOKEN,
                    },
                    headers=AUTH,
                ).text
            )
            texts.append(
                client.put(
                    "/api/orchestrator/system/trading/mode",
                    json={"mode": "LIVE", "by": "x"},
                    headers=AUTH,
                ).text
            )
        for body in texts:
            for secret in (TOKEN, valr_secret, "valr-key-value-never-shown-0002"):
                assert secret not in body


def test_an_unexpected_failure_is_a_500_without_a_trace(
    client: TestClient, book: helios.Helios, monkeypatch: pytest.MonkeyPatch
):
    def boom() -> None:
        raise RuntimeError("secret internals /path/to/file.py line 3")

    monkeypatch.setattr(book.ledger, "valuation", boom)
    response = client.get("/api/portfolio/summary")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and "ref" in body["message"]
    assert "Traceback" not in response.text and "secret internals" not in response.text


# --- the description ----------------------------------------------------------------------------


def test_openapi_describes_every_request_field_with_units_and_limits(client: TestClient):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in (
        ("/api/portfolio/summary", "get"),
        ("/api/portfolio/state/current", "get"),
        ("/api/portfolio/performance/metrics", "get"),
        ("/api/portfolio/positions", "get"),
        ("/api/portfolio/positions/{position_id}", "get"),
        ("/api/portfolio/positions/{position_id}/close", "post"),
        ("/api/portfolio/positions/close-all", "post"),
        ("/api/portfolio/risk-metrics", "get"),
        ("/api/portfolio/risk/limits", "get"),
        ("/api/portfolio/risk/limits", "put"),
        ("/api/orchestrator/system/trading/mode", "get"),
        ("/api/orchestrator/system/trading/mode", "put"),
        ("/api/autonomous-engine/start", "post"),
        ("/api/autonomous-engine/emergency-stop", "post"),
        ("/api/signals", "post"),
        ("/api/portfolio/risk/check", "post"),
        ("/api/portfolio/optimizer/weights", "post"),
    ):
        assert method in paths[path], (path, method)
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        if name.endswith("In"):
            for field, prop in schema["properties"].items():
                assert prop.get("description"), f"{name}.{field} has no description"
    limits = schemas["RiskLimitsIn"]["properties"]["max_drawdown_pct"]
    limit_bounds = limits["anyOf"][0]
    assert limit_bounds["exclusiveMinimum"] == 0 and limit_bounds["maximum"] == 1
    size = schemas["TradeParamsIn"]["properties"]["position_size_zar"]
    assert "ZAR" in size["description"]
    assert "0.02" in schemas["TradeParamsIn"]["properties"]["stop_loss_pct"]["description"]
    writes = [
        operation
        for item in paths.values()
        for verb, operation in item.items()
        if verb in ("put", "post") and "401" in operation.get("responses", {})
    ]
    assert len(writes) == len(WRITES)
    assert all(op.get("security") for op in writes)
