"""The pair locks through the REST API (FastAPI's TestClient, real SQLite and PostgreSQL):
GET /api/locks, POST /api/locks (token), DELETE /api/locks/{id} (token); errors in the API's
one JSON shape; a locked pair's risk check answers with the lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import helios
from api.app import create_app
from helios.clock import ManualClock
from helios.db.models import Event, PairLock
from tests.factories import SEED_TRADE, connect_book, give_market
from tests.test_api import AUTH, TOKEN

LOCK = {"pair": "BTCZAR", "hours": 6, "by": "thandi", "reason": "news at 20:00"}


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock, helios_api_token=TOKEN) as hx:
        give_market(hx)
        yield hx


@pytest.fixture
def client(book: helios.Helios) -> Iterator[TestClient]:
    with TestClient(create_app(book), raise_server_exceptions=False) as test_client:
        yield test_client


def lock_rows(hx: helios.Helios) -> list[PairLock]:
    with hx.db.read() as session:
        return list(session.scalars(select(PairLock)))


def test_lock_list_check_and_lift(client: TestClient, book: helios.Helios):
    created = client.post("/api/locks", json=LOCK, headers=AUTH)
    assert created.status_code == 201, created.text
    lock = created.json()
    assert (lock["pair"], lock["status"], lock["by"], lock["automatic"]) == (
        "BTCZAR",
        "active",
        "api:thandi",
        False,
    )
    ends = datetime.fromisoformat(lock["ends_at"])
    assert ends - datetime.fromisoformat(lock["starts_at"]) == timedelta(hours=6)
    assert lock["ends_in"] == "6 h"

    listed = client.get("/api/locks")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [lock["id"]]

    check = client.post(
        "/api/portfolio/risk/check",
        json={"pair": "BTCZAR", "signal": "BUY", "trade_params": SEED_TRADE},
    )
    assert check.status_code == 200, check.text
    verdict = check.json()
    assert verdict["passed"] is False
    assert verdict["reason"].startswith("Pair BTCZAR is locked until 2026-11-26 16:00 SAST")
    assert verdict["reason"].endswith("news at 20:00")

    lifted = client.request(
        "DELETE", f"/api/locks/{lock['id']}", json={"by": "sipho"}, headers=AUTH
    )
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["status"], lifted.json()["lifted_by"]) == ("lifted", "api:sipho")
    assert client.get("/api/locks").json() == []
    assert [row["status"] for row in client.get("/api/locks?all=true").json()] == ["lifted"]
    with book.db.read() as session:
        kinds = session.scalars(
            select(Event.kind).where(Event.kind.like("PAIR_%")).order_by(Event.id)
        ).all()
    assert kinds == ["PAIR_LOCKED", "PAIR_UNLOCKED"]

    again = client.delete(f"/api/locks/{lock['id']}", headers=AUTH)
    assert again.status_code == 409
    assert again.json()["error"] == "refused" and "is lifted" in again.json()["message"]
    missing = client.delete("/api/locks/999", headers=AUTH)
    assert missing.status_code == 404
    assert (missing.json()["error"], missing.json()["field"]) == ("not_found", "lock_id")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours": 0}, "hours"),
        ({"hours": 721}, "hours"),
        ({"hours": True}, "hours"),
        ({"reason": ""}, "reason"),
        ({"pair": "DOGEZAR"}, "pair"),
        ({"pair": "BTC"}, "pair"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, book: helios.Helios, change: dict[str, object], field: str
):
    response = client.post("/api/locks", json={**LOCK, **change}, headers=AUTH)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["field"].split(".")[-1] == field
    assert body["allowed"] or body["rule"]
    assert lock_rows(book) == []


def test_writes_need_the_token(client: TestClient, book: helios.Helios):
    lock = book.locks.lock("BTCZAR", 1, "alice", "by hand")
    assert client.post("/api/locks", json=LOCK).status_code == 401
    refused = client.delete(f"/api/locks/{lock['id']}")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    [row] = lock_rows(book)
    assert row.lifted_at is None
    assert client.get("/api/locks").status_code == 200  # reads are open
