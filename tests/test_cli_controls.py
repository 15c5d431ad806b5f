"""The command line of issue #6, for real (``python -m helios.cli`` as a child process, no
scheduler running): ``helios signal`` validates and stores like ``hx.signals.submit``, the
manual controls (halt, resume, emergency-stop, close-all, mode) act on the database and record
who did it, and the decision lines reach the log file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import helios
from helios.db.models import Event, Position
from tests.factories import SEED_TRADE, give_market
from tests.fakes.valr import FAKE_API_KEY, FAKE_API_SECRET, FakeValr
from tests.test_live_checklist import paper_snapshots, valr_prices

HELIOS = [sys.executable, "-m", "helios.cli"]
ROOT = Path(__file__).resolve().parents[1]


class Cli:
    """Runs ``helios ...`` against the test database, the log file under ``tmp_path``."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.log_file = folder / "logs" / "helios.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
        self.env.update(
            HELIOS_ENV_FILE="",
            DATABASE_URL=database_url,
            MARKET_FEED="manual",
            LOG_FILE=str(self.log_file),
            JOURNAL_DIR=str(folder / "journal"),
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HELIOS, *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


@pytest.fixture
def book(database_url: str) -> Iterator[helios.Helios]:
    """The same database in this process, on the real clock (the children's), with a market the
    risk checks can judge."""
    with helios.connect(database_url, market_feed="manual", paper_slippage_pct="0") as hx:
        give_market(hx)
        yield hx


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def position(hx: helios.Helios, position_id: int) -> Position:
    with hx.db.read() as session:
        row = session.get(Position, position_id)
        assert row is not None
        return row


def open_seed_trade(hx: helios.Helios, pair: str = "BTCZAR") -> int:
    opened = hx.positions.open_position(pair, "BUY", SEED_TRADE, "cli test")
    assert opened["success"] is True, opened
    return int(opened["position_id"])


def test_helios_signal_stores_accepts_refuses_and_logs(cli: Cli, book: helios.Helios):
    accepted = cli("signal", "BTCZAR", "BUY", "--confidence", "0.85", "--reasoning", "approved")
    assert accepted.returncode == 0, accepted.stderr
    receipt = json.loads(accepted.stdout)
    assert receipt["accepted"] is True and receipt["status"] == "PENDING"
    stored = book.signals.get(receipt["signal_id"])
    assert stored["status"] == "PENDING" and stored["source"] == "cli"
    assert stored["pair"] == "BTCZAR" and stored["side"] == "BUY"
    assert stored["confidence"] == pytest.approx(0.85) and stored["llm_approved"] is True
    assert stored["llm_reasoning"] == "approved"

    malformed = cli("signal", "BTCZAR", "BUY", "--confidence", "1.7")
    assert malformed.returncode == 2
    assert "confidence=1.7" in malformed.stderr and "from 0 to 1" in malformed.stderr
    assert malformed.stdout == ""
    [refused] = book.signals.recent(1)
    assert refused["id"] != receipt["signal_id"]
    assert f"stored as rejected signal {refused['id']}" in malformed.stderr
    assert refused["status"] == "REJECTED" and refused["source"] == "cli"
    assert refused["payload"]["field"] == "confidence"
    assert refused["status_reason"].startswith("malformed: confidence=1.7")

    unapproved = cli("signal", "ETHZAR", "SELL", "--confidence", "0.9", "--llm-approved", "no")
    assert unapproved.returncode == 1, unapproved.stderr
    denied = json.loads(unapproved.stdout)
    assert denied["accepted"] is False and denied["status"] == "REJECTED"
    assert book.signals.get(denied["signal_id"])["status"] == "REJECTED"
    assert "not approved by the LLM tier" in denied["reason"]
    assert book.signals.counts() == {"PENDING": 1, "REJECTED": 2}

    # the decision lines, in the log file (LOG_FILE) and not on the terminal
    logged = cli.log_file.read_text(encoding="utf-8")
    assert f"signal {receipt['signal_id']} BTCZAR BUY confidence 0.85 from cli: PENDING" in logged
    assert "signal refused (malformed): confidence=1.7" in logged
    assert f"signal {denied['signal_id']} ETHZAR SELL confidence 0.90 from cli: REJECTED" in logged
    assert "helios.signals" in logged and accepted.stderr == ""


def test_halt_and_resume_record_who_and_why(cli: Cli, book: helios.Helios):
    halted = cli("halt", "--by", "thandi", "--reason", "x")
    assert halted.returncode == 0, halted.stderr
    assert "by thandi: x" in halted.stdout
    state = book.controls.halt_state()
    assert state.halted and state.by == "thandi" and state.cause == "manual"
    assert state.reason == "x"
    [halt] = events(book, "HALT")
    assert halt.actor == "thandi" and "x" in halt.message

    resumed = cli("resume", "--by", "thandi")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed by thandi" in resumed.stdout
    assert book.controls.halt_state().halted is False
    [resume] = events(book, "RESUME")
    assert resume.actor == "thandi" and "halt was: x" in resume.message

    missing = cli("halt", "--reason", "nobody")
    assert missing.returncode == 2 and "--by" in missing.stderr  # argparse: required
    assert book.controls.halt_state().halted is False


def test_close_all_closes_without_halting_and_emergency_stop_halts_and_closes(
    cli: Cli, book: helios.Helios
):
    first = open_seed_trade(book)
    closed = cli("close-all", "--by", "sipho")
    assert closed.returncode == 0, closed.stderr
    assert f"position {first}: CLOSED" in closed.stdout
    assert position(book, first).status == "CLOSED"
    assert book.controls.halt_state().halted is False
    [event] = events(book, "CLOSE_ALL")
    assert event.actor == "sipho" and "1 closed" in event.message

    second = open_seed_trade(book)
    stopped = cli("emergency-stop", "--by", "thandi")
    assert stopped.returncode == 0, stopped.stderr
    assert f"position {second}: EMERGENCY_CLOSE" in stopped.stdout
    assert position(book, second).status == "EMERGENCY_CLOSE"
    assert position(book, first).status == "CLOSED"  # closed once, not again
    state = book.controls.halt_state()
    assert state.halted and state.by == "thandi" and state.cause == "emergency_stop"
    assert state.action is not None and state.action.value == "close_all"
    [stop] = events(book, "EMERGENCY_STOP")
    assert stop.actor == "thandi" and stop.message.startswith("emergency stop: 1 closed")
    assert [e.actor for e in events(book, "HALT")] == ["thandi"]
    # no new position while halted
    refused = book.positions.open_position("ETHZAR", "BUY", SEED_TRADE)
    assert refused["success"] is False and refused.get("halted") is True
    with book.db.read() as session:
        statuses = list(session.scalars(select(Position.status).order_by(Position.id)))
    assert statuses == ["CLOSED", "EMERGENCY_CLOSE"]


def test_mode_LIVE_prints_the_checklist_and_is_refused_with_every_missing_item(
    cli: Cli, book: helios.Helios
):
    shown = cli("mode")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "PAPER"
    live = cli("mode", "LIVE", "--by", "x")
    assert live.returncode == 1
    assert "pre-live checklist:" in live.stdout
    assert "[ ] 7 days of PAPER trading: PAPER history: none yet" in live.stdout
    assert "[x] Small LIVE capital (LIVE_CAPITAL_CAP_ZAR): cap R5,000.00" in live.stdout
    assert "LIVE refused (trading stays PAPER): 4 of the 5" in live.stderr
    for missing in ("PAPER history", "VALR_API_KEY", "MARKET_FEED", "monitoring closely"):
        assert missing in live.stderr
    assert book.controls.trading_mode().value == "PAPER"
    [refusal] = events(book, "MODE_CHANGE_REFUSED")
    assert refusal.actor == "x"
    assert events(book, "MODE_CHANGE") == []
    paper = cli("mode", "PAPER", "--by", "x")
    assert paper.returncode == 0, paper.stderr
    assert "trading mode PAPER" in paper.stdout
    assert book.controls.trading_mode().value == "PAPER"


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr() as server:
        yield server


def test_mode_LIVE_switches_when_every_item_holds_and_the_key_is_never_shown(
    cli: Cli, book: helios.Helios, fake: FakeValr
):
    now = datetime.now(UTC)  # the children run on the real clock
    paper_snapshots(book, now)
    valr_prices(book, now)
    cli.env.update(
        MARKET_FEED="valr",
        VALR_BASE_URL=fake.url,
        VALR_API_KEY=FAKE_API_KEY,
        VALR_API_SECRET=FAKE_API_SECRET,
        VALR_MAX_RETRIES="0",
    )
    outputs = []
    status = cli("status")
    outputs.append(status)
    assert status.returncode == 0, status.stderr
    assert "pre-live   4 of 5 ready; missing: monitoring" in status.stdout

    fake.permissions = ["View access", "Trade", "Withdraw"]
    withdraw = cli("mode", "LIVE", "--by", "thandi", "--confirm-monitoring", "sipho")
    outputs.append(withdraw)
    assert withdraw.returncode == 1
    assert "the key carries the Withdraw permission" in withdraw.stderr
    assert book.controls.trading_mode().value == "PAPER"

    fake.permissions = ["View access", "Trade"]
    no_name = cli("mode", "LIVE", "--by", "thandi")
    outputs.append(no_name)
    assert no_name.returncode == 1
    assert "1 of the 5 pre-live checklist items missing" in no_name.stderr
    assert "A person monitoring closely: no name" in no_name.stderr

    live = cli("mode", "LIVE", "--by", "thandi", "--confirm-monitoring", "sipho")
    outputs.append(live)
    assert live.returncode == 0, live.stderr
    assert live.stdout.count("  [x] ") == 5 and "[ ]" not in live.stdout
    assert "[x] A person monitoring closely: sipho confirms they will monitor closely" in (
        live.stdout
    )
    assert "trading mode LIVE (set by thandi)" in live.stdout
    assert book.controls.trading_mode().value == "LIVE"
    [change] = events(book, "MODE_CHANGE")
    assert change.actor == "thandi" and change.details is not None
    assert change.details["confirmed_by"] == "sipho"
    assert len(events(book, "MODE_CHANGE_REFUSED")) == 2

    status = cli("status")
    outputs.append(status)
    assert "LIVE cap   R5,000.00: the risk checks and sizing see R5,000.00" in status.stdout

    back = cli("mode", "PAPER", "--by", "thandi")
    outputs.append(back)
    assert back.returncode == 0, back.stderr
    assert book.controls.trading_mode().value == "PAPER"

    logged = cli.log_file.read_text(encoding="utf-8") if cli.log_file.exists() else ""
    recorded = [(e.message, e.details) for e in events(book, "MODE_CHANGE_REFUSED")]
    for text in [o.stdout for o in outputs] + [o.stderr for o in outputs] + [logged]:
        assert FAKE_API_KEY not in text and FAKE_API_SECRET not in text
    for message, details in recorded:
        assert FAKE_API_KEY not in message + json.dumps(details)
