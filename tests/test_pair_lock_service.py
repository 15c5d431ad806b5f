"""``hx.locks`` on real SQLite and PostgreSQL: a lock by hand refuses a signal before the 7
checks with its reason and end time, ends by the clock, can be lifted; losing stop-outs lock
their pair automatically (and not outside the window); every change is an event with its alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from factories import SEED_REASONING, SEED_TRADE, connect_book, give_market
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import Alert, Event, PairLock, RiskDecision, Signal
from helios.errors import InvalidInput
from helios.pair_lock_service import LockNotActive


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock, lock_after_stops=3) as hx:
        give_market(hx)
        yield hx


def events(hx: helios.Helios, *kinds: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind.in_(kinds)).order_by(Event.id)))


def signal_outcome(hx: helios.Helios, pair: str = "BTCZAR") -> Signal:
    receipt = hx.signals.submit(
        pair, "BUY", 0.8, True, llm_reasoning="test", trade_params=dict(SEED_TRADE)
    )
    hx.signals.process_pending()
    with hx.db.read() as session:
        found = session.get(Signal, receipt["signal_id"])
        assert found is not None
        return found


def fresh_price(hx: helios.Helios, value: str = "1200000") -> None:
    hx.market.set_price("BTCZAR", value)


def test_a_locked_pair_refuses_a_signal_before_the_checks_with_reason_and_end(
    book: helios.Helios,
):
    lock = book.locks.lock("btczar", 6, "alice", "news at 20:00")
    assert (lock["pair"], lock["status"], lock["by"], lock["automatic"]) == (
        "BTCZAR",
        "active",
        "alice",
        False,
    )
    assert lock["ends_at"] - lock["starts_at"] == timedelta(hours=6)
    # START is 2026-11-26 08:00 UTC (conftest): + 6 h = 14:00 UTC = 16:00 SAST
    expected = (
        f"Pair BTCZAR is locked until 2026-11-26 16:00 SAST (lock {lock['id']}, by alice): "
        "news at 20:00"
    )
    preview = book.risk.preview("BTCZAR", "BUY", SEED_TRADE)
    assert preview.result.passed is False
    assert preview.result.reason == expected
    assert preview.result.checks == []  # refused before the 7 checks

    outcome = signal_outcome(book)
    assert (outcome.status, outcome.status_reason) == ("REJECTED", expected)
    with book.db.read() as session:
        decision = session.scalars(select(RiskDecision).order_by(RiskDecision.id.desc())).first()
    assert decision is not None and decision.passed is False and decision.checks == []
    assert decision.inputs["lock_id"] == lock["id"]
    assert book.risk.replay(decision.id).reason == expected  # replayable from what was stored
    # another pair is not locked
    assert book.risk.preview("ETHZAR", "BUY", SEED_TRADE).result.reason != expected

    [locked] = events(book, "PAIR_LOCKED")
    assert (locked.severity, locked.actor) == ("WARNING", "alice")
    assert "BTCZAR locked for 6 h until 2026-11-26 16:00 SAST" in locked.message
    with book.db.read() as session:
        alert = session.scalars(select(Alert).where(Alert.kind == "PAIR_LOCKED")).one()
    assert (alert.severity, alert.title) == ("warning", "Pair BTCZAR locked by alice")


def test_a_lock_ends_by_the_clock_and_the_pair_trades_again(book: helios.Helios):
    book.locks.lock("BTCZAR", 0.5, "alice", "short lock")
    assert [row["pair"] for row in book.locks.active()] == ["BTCZAR"]
    book.clock.advance(minutes=29)  # type: ignore[attr-defined]
    fresh_price(book)
    assert "is locked until" in book.risk.preview("BTCZAR", "BUY", SEED_TRADE).result.reason
    book.clock.advance(minutes=1)  # type: ignore[attr-defined]
    fresh_price(book)
    assert book.locks.active() == []
    assert book.locks.in_force("BTCZAR") is None
    assert book.risk.preview("BTCZAR", "BUY", SEED_TRADE).result.passed is True
    assert signal_outcome(book).status == "EXECUTED"
    [row] = book.locks.history()
    assert row["status"] == "expired"


def test_lift_by_id_or_by_pair_frees_the_pair_and_is_recorded(book: helios.Helios):
    first = book.locks.lock("BTCZAR", 6, "alice", "first")
    second = book.locks.lock("BTCZAR", 12, "alice", "second")
    assert book.locks.in_force("BTCZAR")["id"] == second["id"]  # type: ignore[index]
    [lifted] = book.locks.lift(second["id"], "bob")
    assert (lifted["status"], lifted["lifted_by"]) == ("lifted", "bob")
    assert book.locks.in_force("BTCZAR")["id"] == first["id"]  # type: ignore[index]
    assert "still locked by lock" in events(book, "PAIR_UNLOCKED")[-1].message
    assert [r["id"] for r in book.locks.lift("btczar", "bob")] == [first["id"]]
    assert book.locks.in_force("BTCZAR") is None
    assert book.risk.preview("BTCZAR", "BUY", SEED_TRADE).result.passed is True
    unlocked = events(book, "PAIR_UNLOCKED")
    assert [e.actor for e in unlocked] == ["bob", "bob"]
    assert unlocked[-1].message.endswith("; BTCZAR is free")
    with pytest.raises(LockNotActive, match="is lifted: nothing to lift"):
        book.locks.lift(first["id"], "bob")
    with pytest.raises(LockNotActive, match="BTCZAR is not locked"):
        book.locks.lift("BTCZAR", "bob")


BAD: list[tuple[dict[str, Any], str]] = [
    ({"pair": "DOGEZAR"}, "pair"),
    ({"hours": 0}, "hours"),
    ({"hours": 721}, "hours"),
    ({"hours": "six"}, "hours"),
    ({"by": "  "}, "by"),
    ({"reason": ""}, "reason"),
]


@pytest.mark.parametrize(("bad", "field"), BAD)
def test_bad_input_names_the_field_and_changes_nothing(
    book: helios.Helios, bad: dict[str, Any], field: str
):
    call = {"pair": "BTCZAR", "hours": 6, "by": "alice", "reason": "why", **bad}
    with pytest.raises(InvalidInput) as caught:
        book.locks.lock(**call)
    assert caught.value.field == field
    with book.db.read() as session:
        assert session.scalars(select(PairLock)).all() == []
    assert events(book, "PAIR_LOCKED") == []
    with pytest.raises(InvalidInput, match="lock_id=999"):
        book.locks.lift(999, "bob")


def stop_out(hx: helios.Helios) -> Decimal:
    """Open the seed's BTC buy at R1,200,000 and let the price fall through its stop."""
    fresh_price(hx)
    opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"] is True, opened
    hx.clock.advance(minutes=1)  # type: ignore[attr-defined]
    fresh_price(hx, "1170000")
    [result] = hx.positions.monitor_positions()
    assert result.action == "STOPPED_OUT" and result.close is not None
    hx.clock.advance(minutes=1)  # type: ignore[attr-defined]
    fresh_price(hx)
    return Decimal(result.close["realized_pnl"])


def test_three_losing_stop_outs_within_the_window_lock_the_pair(book: helios.Helios):
    assert stop_out(book) < 0
    book.clock.advance(hours=2)  # type: ignore[attr-defined]
    stop_out(book)
    assert book.locks.active() == []
    book.clock.advance(hours=2)  # type: ignore[attr-defined]
    stop_out(book)
    [lock] = book.locks.active()
    assert (lock["pair"], lock["automatic"], lock["by"]) == ("BTCZAR", True, "auto:stop-outs")
    assert lock["ends_at"] - lock["starts_at"] == timedelta(hours=12)
    assert "3 losing stop-outs on BTCZAR within 6 h" in lock["reason"]
    [auto] = events(book, "PAIR_LOCK_AUTO")
    assert auto.severity == "WARNING" and auto.details["lock_id"] == lock["id"]
    # the lock was written with the stop-out that caused it (same time, same transaction)
    assert auto.ts == lock["starts_at"]
    outcome = signal_outcome(book)
    assert outcome.status == "REJECTED"
    assert outcome.status_reason.startswith("Pair BTCZAR is locked until ")
    assert f"(lock {lock['id']}, automatically)" in outcome.status_reason
    # a fourth stop-out while locked adds no lock (closing is never blocked)
    book.locks.lift("BTCZAR", "carol")
    stop_out(book)
    assert book.locks.active() == []  # only 1 stop-out since the lock ended


def test_stop_outs_spread_beyond_the_window_do_not_lock(book: helios.Helios):
    stop_out(book)
    book.clock.advance(hours=4)  # type: ignore[attr-defined]
    stop_out(book)
    book.clock.advance(hours=3)  # the first is now 7 h old: outside the 6 h window
    stop_out(book)
    assert book.locks.active() == []
    assert events(book, "PAIR_LOCK_AUTO") == []


def test_lock_after_stops_zero_disables_the_automatic_lock(database_url: str, clock: ManualClock):
    with connect_book(database_url, clock, lock_after_stops=0) as hx:
        give_market(hx)
        for _ in range(4):
            stop_out(hx)
        assert hx.locks.active() == []
