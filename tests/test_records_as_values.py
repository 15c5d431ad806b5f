"""A signal's and a decision's records are values built by pure functions (``signals.rows``,
``risk.decision_row``, ``events.event_values``), and a decision's inputs are a pure function of
what it read (``risk.decision_inputs``): the seams a replay that keeps its book in memory and
writes its records behind needs (``docs/replay.md``, "What meeting it takes", steps 1 and 2).

The services write exactly what the builders return (the stored rows are compared with them), and
``inputs_of`` fed plain values (no database rows) decides exactly as the database's reader.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

import helios
from helios.accounts.valuation import day_start
from helios.db.models import Event, RiskDecision, Signal
from helios.events import event_values
from helios.pair_lock_store import lock_holding
from helios.risk.decision_inputs import DecisionReads, inputs_of
from helios.risk.decision_row import decision_row
from helios.risk.inputs import decide
from helios.risk.statements import CHECK_HEAD, OPEN_POSITIONS
from helios.signals.rows import (
    PENDING,
    REJECTED,
    SignalOutcome,
    decision_event_values,
    settle_values,
    signal_row,
)
from helios.signals.validation import MAX_TEXT, parse_signal
from tests.factories import booked_position, give_market


def parsed(hx: helios.Helios, **fields: Any) -> Any:
    raw = {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": True, **fields}
    now = hx.clock.now()
    return parse_signal(raw, hx.settings, hx.market, now, 3.0)


def test_a_pending_signal_keeps_its_dedup_key_and_a_refused_one_has_none(hx: helios.Helios):
    signal = parsed(hx, predicted_return=0.02)
    now = hx.clock.now()
    pending = signal_row(signal, now, PENDING, "")
    refused = signal_row(signal, now, REJECTED, "not approved")
    assert pending["dedup_key"] == signal.dedup_key and pending["processed_at"] is None
    assert refused["dedup_key"] is None and refused["processed_at"] == now
    assert refused["payload"] == {"dedup_key": signal.dedup_key}  # kept for the audit
    assert pending["confidence"] == Decimal("0.8")
    assert pending["predicted_return"] == Decimal("0.02")
    with pytest.raises(ValueError, match="status='DONE'"):
        signal_row(signal, now, "DONE", "")


def test_an_outcome_is_cut_to_the_columns_and_its_event_names_the_status(hx: helios.Helios):
    now = hx.clock.now()
    outcome = SignalOutcome(7, "BTCZAR", "BUY", REJECTED, "x" * (MAX_TEXT + 50), mode="PAPER")
    values = settle_values(outcome, now)
    assert values["new_reason"] == "x" * MAX_TEXT and values["signal_id"] == 7
    event = decision_event_values(replace(outcome, reason="y" * 3000), now)
    assert event["kind"] == "SIGNAL_REJECTED" and event["actor"] == "trading-loop"
    assert len(event["message"]) == 2000 and event["message"].startswith("[PAPER] signal 7")
    assert event["details"] == {
        "signal_id": 7,
        "position_id": None,
        "violated_limits": [],
        "mode": "PAPER",
    }
    with pytest.raises(ValueError, match="severity='LOUD'"):
        event_values(ts=now, kind="X", message="m", actor="a", severity="LOUD")


def test_the_trading_loop_writes_what_the_builders_return(priced_hx: helios.Helios):
    """A signal the risk decision refuses (its pair is held): the signal, the decision and the
    decision line in the database are the builders' rows, field by field."""
    hx = priced_hx
    give_market(hx)
    booked_position(hx, "BTCZAR", "BUY", "1000", "1")
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params={"position_size_zar": 500})
    (outcome,) = hx.signals.process_pending()
    # what the decision read, read again at the same instant (nothing it reads has moved)
    inputs, params = hx.risk.gather("BTCZAR", "BUY", {"position_size_zar": 500})
    assert outcome.status == REJECTED and outcome.violated_limits  # refused by the decision
    with hx.db.read() as session:
        stored = session.get(Signal, receipt["signal_id"])
        assert stored is not None
        decision = session.scalars(
            select(RiskDecision).where(RiskDecision.signal_id == stored.id)
        ).one()
        event = session.scalars(select(Event).where(Event.kind == "SIGNAL_REJECTED")).one()
        expected = decision_row(inputs, params, decide(inputs), stored.id, decision.ts)
        columns = {c.name: getattr(decision, c.name) for c in RiskDecision.__table__.columns}
        assert {k: columns[k] for k in expected} == {
            **expected,
            "ts": columns["ts"],  # stored as read back (naive on SQLite)
        }
        assert stored.status == REJECTED and stored.status_reason == outcome.reason
        event_expected = decision_event_values(outcome, event.ts)
        assert {k: getattr(event, k) for k in ("kind", "severity", "actor", "message")} == {
            k: event_expected[k] for k in ("kind", "severity", "actor", "message")
        }
        assert event.details == event_expected["details"]


def plain(row: Any) -> SimpleNamespace:
    """A database row as a plain value: what a book held in memory would hand ``inputs_of``."""
    return SimpleNamespace(**dict(row._mapping))


@pytest.mark.parametrize("pair", ["BTCZAR", "ETHZAR", "SOLZAR"])
def test_inputs_from_plain_values_equal_the_database_readers(priced_hx: helios.Helios, pair: str):
    """One open position (BTC full), a lock (ETH), a free pair (SOL), a halt: the ``Inputs``
    built from plain values equal, field by field, those the reader builds from the rows."""
    hx = priced_hx
    give_market(hx)
    booked_position(hx, "BTCZAR", "BUY", "1000", "1")
    hx.locks.lock("ETHZAR", 4, "test", "a news event")
    hx.clock.advance(timedelta(seconds=30))  # the prices have an age
    hx.controls.halt("a halt the inputs carry", "test")
    trade = {"position_size_zar": 500, "leverage": 1}
    expected, params = hx.risk.gather(pair, "BUY", trade)
    now = hx.clock.now()
    with hx.db.engine.connect() as conn:
        head = plain(conn.execute(CHECK_HEAD, {"pair": pair}).one())
        positions = [tuple(r) for r in conn.execute(OPEN_POSITIONS)]
        start, unknown = day_start(
            conn, head.trading_day, head.start_of_day_equity, now, hx.settings.trading_day_timezone
        )
        lock = lock_holding(conn, pair, now)  # a LockView: a value already
    if pair == "ETHZAR":
        assert lock is not None
    reads = DecisionReads(head, positions, start, unknown, lock)
    inputs, book = inputs_of(
        reads,
        pair=pair,
        side="BUY",
        params=params,
        limits=expected.limits,
        stats=expected.stats,
        now=now,
        settings=hx.settings,
        venue=None,
    )
    assert inputs.to_dict() == expected.to_dict()
    assert decide(inputs) == decide(expected)
    assert book.equity == Decimal(str(book.equity))  # exact: the ledger's Decimal
