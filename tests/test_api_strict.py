"""Strict JSON types on every request model (issue 14, item 7): the API refuses what helios
refuses. A bool is not a number (``"position_size_zar": true`` is not R1), a number or a text is
not a bool (``"llm_approved": "yes"`` or ``1`` is not an approval), a number is not a text (``"by":
5``), and a number is not a time. Each is a 422 ``invalid_input`` naming the field (dotted path),
saying what the field takes, with nothing changed. An integer where a fraction or an amount is
expected is still a number (``"position_size_zar": 903``, ``"leverage": 1``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import helios
from api.app import create_app
from helios.clock import ManualClock
from helios.risk.limits import LIMIT_RULES
from tests.factories import connect_book, give_market
from tests.test_api import AUTH, TOKEN, open_two, row_counts, settings_rows

CLOSE_ONE = ("POST", "/api/portfolio/positions/1/close")
CLOSE_ALL = ("POST", "/api/portfolio/positions/close-all")
STOP = ("POST", "/api/autonomous-engine/emergency-stop")
MODE = ("PUT", "/api/orchestrator/system/trading/mode")
RESUME = ("POST", "/api/autonomous-engine/start")
LIMITS = ("PUT", "/api/portfolio/risk/limits")
CHECK = ("POST", "/api/portfolio/risk/check")
SIGNALS = ("POST", "/api/signals")
OPTIMIZER = ("POST", "/api/portfolio/optimizer/weights")

SIGNAL: dict[str, Any] = {
    "pair": "BTCZAR",
    "side": "BUY",
    "confidence": 0.85,
    "llm_approved": True,
    "trade_params": {"position_size_zar": 903, "stop_loss_pct": 0.02},
    "source": "tier4",
}
RISK_CHECK: dict[str, Any] = {
    "pair": "BTCZAR",
    "signal": "BUY",
    "trade_params": {"position_size_zar": 903, "leverage": 1},
}
OPTIMIZE: dict[str, Any] = {
    "pairs": ["BTCZAR", "ETHZAR"],
    "ml_predictions": {"BTCZAR": 0.05, "ETHZAR": 0.03},
    "confidence_scores": {"BTCZAR": 0.7, "ETHZAR": 0.6},
}

NUMBER = "a number"
WHOLE = "a whole number"
BOOL = "true or false"
TEXT = "text (a JSON string)"
TIME = "a time with its zone as text (ISO 8601, e.g. 2026-11-26T08:00:00Z)"
OBJECT = "an object"
LIST = "a list"


def _trade(**params: Any) -> dict[str, Any]:
    return {**SIGNAL, "trade_params": {"position_size_zar": 903, **params}}


# (model, (method, path), body, the field named, what the error says the field takes)
WRONG_TYPES: list[tuple[str, tuple[str, str], Any, str, str]] = [
    # ActorIn: close-all and the emergency stop
    ("ActorIn", CLOSE_ALL, {"by": 5}, "by", TEXT),
    ("ActorIn", CLOSE_ALL, {"by": True}, "by", TEXT),
    ("ActorIn", CLOSE_ALL, {"by": "thandi", "reason": 7}, "reason", TEXT),
    ("ActorIn", STOP, {"by": "thandi", "reason": 7}, "reason", TEXT),
    ("ActorIn", STOP, {"by": ["thandi"]}, "by", TEXT),
    # CloseIn
    ("CloseIn", CLOSE_ONE, {"by": 5}, "by", TEXT),
    ("CloseIn", CLOSE_ONE, {"by": False}, "by", TEXT),
    # ModeIn
    ("ModeIn", MODE, {"mode": "PAPER", "by": 5}, "by", TEXT),
    ("ModeIn", MODE, {"mode": "PAPER", "reason": 7}, "reason", TEXT),
    ("ModeIn", MODE, {"mode": "PAPER", "confirmed_by": True}, "confirmed_by", TEXT),
    # ResumeIn
    ("ResumeIn", RESUME, {"by": 5}, "by", TEXT),
    ("ResumeIn", RESUME, {"by": True}, "by", TEXT),
    ("ResumeIn", RESUME, {"by": "thandi", "note": 7}, "note", TEXT),
    # RiskLimitsIn: every limit refuses true; by and note are texts
    *[("RiskLimitsIn", LIMITS, {"by": "thandi", name: True}, name, NUMBER) for name in LIMIT_RULES],
    ("RiskLimitsIn", LIMITS, {"by": "thandi", "max_leverage": False}, "max_leverage", NUMBER),
    ("RiskLimitsIn", LIMITS, {"by": "thandi", "max_leverage": "2"}, "max_leverage", NUMBER),
    ("RiskLimitsIn", LIMITS, {"by": 5, "max_leverage": 2}, "by", TEXT),
    ("RiskLimitsIn", LIMITS, {"by": "thandi", "max_leverage": 2, "note": 7}, "note", TEXT),
    # RiskCheckIn and its TradeParamsIn
    ("RiskCheckIn", CHECK, {**RISK_CHECK, "pair": 5}, "pair", TEXT),
    ("RiskCheckIn", CHECK, {**RISK_CHECK, "trade_params": 903}, "trade_params", OBJECT),
    (
        "TradeParamsIn",
        CHECK,
        {**RISK_CHECK, "trade_params": {"position_size_zar": True}},
        "trade_params.position_size_zar",
        NUMBER,
    ),
    (
        "TradeParamsIn",
        CHECK,
        {**RISK_CHECK, "trade_params": {"position_size_zar": 903, "leverage": True}},
        "trade_params.leverage",
        NUMBER,
    ),
    (
        "TradeParamsIn",
        CHECK,
        {**RISK_CHECK, "trade_params": {"position_size_zar": "903"}},
        "trade_params.position_size_zar",
        NUMBER,
    ),
    *[
        (
            "TradeParamsIn",
            CHECK,
            {**RISK_CHECK, "trade_params": {"position_size_zar": 903, name: True}},
            f"trade_params.{name}",
            NUMBER,
        )
        for name in (
            "stop_loss_pct",
            "take_profit_pct",
            "trailing_activation_pct",
            "trailing_distance_pct",
            "max_holding_hours",
        )
    ],
    # SignalIn: no approval but a JSON true
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_approved": "yes"}, "llm_approved", BOOL),
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_approved": "true"}, "llm_approved", BOOL),
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_approved": 1}, "llm_approved", BOOL),
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_approved": 0}, "llm_approved", BOOL),
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_approved": "false"}, "llm_approved", BOOL),
    ("SignalIn", SIGNALS, {**SIGNAL, "confidence": True}, "confidence", NUMBER),
    ("SignalIn", SIGNALS, {**SIGNAL, "confidence": "0.85"}, "confidence", NUMBER),
    ("SignalIn", SIGNALS, {**SIGNAL, "predicted_return": True}, "predicted_return", NUMBER),
    ("SignalIn", SIGNALS, {**SIGNAL, "pair": 5}, "pair", TEXT),
    ("SignalIn", SIGNALS, {**SIGNAL, "llm_reasoning": 7}, "llm_reasoning", TEXT),
    ("SignalIn", SIGNALS, {**SIGNAL, "source": 5}, "source", TEXT),
    ("SignalIn", SIGNALS, {**SIGNAL, "dedup_key": 5}, "dedup_key", TEXT),
    ("SignalIn", SIGNALS, {**SIGNAL, "created_at": 1_795_000_000}, "created_at", TIME),
    ("SignalIn", SIGNALS, {**SIGNAL, "expires_at": True}, "expires_at", TIME),
    ("SignalIn", SIGNALS, {**SIGNAL, "trade_params": [903]}, "trade_params", OBJECT),
    (
        "TradeParamsIn",
        SIGNALS,
        _trade(position_size_zar=True),
        "trade_params.position_size_zar",
        NUMBER,
    ),
    ("TradeParamsIn", SIGNALS, _trade(leverage=True), "trade_params.leverage", NUMBER),
    # OptimizerIn
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "pairs": ["BTCZAR", 5]}, "pairs.1", TEXT),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "pairs": "BTCZAR,ETHZAR"}, "pairs", LIST),
    (
        "OptimizerIn",
        OPTIMIZER,
        {**OPTIMIZE, "ml_predictions": {"BTCZAR": True, "ETHZAR": 0.03}},
        "ml_predictions.BTCZAR",
        NUMBER,
    ),
    (
        "OptimizerIn",
        OPTIMIZER,
        {**OPTIMIZE, "confidence_scores": {"BTCZAR": "0.7", "ETHZAR": 0.6}},
        "confidence_scores.BTCZAR",
        NUMBER,
    ),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "max_weight": True}, "max_weight", NUMBER),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "tau": "0.05"}, "tau", NUMBER),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "risk_free_rate": False}, "risk_free_rate", NUMBER),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "risk_aversion": True}, "risk_aversion", NUMBER),
    (
        "OptimizerIn",
        OPTIMIZER,
        {**OPTIMIZE, "prediction_horizon_days": True},
        "prediction_horizon_days",
        NUMBER,
    ),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "lookback_days": True}, "lookback_days", WHOLE),
    ("OptimizerIn", OPTIMIZER, {**OPTIMIZE, "lookback_days": "30"}, "lookback_days", WHOLE),
]


def _case_id(case: tuple[str, tuple[str, str], Any, str, str]) -> str:
    """e.g. SignalIn-llm_approved='yes'"""
    model, _, body, field, _ = case
    value: Any = body
    for part in field.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return f"{model}-{field}={value!r}"


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """The seed's paper book with two open positions, and the API token."""
    with connect_book(database_url, clock, helios_api_token=TOKEN) as hx:
        give_market(hx)
        open_two(hx)
        yield hx


@pytest.fixture
def client(book: helios.Helios) -> Iterator[TestClient]:
    with TestClient(create_app(book), raise_server_exceptions=False) as test_client:
        yield test_client


def _everything(hx: helios.Helios) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "rows": row_counts(hx),
        "settings": settings_rows(hx),
        "open": [(p["position_id"], p["status"]) for p in hx.positions.get_open_positions()],
        "limits": (hx.risk.get_limits().version, hx.risk.get_limits().values()),
        "halt": hx.controls.halt_state(),
        "mode": hx.controls.trading_mode(),
    }


def test_every_request_model_is_covered():
    """Each model deriving from Strict is refused a wrong JSON type at least once here."""
    from api import models

    request_models = {
        name
        for name, value in vars(models).items()
        if isinstance(value, type)
        and issubclass(value, models.Strict)
        and value is not models.Strict
    }
    assert request_models == {case[0] for case in WRONG_TYPES}


@pytest.mark.parametrize(
    ("model", "endpoint", "body", "field", "allowed"),
    WRONG_TYPES,
    ids=[_case_id(case) for case in WRONG_TYPES],
)
def test_a_wrong_json_type_is_refused_naming_the_field_and_nothing_changes(
    client: TestClient,
    book: helios.Helios,
    model: str,
    endpoint: tuple[str, str],
    body: Any,
    field: str,
    allowed: str,
):
    method, path = endpoint
    before = _everything(book)
    response = client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 422, (model, body, response.status_code, response.text)
    error = response.json()
    assert error["error"] == "invalid_input", error
    assert error["field"] == field, error
    assert error["message"].startswith(f"{field}:"), error
    assert error["allowed"] == allowed, error
    assert "signal_id" not in error  # refused by the API: helios never saw it, nothing stored
    assert _everything(book) == before


def test_a_number_for_llm_approved_never_queues_an_approved_signal(
    client: TestClient, book: helios.Helios
):
    before = row_counts(book)
    for approval in (1, "yes", "true", 1.0):
        response = client.post(
            "/api/signals",
            json={**SIGNAL, "llm_approved": approval, "dedup_key": f"k-{approval!r}"},
            headers=AUTH,
        )
        assert response.status_code == 422, (approval, response.text)
        assert response.json()["field"] == "llm_approved"
    assert row_counts(book)["signals"] == before["signals"]


def test_integers_where_numbers_are_expected_and_texts_for_times_still_work(
    client: TestClient, book: helios.Helios
):
    """JSON has one kind of number: 903 is as good as 903.0 for an amount or a multiple."""
    now = book.clock.now()
    queued = client.post(
        "/api/signals",
        json={
            **SIGNAL,
            "confidence": 1,
            "predicted_return": 0,
            "trade_params": {"position_size_zar": 903, "leverage": 1, "max_holding_hours": 24},
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "expires_at": (now + timedelta(hours=1)).isoformat(),
            "dedup_key": "ints-1",
        },
        headers=AUTH,
    )
    assert queued.status_code == 202, queued.text
    stored = book.signals.get(queued.json()["signal_id"])
    assert stored["status"] == "PENDING" and stored["llm_approved"] is True
    assert float(stored["trade_params"]["position_size_zar"]) == 903.0
    not_approved = client.post(
        "/api/signals", json={**SIGNAL, "llm_approved": False, "dedup_key": "no"}, headers=AUTH
    )
    assert not_approved.status_code == 409 and not_approved.json()["status"] == "REJECTED"
    check = client.post("/api/portfolio/risk/check", json=RISK_CHECK)
    assert check.status_code == 200, check.text
    assert check.json()["trade"]["position_size_zar"] in (903, 903.0, "903", "903.0")
    limits = client.put(
        "/api/portfolio/risk/limits",
        json={"by": "thandi", "max_leverage": 2, "max_drawdown_pct": 0.1, "note": "calmer"},
        headers=AUTH,
    )
    assert limits.status_code == 200, limits.text
    assert limits.json()["max_leverage"] == 2.0 and limits.json()["version"] == 2
    weights = client.post(
        "/api/portfolio/optimizer/weights",
        json={
            **OPTIMIZE,
            "ml_predictions": {"BTCZAR": 0, "ETHZAR": 0.03},
            "max_weight": 1,
            "lookback_days": 30,
            "prediction_horizon_days": 3,
        },
    )
    assert weights.status_code == 200, weights.text
    mode = client.put(
        "/api/orchestrator/system/trading/mode",
        json={"mode": "PAPER", "by": None, "reason": "", "confirmed_by": None},
        headers=AUTH,
    )
    assert mode.status_code == 200, mode.text
    closed = client.post("/api/portfolio/positions/1/close", json={"by": None}, headers=AUTH)
    assert closed.status_code == 200, closed.text
    stop = client.post(
        "/api/autonomous-engine/emergency-stop",
        json={"by": "thandi", "reason": "drill"},
        headers=AUTH,
    )
    assert stop.status_code == 200, stop.text
    resume = client.post(
        "/api/autonomous-engine/start", json={"by": "thandi", "note": "ok"}, headers=AUTH
    )
    assert resume.status_code == 200 and resume.json()["resumed"] is True
    assert client.post("/api/portfolio/positions/close-all", headers=AUTH).status_code == 200


def test_the_schema_says_number_and_boolean_for_what_is_refused(client: TestClient):
    """What /docs shows is what the API takes: a number, a boolean, a text."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    size = schemas["TradeParamsIn"]["properties"]["position_size_zar"]["anyOf"][0]
    assert size["type"] == "number"
    assert schemas["SignalIn"]["properties"]["llm_approved"]["type"] == "boolean"
    assert schemas["SignalIn"]["properties"]["confidence"]["type"] == "number"
    assert schemas["ResumeIn"]["properties"]["by"]["type"] == "string"
