"""Issue 15, item 2: an emergency stop never fails on the text that comes with it.

Every class of hostile text (NUL, other C0 controls, DEL and C1 controls, lone high and low
surrogates, very long text, text empty once cleaned, right-to-left overrides; and valid
non-ASCII, emoji included, which must be kept as it is) in the ``by`` and the reason of an
emergency stop, a close-all, a halt and a resume, through the library, the REST API (FastAPI's
TestClient over the real app) and the CLI (real processes), on SQLite and PostgreSQL (which
refuses NUL in text: that was the 500 that left the book open). Each does its job and stores the
text cleaned (``helios.text.clean_text``, applied once inside ``helios.controls``). A ``by`` with
nothing visible once cleaned is refused (422 / exit 2 naming ``by``), and nothing changes.

Every other free-text field of the API refuses hostile text with 422 naming the field, its value
(escaped, JSON-safe) and what it allows; never a 500.

The expected cleaned texts are written out here (not computed by ``clean_text``): they are the
rule, stated twice.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import helios
from api.app import create_app
from helios.clock import ManualClock
from helios.db.models import Event
from helios.errors import InvalidInput
from helios.signals import SignalRejected
from tests.factories import SEED_TRADE, connect_book, give_market
from tests.test_cli_controls import HELIOS, ROOT, Cli

TOKEN = "hostile-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
R = "\ufffd"
NAME_LIMIT = 120
TEXT_LIMIT = 1000

# class -> (what is sent, what is stored)
HOSTILE: dict[str, tuple[str, str]] = {
    "nul": ("exchange down\x00", f"exchange down{R}"),
    "c0_controls": ("a\x01b\x1b[31mred\x07", f"a{R}b{R}[31mred{R}"),
    "line_breaks": ("line one\nline\ttwo\r\n", "line one line two"),
    "del_and_c1": ("x\x7fy\x85z\x9b", f"x{R}y{R}z{R}"),
    "lone_high_surrogate": ("ops\ud83d", f"ops{R}"),
    "lone_low_surrogate": ("ops\udcff", f"ops{R}"),
    "split_surrogate_pair": ("ops \ud83d\udea8", "ops \U0001f6a8"),
    "right_to_left_override": ("ops\u202egnp.exe\u202c", f"ops{R}gnp.exe{R}"),
    "non_ascii_kept": (
        "Thandi Ñoño 日本 مرحبا 🚨 👩\u200d🚀",
        "Thandi Ñoño 日本 مرحبا 🚨 👩\u200d🚀",
    ),
}
LONG = "x" * 10_000
EMPTY_ONCE_CLEANED = ["", "   ", "\t\n\r ", "\u2028\u2029"]


def as_json(body: dict[str, Any]) -> bytes:
    """JSON as a client would send it: lone surrogates as \\uXXXX escapes (valid JSON text)."""
    return json.dumps(body).encode("ascii")


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def open_one(hx: helios.Helios, pair: str = "BTCZAR") -> int:
    opened = hx.positions.open_position(pair, "BUY", SEED_TRADE, "hostile text test")
    assert opened["success"] is True, opened
    return int(opened["position_id"])


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock, helios_api_token=TOKEN) as hx:
        give_market(hx)
        yield hx


# --- the library -------------------------------------------------------------------------------


REFUSED = sorted(
    k for k in HOSTILE if k not in ("non_ascii_kept", "line_breaks", "split_surrogate_pair")
)


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("field", ["llm_reasoning", "source", "dedup_key"])
def test_library_a_signal_with_hostile_text_is_refused_naming_the_field_and_kept(
    book: helios.Helios, kind: str, field: str
):
    """Not an emergency control: hostile text in a signal is refused (not altered), the
    refusal names the field, and the malformed signal is still stored with it (never a
    database error, never a 500)."""
    sent, _stored = HOSTILE[kind]
    body = {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": True, field: sent}
    with pytest.raises(SignalRejected) as refused:
        book.signals.submit_raw(body)
    assert refused.value.field == field
    assert refused.value.signal_id is not None  # the refusal is on record
    stored = book.signals.get(refused.value.signal_id)
    assert stored["status"] == "REJECTED" and field in stored["status_reason"]
    assert book.positions.get_open_positions() == []


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_library_emergency_stop_close_all_halt_resume_clean_every_hostile_text(
    book: helios.Helios, kind: str
):
    sent, stored = HOSTILE[kind]
    open_one(book)
    done = book.controls.emergency_stop(sent, sent)
    assert done["failed"] == [] and len(done["closed"]) == 1
    state = book.controls.halt_state()
    assert state.halted and state.cause == "emergency_stop"
    assert state.by == stored and state.reason == f"emergency stop by {stored}: {stored}"
    assert book.positions.get_open_positions() == []
    [stop] = events(book, "EMERGENCY_STOP")
    assert stop.actor == stored and f"({stored})" in stop.message

    book.controls.resume(sent, sent)
    assert book.controls.is_halted() is False
    [resume] = events(book, "RESUME")
    assert resume.actor == stored and resume.details["note"] == stored

    open_one(book)
    done = book.controls.close_all(sent, sent)
    assert done["failed"] == [] and [c["status"] for c in done["closed"]] == ["CLOSED"]
    [close_all] = events(book, "CLOSE_ALL")
    assert close_all.actor == stored and f"({stored})" in close_all.message

    state = book.controls.halt(sent, sent)
    assert state.halted and state.by == stored and state.reason == stored
    [_, halt] = events(book, "HALT")
    assert halt.actor == stored and halt.message.endswith(stored)


def test_library_very_long_text_is_cut_and_the_stop_still_happens(book: helios.Helios):
    open_one(book)
    done = book.controls.emergency_stop(LONG, LONG)
    assert done["failed"] == [] and book.positions.get_open_positions() == []
    state = book.controls.halt_state()
    assert state.halted and len(state.by) == NAME_LIMIT and state.by.endswith("\u2026")
    assert len(state.reason) <= TEXT_LIMIT
    [stop] = events(book, "EMERGENCY_STOP")
    assert stop.actor == state.by and len(stop.message) < TEXT_LIMIT + 200
    book.controls.resume(LONG, LONG)
    [resume] = events(book, "RESUME")
    assert resume.actor == state.by and len(resume.details["note"]) == TEXT_LIMIT


@pytest.mark.parametrize("nobody", EMPTY_ONCE_CLEANED)
def test_library_a_by_with_nothing_visible_is_refused_and_nothing_changes(
    book: helios.Helios, nobody: str
):
    position_id = open_one(book)
    for action in (
        lambda: book.controls.emergency_stop(nobody, "drill"),
        lambda: book.controls.close_all(nobody, "drill"),
        lambda: book.controls.halt("drill", nobody),
    ):
        with pytest.raises(InvalidInput) as refused:
            action()
        assert refused.value.field == "by"
    assert book.controls.is_halted() is False
    assert [p["position_id"] for p in book.positions.get_open_positions()] == [position_id]
    book.controls.halt("drill", "ops")
    with pytest.raises(InvalidInput) as refused:
        book.controls.resume(nobody)
    assert refused.value.field == "by" and book.controls.is_halted() is True
    assert events(book, "EMERGENCY_STOP") == [] and events(book, "CLOSE_ALL") == []


def test_library_an_empty_reason_gets_the_default(book: helios.Helios):
    open_one(book)
    book.controls.emergency_stop("ops", " \t\n ")
    assert book.controls.halt_state().reason == "emergency stop by ops: manual emergency stop"


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def client(book: helios.Helios) -> Iterator[TestClient]:
    with TestClient(create_app(book), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path",
    [
        "/api/autonomous-engine/emergency-stop",
        "/api/portfolio/positions/close-all",
        "/api/autonomous-engine/start",
        "/api/signals",
    ],
)
@pytest.mark.parametrize("body", ["\x0f\uda08\ude15Z\uda5c\udce7\x02", "\x00", "ok"])
def test_api_a_body_that_is_not_an_object_is_422_whatever_text_it_holds(
    client: TestClient, book: helios.Helios, path: str, body: str
):
    """The fuzzer's case: a JSON text as the whole body, hostile characters in it, was taken
    for "no body" by the optional bodies of the emergency stop and close-all (200, a halt)."""
    position = open_one(book)
    response = client.post(path, content=as_json(body), headers=AUTH)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert not book.controls.is_halted()
    assert [p["position_id"] for p in book.positions.get_open_positions()] == [position]


def test_api_the_issues_reproduction(client: TestClient, book: helios.Helios):
    """The chaos run's request: a NUL in the reason, then a lone surrogate in ``by``."""
    for body in (
        {"by": "ops", "reason": "exchange down\u0000"},
        {"by": "ops\udcff", "reason": "exchange down"},
    ):
        open_one(book)
        open_one(book, "ETHZAR")
        stop = client.post(
            "/api/autonomous-engine/emergency-stop", content=as_json(body), headers=AUTH
        )
        assert stop.status_code == 200, stop.text
        assert stop.json()["halt"]["halted"] is True and stop.json()["failed"] == []
        assert book.positions.get_open_positions() == []
        assert book.controls.is_halted()
        refused = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "after the stop")
        assert refused["success"] is False  # nothing opens afterwards
        resume = client.post(
            "/api/autonomous-engine/start", content=as_json({"by": body["by"]}), headers=AUTH
        )
        assert resume.status_code == 200, resume.text
        assert resume.json()["resumed"] is True
    stops = events(book, "EMERGENCY_STOP")
    assert [e.actor for e in stops] == ["api:ops", f"api:ops{R}"]
    assert "exchange down" + R in stops[0].message


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_api_emergency_stop_close_all_and_resume_clean_every_hostile_text(
    client: TestClient, book: helios.Helios, kind: str
):
    sent, stored = HOSTILE[kind]
    open_one(book)
    stop = client.post(
        "/api/autonomous-engine/emergency-stop",
        content=as_json({"by": sent, "reason": sent}),
        headers=AUTH,
    )
    assert stop.status_code == 200, stop.text
    body = stop.json()
    assert body["halt"]["halted"] is True and body["halt"]["by"] == f"api:{stored}"
    assert body["failed"] == [] and book.positions.get_open_positions() == []
    [event] = events(book, "EMERGENCY_STOP")
    assert event.actor == f"api:{stored}" and f"({stored})" in event.message

    resume = client.post(
        "/api/autonomous-engine/start", content=as_json({"by": sent, "note": sent}), headers=AUTH
    )
    assert resume.status_code == 200, resume.text
    assert resume.json()["resumed"] is True and not book.controls.is_halted()
    [resumed] = events(book, "RESUME")
    assert resumed.actor == f"api:{stored}" and resumed.details["note"] == stored

    open_one(book)
    close_all = client.post(
        "/api/portfolio/positions/close-all",
        content=as_json({"by": sent, "reason": sent}),
        headers=AUTH,
    )
    assert close_all.status_code == 200, close_all.text
    assert close_all.json()["failed"] == [] and book.positions.get_open_positions() == []
    [closed] = events(book, "CLOSE_ALL")
    assert closed.actor == f"api:{stored}" and f"({stored})" in closed.message


def test_api_very_long_text_is_cut_and_the_stop_still_happens(
    client: TestClient, book: helios.Helios
):
    open_one(book)
    stop = client.post(
        "/api/autonomous-engine/emergency-stop",
        content=as_json({"by": LONG, "reason": LONG}),
        headers=AUTH,
    )
    assert stop.status_code == 200, stop.text
    assert book.positions.get_open_positions() == [] and book.controls.is_halted()
    assert len(book.controls.halt_state().by) == NAME_LIMIT
    resume = client.post(
        "/api/autonomous-engine/start", content=as_json({"by": LONG, "note": LONG}), headers=AUTH
    )
    assert resume.status_code == 200 and not book.controls.is_halted()


@pytest.mark.parametrize("nobody", EMPTY_ONCE_CLEANED)
@pytest.mark.parametrize(
    "path",
    [
        "/api/autonomous-engine/emergency-stop",
        "/api/portfolio/positions/close-all",
        "/api/autonomous-engine/start",
    ],
)
def test_api_a_by_with_nothing_visible_is_422_naming_by_and_nothing_changes(
    client: TestClient, book: helios.Helios, path: str, nobody: str
):
    position_id = open_one(book)
    answer = client.post(path, content=as_json({"by": nobody, "reason": "drill"}), headers=AUTH)
    if path.endswith("start"):
        answer = client.post(path, content=as_json({"by": nobody}), headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "by" and answer.json()["error"] == "invalid_input"
    assert not book.controls.is_halted()
    assert [p["position_id"] for p in book.positions.get_open_positions()] == [position_id]


# every other free-text field of the API: (method, path, a valid body, the field)
OTHER_TEXT_FIELDS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/portfolio/positions/1/close", {"by": "thandi"}, "by"),
    ("PUT", "/api/portfolio/risk/limits", {"by": "thandi", "max_leverage": 2}, "by"),
    ("PUT", "/api/portfolio/risk/limits", {"by": "thandi", "max_leverage": 2}, "note"),
    ("PUT", "/api/orchestrator/system/trading/mode", {"mode": "PAPER", "by": "thandi"}, "by"),
    ("PUT", "/api/orchestrator/system/trading/mode", {"mode": "PAPER", "by": "t"}, "reason"),
    (
        "PUT",
        "/api/orchestrator/system/trading/mode",
        {"mode": "PAPER", "by": "t"},
        "confirmed_by",
    ),
    *(
        (
            "POST",
            "/api/signals",
            {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": True},
            name,
        )
        for name in ("llm_reasoning", "source", "dedup_key", "pair", "side")
    ),
    ("POST", "/api/portfolio/risk/check", {"pair": "BTCZAR", "signal": "BUY"}, "pair"),
]


@pytest.fixture
def bare(database_url: str, clock: ManualClock) -> Iterator[tuple[TestClient, helios.Helios]]:
    """The API over a fresh book without a market (nothing here reaches the risk checks)."""
    with (
        connect_book(database_url, clock, helios_api_token=TOKEN) as hx,
        TestClient(create_app(hx), raise_server_exceptions=False) as test_client,
    ):
        yield test_client, hx


@pytest.mark.parametrize(
    ("method", "path", "valid", "field"),
    OTHER_TEXT_FIELDS,
    ids=[f"{m} {p} {f}" for m, p, _, f in OTHER_TEXT_FIELDS],
)
def test_api_every_other_text_field_refuses_hostile_text_with_422_naming_it(
    bare: tuple[TestClient, helios.Helios],
    method: str,
    path: str,
    valid: dict[str, Any],
    field: str,
):
    client, hx = bare
    before = hx.controls.event_log(1000)
    for kind in (
        "nul",
        "c0_controls",
        "del_and_c1",
        "lone_low_surrogate",
        "right_to_left_override",
    ):
        sent = "ok" + HOSTILE[kind][0]
        answer = client.request(method, path, content=as_json({**valid, field: sent}), headers=AUTH)
        assert answer.status_code == 422, (kind, answer.text)
        error = answer.json()
        assert error["error"] == "invalid_input" and error["field"] == field, (kind, error)
        assert error["allowed"] and error["value"] is not None
    assert hx.controls.event_log(1000) == before
    assert hx.signals.counts() == {}


def test_api_hostile_keys_and_nested_values_are_422_never_500(
    bare: tuple[TestClient, helios.Helios],
):
    client, _ = bare
    for path, body in (
        ("/api/portfolio/positions/close-all", {"by\udcff": "x"}),
        ("/api/portfolio/positions/close-all", {"by": ["\udcff"]}),
        ("/api/autonomous-engine/start", {"by": {"\x00": "\udcff"}}),
        ("/api/signals", {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "x\x00": 1}),
        (
            "/api/portfolio/optimizer/weights",
            {"pairs": ["BTCZAR", "ETHZAR"], "ml_predictions": {"BTC\udcffZAR": 0.1}},
        ),
    ):
        answer = client.post(path, content=as_json(body), headers=AUTH)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["error"] == "invalid_input"


# --- the CLI (real processes) ------------------------------------------------------------------


def run(cli: Cli, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    """``helios ...`` with arguments that may hold any bytes (argv cannot hold a NUL)."""
    return subprocess.run(
        [*HELIOS, *args], env=cli.env, cwd=ROOT, capture_output=True, timeout=60, check=False
    )


@pytest.fixture
def cli(database_url: str, tmp_path) -> Cli:  # type: ignore[no-untyped-def]
    return Cli(database_url, tmp_path)


@pytest.fixture
def live_book(database_url: str) -> Iterator[helios.Helios]:
    """The same database on the real clock (the children's)."""
    with helios.connect(database_url, market_feed="manual", paper_slippage_pct="0") as hx:
        give_market(hx)
        yield hx


def test_cli_emergency_stop_close_all_halt_resume_with_hostile_text(
    cli: Cli, live_book: helios.Helios
):
    hostile_reason = "down\x01\x1b[2J\x7f\u202eevil \U0001f6a8"
    stored_reason = f"down{R}{R}[2J{R}{R}evil \U0001f6a8"
    undecodable_by = b"ops\xff"  # not UTF-8: Python's argv holds a lone surrogate for it
    open_one(live_book)
    stop = run(cli, "emergency-stop", "--by", undecodable_by, "--reason", hostile_reason)
    assert stop.returncode == 0, stop.stderr.decode(errors="replace")
    assert b"Traceback" not in stop.stderr
    state = live_book.controls.halt_state()
    assert state.halted and state.by == f"ops{R}"
    assert state.reason == f"emergency stop by ops{R}: {stored_reason}"
    assert live_book.positions.get_open_positions() == []
    assert f"EMERGENCY STOP by ops{R}".encode() in stop.stdout

    resume = run(cli, "resume", "--by", undecodable_by, "--note", hostile_reason)
    assert resume.returncode == 0, resume.stderr.decode(errors="replace")
    assert not live_book.controls.is_halted()
    [resumed] = events(live_book, "RESUME")
    assert resumed.actor == f"ops{R}" and resumed.details["note"] == stored_reason

    open_one(live_book)
    close_all = run(cli, "close-all", "--by", "Thandi 🚨", "--reason", hostile_reason)
    assert close_all.returncode == 0, close_all.stderr.decode(errors="replace")
    assert live_book.positions.get_open_positions() == []
    [closed] = events(live_book, "CLOSE_ALL")
    assert closed.actor == "Thandi 🚨" and f"({stored_reason})" in closed.message

    halt = run(cli, "halt", "--by", "ops", "--reason", LONG)
    assert halt.returncode == 0, halt.stderr.decode(errors="replace")
    assert len(live_book.controls.halt_state().reason) == TEXT_LIMIT

    for command in ("emergency-stop", "close-all", "halt", "resume"):
        refused = run(cli, command, "--by", " \t ")
        assert refused.returncode == 2, (command, refused.stderr)
        lines = refused.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and "by" in lines[0], lines
    assert len(events(live_book, "EMERGENCY_STOP")) == 1


# --- the rule itself (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_clean_text_states_the_rule_and_is_idempotent(kind: str):
    from helios.text import clean_text

    sent, stored = HOSTILE[kind]
    assert clean_text(sent, limit=NAME_LIMIT) == stored
    assert clean_text(stored, limit=NAME_LIMIT) == stored
    cut = clean_text(LONG, limit=NAME_LIMIT)
    assert len(cut) == NAME_LIMIT and cut == "x" * 119 + "\u2026"
    assert clean_text(cut, limit=NAME_LIMIT) == cut
    for nobody in EMPTY_ONCE_CLEANED:
        assert clean_text(nobody, limit=NAME_LIMIT) == ""


def test_hostile_character_names_the_first_one():
    from helios.text import hostile_character

    assert hostile_character("Thandi 🚨 line\nbreak\ttab") is None
    found = hostile_character("ok\x00no")
    assert found is not None and found.describe() == "U+0000 at position 2"
    found = hostile_character("ok\udcff")
    assert found is not None and found.describe() == "U+DCFF at position 2"
