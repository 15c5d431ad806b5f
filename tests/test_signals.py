"""Signal intake and the trading loop (issue #6): every signal that arrives is stored, the
malformed, unapproved, expired and duplicate ones as REJECTED with their reason; the trading loop
turns each pending signal into exactly one position, a risk rejection, an expiry or a halt
refusal; the demo generator signals only on a real move and never in LIVE."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import helios
from helios.clock import ManualClock
from helios.config import DemoSignals, FeedKind, TradingMode, load_settings
from helios.db.models import Event, Position, RiskDecision, Signal
from helios.demo import (
    LOOKBACK,
    REASONING,
    SOURCE,
    DemoRefused,
    MomentumDemo,
)
from helios.errors import InvalidInput
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus
from helios.settings_store import MODE_KEY, put_setting
from helios.signals import SignalRejected
from tests.conftest import START
from tests.factories import SEED_TRADE, count_rows, give_market, transactions

GOOD: dict[str, Any] = {"pair": "BTCZAR", "side": "BUY", "confidence": 0.8, "llm_approved": True}


def rows(hx: helios.Helios, status: str | None = None) -> list[Signal]:
    query = select(Signal).order_by(Signal.id)
    if status is not None:
        query = query.where(Signal.status == status)
    with hx.db.read() as session:
        return list(session.scalars(query))


def events_of(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def _position_columns(hx: helios.Helios, position_id: int) -> dict[str, Any]:
    """A stored position's columns (to try inserting a copy)."""
    with hx.db.read() as session:
        row = session.get(Position, position_id)
        return {column.key: getattr(row, column.key) for column in Position.__table__.columns}


def positions(hx: helios.Helios) -> list[Position]:
    with hx.db.read() as session:
        return list(session.scalars(select(Position).order_by(Position.id)))


# --- intake ------------------------------------------------------------------------------------
def test_an_accepted_signal_is_stored_pending_with_every_field(hx: helios.Helios):
    params = {
        "leverage": 2,
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.06,
        "max_holding_hours": 12,
    }
    receipt = hx.signals.submit(
        "ethzar",
        "sell",
        0.85,
        True,
        llm_reasoning="momentum fading, approved",
        predicted_return=-0.031,
        trade_params=params,
        created_at=START - timedelta(seconds=30),
        expires_at=START + timedelta(minutes=10),
        source="notebook",
        dedup_key="upstream-42",
    )
    assert receipt == {
        "accepted": True,
        "signal_id": receipt["signal_id"],
        "status": "PENDING",
        "reason": "",
    }
    stored = hx.signals.get(receipt["signal_id"])
    assert stored["pair"] == "ETHZAR" and stored["side"] == "SELL"
    assert stored["confidence"] == pytest.approx(0.85)
    assert stored["predicted_return"] == pytest.approx(-0.031)
    assert stored["llm_approved"] is True
    assert stored["llm_reasoning"] == "momentum fading, approved"
    assert stored["trade_params"] == {
        "leverage": 2.0,
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.06,
        "max_holding_hours": 12.0,
    }
    assert stored["created_at"] == START - timedelta(seconds=30)
    assert stored["expires_at"] == START + timedelta(minutes=10)
    assert stored["received_at"] == START
    assert stored["source"] == "notebook" and stored["dedup_key"] == "upstream-42"
    assert stored["status"] == "PENDING" and stored["status_reason"] == ""
    assert stored["position_id"] is None and stored["processed_at"] is None
    # the defaults: source "python", expiry SIGNAL_EXPIRY_SECONDS after creation, a dedup key
    other = hx.signals.get(hx.signals.submit("BTCZAR", "BUY", 0.6, True)["signal_id"])
    assert other["source"] == "python" and other["created_at"] == START
    assert other["expires_at"] == START + timedelta(seconds=hx.settings.signal_expiry_seconds)
    assert other["trade_params"] is None and other["predicted_return"] is None
    assert other["dedup_key"]
    assert hx.signals.counts() == {"PENDING": 2}


MALFORMED: list[tuple[str, dict[str, Any], str, str, str]] = [
    # (case, fields over GOOD, the field named, the value shown, the allowed range shown)
    ("unknown pair", {"pair": "DOGEZAR"}, "pair", "'DOGEZAR'", "configured pairs"),
    ("side HOLD", {"side": "HOLD"}, "side", "'HOLD'", "BUY or SELL"),
    ("confidence 1.5", {"confidence": 1.5}, "confidence", "1.5", "from 0 to 1"),
    ("confidence NaN", {"confidence": math.nan}, "confidence", "nan", "from 0 to 1"),
    ("confidence True", {"confidence": True}, "confidence", "True", "from 0 to 1"),
    ("confidence text", {"confidence": "0.8x"}, "confidence", "'0.8x'", "from 0 to 1"),
    ("approval 'yes'", {"llm_approved": "yes"}, "llm_approved", "'yes'", "true or false"),
    ("confidence 10**400", {"confidence": 10**400}, "confidence", "1000", "from 0 to 1"),
    (
        "size 10**400",
        {"trade_params": {"position_size_zar": 10**400}},
        "trade_params.position_size_zar",
        "1000",
        "<=",
    ),
    (
        "predicted return inf",
        {"predicted_return": math.inf},
        "predicted_return",
        "inf",
        "from -1 to 10",
    ),
    (
        "leverage 50",
        {"trade_params": {"leverage": 50}},
        "trade_params.leverage",
        "50",
        "<= 3",
    ),
    (
        "unknown trade_params key",
        {"trade_params": {"levrage": 2}},
        "trade_params",
        "levrage",
        "keys among position_size_zar",
    ),
    (
        "naive created_at",
        {"created_at": datetime(2026, 11, 26, 8, 0)},
        "created_at",
        "datetime.datetime(2026, 11, 26, 8, 0)",
        "with its zone",
    ),
    ("garbage created_at", {"created_at": "soon"}, "created_at", "'soon'", "with its zone"),
    (
        "created_at a day ahead",
        {"created_at": START + timedelta(days=1)},
        "created_at",
        "2026, 11, 27",
        "not later than 60 s after now",
    ),
    (
        "expires before created",
        {"created_at": START, "expires_at": START - timedelta(seconds=1)},
        "expires_at",
        "2026, 11, 26, 7, 59, 59",
        "later than created_at",
    ),
    ("empty source", {"source": "  "}, "source", "'  '", "1 to 40 characters"),
]


def test_each_malformed_field_is_named_stored_as_rejected_and_never_pending(hx: helios.Helios):
    assert hx.risk.get_limits().max_leverage == 3  # the seed's limit, shown in the leverage case
    for case, changes, field, shown, allowed in MALFORMED:
        with pytest.raises(SignalRejected) as caught:
            hx.signals.submit(**{**GOOD, **changes})
        error = caught.value
        assert isinstance(error, InvalidInput), case
        assert error.field == field, case
        assert shown in str(error) and allowed in str(error), (case, str(error))
        assert error.signal_id is not None, case
        stored = hx.signals.get(error.signal_id)
        assert stored["status"] == "REJECTED", case
        assert stored["status_reason"].startswith(f"malformed: {field}="), case
        assert allowed in stored["status_reason"], case
        assert stored["payload"]["field"] == field, case
        sent = stored["payload"]["sent"]
        assert set(GOOD) <= set(sent), case  # the whole payload, not only the bad field
        if field != "pair":
            assert sent["pair"] == "BTCZAR" and stored["pair"] == "BTCZAR", case
        assert stored["dedup_key"] is None and stored["position_id"] is None, case
    # an unknown top-level key (submit_raw: the REST body, the CLI) is refused, not ignored
    with pytest.raises(SignalRejected) as caught:
        hx.signals.submit_raw({**GOOD, "colour": "red"})
    assert caught.value.field == "signal" and "colour" in str(caught.value)
    stored = hx.signals.get(caught.value.signal_id)
    assert stored["status"] == "REJECTED" and stored["payload"]["sent"]["colour"] == "red"
    assert "signal=" in stored["status_reason"] and "keys among" in stored["status_reason"]
    # a payload that is not even a mapping is still stored
    with pytest.raises(SignalRejected) as caught:
        hx.signals.submit_raw(["BTCZAR", "BUY"])
    assert caught.value.field == "signal"
    assert hx.signals.get(caught.value.signal_id)["payload"]["sent"] == ["BTCZAR", "BUY"]

    assert hx.signals.counts() == {"REJECTED": len(MALFORMED) + 2}
    assert rows(hx, "PENDING") == []
    assert hx.signals.process_pending() == []
    assert positions(hx) == []


def test_unapproved_and_expired_on_arrival_signals_are_rejected_with_the_reason(
    hx: helios.Helios,
):
    unapproved = hx.signals.submit(
        "BTCZAR", "BUY", 0.9, False, llm_reasoning="news risk too high", dedup_key="u-1"
    )
    assert unapproved["accepted"] is False and unapproved["status"] == "REJECTED"
    assert unapproved["reason"] == "not approved by the LLM tier: news risk too high"
    expired = hx.signals.submit(
        "ETHZAR",
        "SELL",
        0.7,
        True,
        created_at=START - timedelta(minutes=10),
        expires_at=START - timedelta(minutes=1),
        dedup_key="e-1",
    )
    assert expired["accepted"] is False and expired["status"] == "REJECTED"
    assert expired["reason"].startswith("expired at 2026-11-26T07:59:00+00:00")
    for receipt in (unapproved, expired):
        stored = hx.signals.get(receipt["signal_id"])
        assert stored["status"] == "REJECTED" and stored["status_reason"] == receipt["reason"]
        assert stored["processed_at"] == START
        assert stored["dedup_key"] is None  # a refusal does not take the upstream id
    assert rows(hx, "PENDING") == []
    # the upstream may send the approved version under the same id: it is not a duplicate
    again = hx.signals.submit("BTCZAR", "BUY", 0.9, True, dedup_key="u-1")
    assert again["accepted"] is True


def test_a_duplicate_is_rejected_naming_the_first_which_stays_pending(
    hx: helios.Helios, clock: ManualClock
):
    first = hx.signals.submit("BTCZAR", "BUY", 0.8, True, dedup_key="upstream-7")
    clock.advance(timedelta(seconds=5))
    second = hx.signals.submit("BTCZAR", "BUY", 0.8, True, dedup_key="upstream-7")
    assert first["accepted"] is True
    assert second["accepted"] is False and second["status"] == "REJECTED"
    assert second["reason"].startswith(f"duplicate of signal {first['signal_id']}")
    assert hx.signals.get(first["signal_id"])["status"] == "PENDING"
    assert hx.signals.get(second["signal_id"])["status_reason"] == second["reason"]
    # without a dedup key, the same source, pair, side and time is the same signal
    a = hx.signals.submit("ETHZAR", "SELL", 0.7, True, source="tier2")
    b = hx.signals.submit("ETHZAR", "SELL", 0.7, True, source="tier2")
    assert a["accepted"] is True
    assert b["reason"].startswith(f"duplicate of signal {a['signal_id']}")
    assert hx.signals.counts() == {"PENDING": 2, "REJECTED": 2}


# --- the trading loop --------------------------------------------------------------------------
def decision_of(hx: helios.Helios, position: Position) -> RiskDecision:
    with hx.db.read() as session:
        decision = session.get(RiskDecision, position.risk_decision_id)
        assert decision is not None
        return decision


def test_a_good_signal_is_sized_risk_checked_and_executed(hx: helios.Helios):
    give_market(hx)
    receipt = hx.signals.submit(
        "BTCZAR", "BUY", 0.8, True, llm_reasoning="breakout, approved", dedup_key="g-1"
    )
    expected = hx.risk.size_position("BTCZAR", "BUY", 0.8)
    assert expected.position_size_zar > 0
    [outcome] = hx.signals.process_pending()
    assert outcome.status == "EXECUTED" and outcome.signal_id == receipt["signal_id"]
    assert outcome.mode == "PAPER" and outcome.position_id is not None
    assert outcome.position_size_zar == pytest.approx(expected.position_size_zar)
    [position] = positions(hx)
    assert position.id == outcome.position_id and position.status == "OPEN"
    assert position.signal_id == receipt["signal_id"]
    assert position.position_size_zar == Decimal(repr(expected.position_size_zar)).quantize(
        position.position_size_zar
    )
    assert position.strategic_reasoning == "breakout, approved"
    decision = decision_of(hx, position)
    assert decision.passed and decision.signal_id == receipt["signal_id"]
    assert decision.inputs["sizing"]["sizing_method"] == "kelly_vol"
    assert decision.inputs["sizing"]["position_size_zar"] == pytest.approx(
        expected.position_size_zar
    )
    stored = hx.signals.get(receipt["signal_id"])
    assert stored["status"] == "EXECUTED" and stored["position_id"] == position.id
    assert stored["status_reason"].startswith("opened at ")
    [event] = events_of(hx, "SIGNAL_EXECUTED")
    assert event.details["signal_id"] == receipt["signal_id"]
    assert event.details["position_id"] == position.id and event.details["mode"] == "PAPER"
    assert f"signal {receipt['signal_id']} BTCZAR BUY R" in event.message
    # a second pass finds nothing to do and opens nothing more
    assert hx.signals.process_pending() == []
    assert len(positions(hx)) == 1


def test_a_signal_that_names_its_size_is_opened_at_that_size(hx: helios.Helios):
    give_market(hx)
    receipt = hx.signals.submit("ETHZAR", "SELL", 0.7, True, trade_params=SEED_TRADE)
    [outcome] = hx.signals.process_pending()
    assert outcome.status == "EXECUTED", outcome.reason
    assert outcome.position_size_zar == 903.0 and outcome.leverage == 1.0
    [position] = positions(hx)
    assert position.signal_id == receipt["signal_id"] and position.side == "SELL"
    assert position.position_size_zar == Decimal("903")
    assert position.stop_loss_pct == Decimal("0.02")
    assert position.take_profit_pct == Decimal("0.06")
    assert decision_of(hx, position).inputs.get("sizing") is None  # not sized by the rule


def test_a_risk_rejection_stores_the_check_reason_and_the_violated_limits(hx: helios.Helios):
    give_market(hx)
    receipt = hx.signals.submit(
        "BTCZAR", "BUY", 0.8, True, trade_params={"position_size_zar": 90000}
    )
    [outcome] = hx.signals.process_pending()
    assert outcome.status == "REJECTED" and outcome.position_id is None
    assert "max_single_position_pct" in outcome.violated_limits
    with hx.db.read() as session:
        decision = session.scalars(
            select(RiskDecision).where(RiskDecision.signal_id == receipt["signal_id"])
        ).one()
    assert decision.passed is False and outcome.reason == decision.reason
    assert list(outcome.violated_limits) == decision.violated_limits
    stored = hx.signals.get(receipt["signal_id"])
    assert stored["status"] == "REJECTED" and stored["status_reason"] == decision.reason
    [event] = events_of(hx, "SIGNAL_REJECTED")
    assert event.details["signal_id"] == receipt["signal_id"]
    assert event.details["violated_limits"] == decision.violated_limits
    assert "R90,000.00" in event.message and decision.reason[:40] in event.message
    assert positions(hx) == []


def test_a_signal_expired_before_the_loop_reaches_it_ends_expired(
    hx: helios.Helios, clock: ManualClock
):
    give_market(hx)
    receipt = hx.signals.submit(
        "BTCZAR", "BUY", 0.8, True, expires_at=START + timedelta(seconds=30)
    )
    clock.advance(timedelta(seconds=31))
    [outcome] = hx.signals.process_pending()
    assert (outcome.signal_id, outcome.status) == (receipt["signal_id"], "EXPIRED")
    [event] = events_of(hx, "SIGNAL_EXPIRED")  # one decision line per signal, expired ones too
    assert f"signal {receipt['signal_id']} BTCZAR BUY" in event.message
    stored = hx.signals.get(receipt["signal_id"])
    assert stored["status"] == "EXPIRED" and "expired" in stored["status_reason"]
    assert stored["processed_at"] == START + timedelta(seconds=31)
    assert positions(hx) == [] and count_rows(hx)["risk_decisions"] == 0


def test_under_a_halt_every_pending_signal_is_rejected_and_nothing_opens(hx: helios.Helios):
    give_market(hx)
    ids = [hx.signals.submit(pair, "BUY", 0.8, True)["signal_id"] for pair in ("BTCZAR", "ETHZAR")]
    hx.controls.halt("exchange maintenance", "thandi")
    outcomes = hx.signals.process_pending()
    assert [(o.signal_id, o.status) for o in outcomes] == [(i, "REJECTED") for i in ids]
    for signal_id in ids:
        stored = hx.signals.get(signal_id)
        assert stored["status"] == "REJECTED"
        assert stored["status_reason"] == "trading halted: exchange maintenance"
    # one decision line per signal, in the events table too
    events = events_of(hx, "SIGNAL_REJECTED")
    assert [e.details["signal_id"] for e in events] == ids
    assert all("trading halted: exchange maintenance" in e.message for e in events)
    assert positions(hx) == [] and count_rows(hx)["risk_decisions"] == 0
    # after resuming, the rejected signals stay rejected: a halt is not a queue
    hx.controls.resume("thandi")
    assert hx.signals.process_pending() == []
    assert positions(hx) == []


def test_a_pass_reads_the_halt_and_the_mode_in_its_own_transaction(hx: helios.Helios):
    """The trading loop's pass reads the halt flag and the mode inside the write transaction
    that takes the pending signals (one transaction for a pass with nothing to do, where it was
    three), so a halt committed before the pass began is the one it obeys."""
    give_market(hx)
    with transactions(hx) as begun:
        assert hx.signals.process_pending() == []
    assert begun == ["write"]
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True)
    hx.controls.halt("exchange maintenance", "thandi")
    with transactions(hx) as begun:
        [outcome] = hx.signals.process_pending()
    assert (outcome.signal_id, outcome.status) == (receipt["signal_id"], "REJECTED")
    assert begun == ["write"]


def test_a_pending_signal_that_already_has_a_position_is_executed_without_a_second(
    hx: helios.Helios,
):
    give_market(hx)
    signal_id = hx.signals.submit("BTCZAR", "BUY", 0.8, True)["signal_id"]
    # the crash: the position was opened for the signal, the signal's own record was not written
    opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, signal_id=signal_id)
    assert opened["success"] is True
    assert hx.signals.get(signal_id)["status"] == "PENDING"
    before = count_rows(hx)
    cash = hx.ledger.valuation().cash

    # a second position for the same signal is refused, naming the field, and nothing is
    # written (a trade the 7 checks pass: BTCZAR again would be refused by correlation first)
    with pytest.raises(InvalidInput, match="signal_id") as caught:
        hx.positions.open_position("SOLZAR", "SELL", SEED_TRADE, signal_id=signal_id)
    assert caught.value.field == "signal_id"
    assert f"position {opened['position_id']}" in caught.value.allowed
    assert count_rows(hx) == before
    assert hx.ledger.valuation().cash == cash
    # and the database itself refuses it too (the last line against a race)
    with pytest.raises(IntegrityError, match="signal_id"), hx.db.write() as session:
        session.add(Position(**{**_position_columns(hx, opened["position_id"]), "id": None}))

    [outcome] = hx.signals.process_pending()
    assert (outcome.status, outcome.position_id) == ("EXECUTED", opened["position_id"])
    stored = hx.signals.get(signal_id)
    assert stored["status"] == "EXECUTED" and stored["position_id"] == opened["position_id"]
    assert str(opened["position_id"]) in stored["status_reason"]
    assert count_rows(hx) == before
    [position] = positions(hx)
    assert position.signal_id == signal_id


# --- the demo generator ------------------------------------------------------------------------
def test_the_demo_signals_a_move_over_the_lookback_and_nothing_otherwise(
    priced_hx: helios.Helios, clock: ManualClock
):
    hx = priced_hx
    demo = MomentumDemo(hx)
    assert demo.run() == []  # the first look only remembers the prices
    clock.advance(timedelta(seconds=LOOKBACK.total_seconds() / 2))
    hx.market.set_price("BTCZAR", "1203000")  # +0.25%, but within the lookback
    assert demo.run() == []
    clock.advance(timedelta(seconds=LOOKBACK.total_seconds() / 2 + 1))  # ETH, SOL did not move
    receipts = demo.run()
    assert len(receipts) == 1 and receipts[0]["accepted"] is True
    stored = hx.signals.get(receipts[0]["signal_id"])
    assert stored["pair"] == "BTCZAR" and stored["side"] == "BUY"
    assert stored["source"] == SOURCE == "demo-momentum"
    assert stored["trade_params"] == demo.levels("BTCZAR").trade_params()
    assert stored["trade_params"]["take_profit_pct"] >= 3 * 2 * (0.0035 + 0.0005)  # the fees
    assert stored["llm_approved"] is True and stored["llm_reasoning"] == REASONING
    assert "DEMO" in stored["llm_reasoning"]
    assert stored["predicted_return"] == pytest.approx(0.0025)
    assert 0.55 <= stored["confidence"] <= 0.9
    # a fall over the next lookback is a SELL; no move at all sends nothing
    clock.advance(LOOKBACK + timedelta(seconds=1))
    assert demo.run() == []
    clock.advance(LOOKBACK + timedelta(seconds=1))
    hx.market.set_price("SOLZAR", "2490")  # -0.4%
    [sell] = demo.run()
    assert hx.signals.get(sell["signal_id"])["side"] == "SELL"
    assert hx.signals.counts() == {"PENDING": 2}


def test_the_demo_never_runs_in_LIVE(priced_hx: helios.Helios, clock: ManualClock):
    hx = priced_hx
    demo = MomentumDemo(hx)
    demo.run()
    clock.advance(timedelta(seconds=61))
    hx.market.set_price("BTCZAR", "1300000")
    # set_mode('LIVE') is refused until issue #8: the row is set as that issue will
    with hx.db.write() as session:
        put_setting(session, MODE_KEY, "LIVE", clock.now(), "test")
    assert hx.controls.trading_mode() is TradingMode.LIVE
    with pytest.raises(DemoRefused, match="LIVE"):
        demo.run()
    assert rows(hx) == []


@pytest.mark.parametrize(
    ("demo", "feed", "mode", "wanted"),
    [
        (DemoSignals.AUTO, FeedKind.SIM, TradingMode.PAPER, True),
        (DemoSignals.AUTO, FeedKind.MANUAL, TradingMode.PAPER, False),
        (DemoSignals.AUTO, FeedKind.SIM, TradingMode.LIVE, False),
        (DemoSignals.ON, FeedKind.MANUAL, TradingMode.PAPER, True),
        (DemoSignals.ON, FeedKind.SIM, TradingMode.LIVE, False),
        (DemoSignals.OFF, FeedKind.SIM, TradingMode.PAPER, False),
    ],
)
def test_when_the_demo_generator_is_wanted(
    demo: DemoSignals, feed: FeedKind, mode: TradingMode, wanted: bool
):
    settings = load_settings(demo_signals=demo.value, market_feed=feed.value)
    assert settings.demo_signals is demo
    assert settings.demo_signals_wanted(mode) is wanted


class RejectingVenue(Exchange):
    """A venue that refuses every order (below its minimum size, say)."""

    name = "rejecting"

    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        return OrderResult(
            client_order_id=request.client_order_id,
            exchange_order_id="x-1",
            status=OrderStatus.REJECTED,
            pair=request.pair,
            side=request.side.value,
            reason="below the minimum order size",
        )

    def get_order(self, client_order_id: str) -> OrderResult | None:
        return None

    def balances(self) -> dict[str, Decimal]:
        return {}


def test_an_order_the_exchange_rejects_ends_the_signal_rejected(hx: helios.Helios):
    give_market(hx)
    hx.positions._exchanges[TradingMode.PAPER] = RejectingVenue()
    receipt = hx.signals.submit("BTCZAR", "BUY", 0.8, True, trade_params=SEED_TRADE)
    [outcome] = hx.signals.process_pending()
    assert outcome.status == "REJECTED" and "below the minimum order size" in outcome.reason
    stored = hx.signals.get(receipt["signal_id"])
    assert stored["status"] == "REJECTED"
    assert stored["position_id"] is not None  # kept for the audit: the FAILED position
    [position] = positions(hx)
    assert position.status == "FAILED"


def test_one_signal_that_fails_does_not_block_the_queue(
    hx: helios.Helios, monkeypatch: pytest.MonkeyPatch
):
    give_market(hx)
    first = hx.signals.submit("BTCZAR", "BUY", 0.8, True)["signal_id"]
    second = hx.signals.submit("SOLZAR", "BUY", 0.8, True)["signal_id"]
    sizing = hx.risk.size_position

    def breaks_on_btc(pair: str, *args: Any, **kwargs: Any) -> Any:
        if pair == "BTCZAR":
            raise RuntimeError("volatility model blew up")
        return sizing(pair, *args, **kwargs)

    monkeypatch.setattr(hx.risk, "size_position", breaks_on_btc)
    outcomes = {o.signal_id: o for o in hx.signals.process_pending()}
    assert outcomes[first].status == "REJECTED"
    assert "internal error: RuntimeError: volatility model blew up" in outcomes[first].reason
    assert outcomes[second].status == "EXECUTED"
