"""LIVE reconciliation (``hx.reconciliation``): VALR's balances and open orders against the
ledger, with positions opened and closed through ``hx`` on the fake VALR (``tests/fakes/valr.py``,
a real HTTP server on 127.0.0.1), on SQLite and PostgreSQL.

The mode is set to LIVE directly in the database (the pre-live checklist is its own subject);
the fake fills market orders at the price the test sets and charges VALR's taker fee (a BUY in
the coin, a SELL in rand), so the balances it reports are an independent account of the trades.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from factories import PRICES, SEED_REASONING, SEED_TRADE, connect_book, give_market
from fakes.valr import FAKE_API_KEY, FAKE_API_SECRET, FakeValr
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.config import HaltAction
from helios.db.models import Event, Order, Position
from helios.market.feeds import ManualFeed
from helios.positions.lifecycle import client_order_id
from helios.reconciliation import (
    BASELINE_RECORDED,
    MISMATCH,
    NOT_LIVE,
    OK,
    ORDER_UNKNOWN_TO_VALR,
    UNEXPECTED_OPEN_ORDER,
    UNREACHABLE,
    WAITING,
)
from helios.settings_store import MODE_KEY, put_setting
from jobs.scheduler import Worker, build_scheduler

D = Decimal
Live = Callable[..., helios.Helios]
SHORT_TRADE = {**SEED_TRADE, "position_size_zar": 500.0}


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr() as server:
        server.set_balance("ZAR", "100000")
        server.margin_enabled = True  # a short needs margin (a margin-enabled subaccount)
        server.set_pair_rules("SOLZAR", marginTradingAllowed=True)
        for pair, value in PRICES.items():
            server.set_price(pair, value)
        yield server


@pytest.fixture
def live(database_url: str, clock: ManualClock, fake: FakeValr) -> Iterator[Live]:
    """Helios on the test database, VALR = the fake (test keys), the market of the factories,
    and the mode row set to LIVE."""
    opened: list[helios.Helios] = []

    def make(**overrides: Any) -> helios.Helios:
        settings: dict[str, Any] = {
            "valr_base_url": fake.url,
            "valr_api_key": FAKE_API_KEY,
            "valr_api_secret": FAKE_API_SECRET,
            "valr_timeout_seconds": 2.0,
            "valr_max_retries": 1,
            "valr_backoff_seconds": 0.01,
            "valr_fill_wait_seconds": 5.0,
        }
        settings.update(overrides)
        hx = connect_book(database_url, clock, **settings)
        opened.append(hx)
        give_market(hx)
        with hx.db.write() as session:  # as the pre-live checklist's switch writes it
            put_setting(session, MODE_KEY, "LIVE", clock.now(), "test")
        return hx

    yield make
    for hx in opened:
        hx.close()


def open_(hx: helios.Helios, pair: str, side: str, trade: dict[str, Any] = SEED_TRADE) -> int:
    outcome = hx.positions.open_position(pair, side, trade, SEED_REASONING)
    assert outcome["success"], outcome
    return int(outcome["position_id"])


def close(hx: helios.Helios, position_id: int) -> None:
    outcome = hx.positions.close_position(position_id, "CLOSED", actor="test")
    assert outcome["success"], outcome


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


# --- agreement ------------------------------------------------------------------------------------
def test_the_ledger_and_VALR_agree_after_LIVE_trades_to_the_last_unit(
    live: Live, fake: FakeValr, clock: ManualClock
):
    """Baseline first, then a long left open, a long closed and a short closed (VALR charges
    the buy-back's fee in SOL, so what the account holds afterwards is not simply zero): the
    expected holdings, built from the ledger's fills, are exactly VALR's balances."""
    hx = live()
    first = hx.reconciliation.check()
    assert first.status == BASELINE_RECORDED
    assert hx.reconciliation.baseline()["balances"]["ZAR"] == "100000"
    [baseline_event] = events(hx, "RECONCILE_BASELINE")
    assert "ZAR 100000" in baseline_event.message

    btc = open_(hx, "BTCZAR", "BUY")
    eth = open_(hx, "ETHZAR", "BUY")
    sol = open_(hx, "SOLZAR", "SELL", SHORT_TRADE)
    clock.advance(minutes=5)
    close(hx, eth)
    close(hx, sol)

    report = hx.reconciliation.check()
    assert report.status == OK, report.message
    assert report.matches and report.orders == ()
    for code in ("ZAR", "BTC", "ETH", "SOL"):
        line = report.currency(code)
        assert line.actual == fake.balance(code), code
        assert line.difference == 0, (code, line)
        assert line.within_tolerance and not line.in_flight
    assert report.currency("BTC").movements == fake.balance("BTC") > 0  # the open long
    assert report.currency("ETH").expected == 0  # bought and sold
    sol_line = report.currency("SOL")  # sold, then bought back net of a fee in SOL
    assert sol_line.expected == sol_line.movements == fake.balance("SOL") and sol_line.fills == 2
    assert report.currency("ZAR").movements == fake.balance("ZAR") - 100000
    assert report.currency("BTC").fills == 1 and report.currency("ZAR").fills == 5
    assert events(hx, "RECONCILE_MISMATCH") == []
    assert not hx.controls.is_halted()
    assert hx.reconciliation.last_report()["status"] == OK
    with hx.db.read() as session:
        assert session.get(Position, btc).status == "OPEN"


def test_positions_opened_before_the_first_pass_are_part_of_the_baseline(
    live: Live, fake: FakeValr
):
    hx = live()
    open_(hx, "BTCZAR", "BUY")  # before any pass: its fill is in the baseline
    assert hx.reconciliation.check().status == BASELINE_RECORDED
    assert D(hx.reconciliation.baseline()["balances"]["BTC"]) == fake.balance("BTC")
    report = hx.reconciliation.check()
    assert report.status == OK and report.currency("BTC").movements == 0


def test_outside_LIVE_nothing_is_asked(live: Live, fake: FakeValr, clock: ManualClock):
    hx = live()
    with hx.db.write() as session:
        put_setting(session, MODE_KEY, "PAPER", clock.now(), "test")
    fake.reset_requests()
    report = hx.reconciliation.check()
    assert report.status == NOT_LIVE
    assert fake.requests == []
    assert hx.reconciliation.last_report() is None


# --- differences ----------------------------------------------------------------------------------
def test_a_balance_moved_behind_our_back_is_an_event_with_its_figures(live: Live, fake: FakeValr):
    hx = live()
    hx.reconciliation.check()
    open_(hx, "BTCZAR", "BUY")
    held = fake.balance("BTC")
    fake.set_balance("BTC", held - D("0.00005"))  # R60 of BTC left the account

    report = hx.reconciliation.check()
    assert report.status == MISMATCH
    line = report.currency("BTC")
    assert (line.expected, line.actual) == (held, held - D("0.00005"))
    assert line.difference == D("-0.00005") and not line.within_tolerance
    assert line.value_zar == D(60)
    assert report.currency("ZAR").within_tolerance
    assert report.total_value_zar == D(60) and not report.over_threshold
    [event] = events(hx, "RECONCILE_MISMATCH")
    assert event.severity == "WARNING"
    assert event.details["currencies"]["BTC"]["difference"] == "-0.00005"
    assert event.details["currencies"]["BTC"]["expected"] == str(held)
    assert event.details["currencies"]["BTC"]["value_zar"] == "60.00"
    assert event.details["total_value_zar"] == "60.00"
    assert "BTC expected" in event.message and "R60.00" in event.message
    assert not hx.controls.is_halted()  # below LIVE_RECONCILE_HALT_ZAR (R100)
    assert "reconciliation" not in {b.trigger for b in hx.halts.breaches()}

    assert hx.reconciliation.check().status == MISMATCH
    assert len(events(hx, "RECONCILE_MISMATCH")) == 1  # the same difference: one event
    fake.set_balance("BTC", held)  # it came back
    assert hx.reconciliation.check().status == OK
    assert len(events(hx, "RECONCILE_OK")) == 1


def test_a_difference_within_the_rounding_tolerance_is_no_mismatch(live: Live, fake: FakeValr):
    hx = live()
    hx.reconciliation.check()
    open_(hx, "BTCZAR", "BUY")
    fake.set_balance("BTC", fake.balance("BTC") + D("0.00000002"))  # two satoshi
    report = hx.reconciliation.check()
    assert report.status == OK, report.message
    line = report.currency("BTC")
    assert line.difference == D("0.00000002") and line.within_tolerance
    assert line.tolerance >= D("0.00000004")  # 2 steps x (1 + 1 fill) + a fee on the holding


def test_a_difference_beyond_the_threshold_halts_with_cause_reconciliation(
    live: Live, fake: FakeValr, clock: ManualClock
):
    hx = live()
    hx.reconciliation.check()
    btc = open_(hx, "BTCZAR", "BUY")
    fake.set_balance("ZAR", fake.balance("ZAR") - 250)  # R250 withdrawn behind our back

    report = hx.reconciliation.check()
    assert report.status == MISMATCH and report.over_threshold and report.halted
    assert report.currency("ZAR").difference == -250
    state = hx.controls.halt_state()
    assert (state.halted, state.cause, state.action) == (
        True,
        "reconciliation",
        HaltAction.HALT_ONLY,
    )
    assert "R250.00" in state.reason
    [halt] = events(hx, "HALT")
    assert halt.details["cause"] == "reconciliation"
    assert halt.details["currencies"]["ZAR"]["difference"] == "-250"
    [event] = events(hx, "RECONCILE_MISMATCH")
    assert event.severity == "CRITICAL"
    with hx.db.read() as session:  # halt_only: the position stays under its stop
        assert session.get(Position, btc).status == "OPEN"
    assert [b.trigger for b in hx.halts.breaches()] == ["reconciliation"]
    assert [b.trigger for b in hx.halts.check()] == ["reconciliation"]  # the watchdog agrees
    assert len(events(hx, "HALT")) == 1  # and it is still the one halt

    # a resume acknowledges it; it does not halt again while the difference stays the same...
    hx.controls.resume("operator", "looking into the R250")
    clock.advance(minutes=1)
    assert hx.reconciliation.check().status == MISMATCH
    assert hx.halts.check() == []
    assert not hx.controls.is_halted()
    # ...but a difference that grows past the threshold again halts again
    fake.set_balance("ZAR", fake.balance("ZAR") - 150)
    clock.advance(minutes=1)
    assert hx.reconciliation.check().halted
    assert hx.controls.halt_state().cause == "reconciliation"
    assert "grew by R150.00" in hx.controls.halt_state().reason

    # the operator accepts VALR's balances (a withdrawal they made): the difference is gone
    report = hx.reconciliation.record_baseline("operator", "my withdrawal of R400")
    assert report.status == OK, report.message
    [accepted] = [e for e in events(hx, "RECONCILE_BASELINE") if e.actor == "operator"]
    assert accepted.details["accepted_differences"]["ZAR"] == "-400"
    assert hx.reconciliation.baseline()["by"] == "operator"
    hx.controls.resume("operator", "withdrawal accepted")
    assert hx.halts.check() == []
    assert hx.controls.acknowledged_triggers() == set()  # cleared: the trigger is armed again


def test_the_reconciliation_halt_can_be_configured_to_close_all(live: Live, fake: FakeValr):
    hx = live(halt_action_reconciliation="close_all")
    hx.reconciliation.check()
    btc = open_(hx, "BTCZAR", "BUY")
    fake.set_balance("ETH", "1")  # R60,000 of ETH appeared from nowhere
    report = hx.reconciliation.check()
    assert report.currency("ETH").value_zar == D(60000)
    assert hx.controls.halt_state().action is HaltAction.CLOSE_ALL
    hx.halts.check()  # the watchdog's close-out
    with hx.db.read() as session:
        assert session.get(Position, btc).status == "EMERGENCY_CLOSE"


def test_an_unknown_open_order_of_ours_is_a_difference(live: Live, fake: FakeValr):
    hx = live()
    hx.reconciliation.check()
    btc = open_(hx, "BTCZAR", "BUY")
    installation = hx.positions.installation_id()
    ours = client_order_id(installation, btc, "CLOSE", 7)  # its position is OPEN, not CLOSING
    fake.place_resting_order("BTCZAR", "SELL", "0.00001", ours)
    fake.place_resting_order("BTCZAR", "BUY", "0.001", "someone-elses-order")
    fake.place_resting_order("ETHZAR", "BUY", "0.01")  # no customerOrderId at all

    report = hx.reconciliation.check()
    assert report.status == MISMATCH
    [issue] = report.orders
    assert (issue.kind, issue.client_order_id, issue.position_id, issue.pair) == (
        UNEXPECTED_OPEN_ORDER,
        ours,
        btc,
        "BTCZAR",
    )
    assert issue.value_zar == D(12)  # 0.00001 BTC at R1,200,000
    assert all(line.within_tolerance for line in report.currencies)
    [event] = events(hx, "RECONCILE_MISMATCH")
    assert event.details["orders"][0]["client_order_id"] == ours
    assert ours in event.message
    assert not hx.controls.is_halted()


def test_a_stuck_position_whose_order_VALR_does_not_know_is_a_difference(
    live: Live, fake: FakeValr, clock: ManualClock
):
    hx = live()
    hx.reconciliation.check()
    installation = hx.positions.installation_id()
    now = clock.now()
    with hx.db.write() as session:  # an opening order recorded but never sent (a crash)
        position = Position(
            pair="BTCZAR",
            side="BUY",
            status="OPENING",
            mode="LIVE",
            position_size_zar=D(903),
            leverage=D(1),
            stop_loss_pct=D("0.02"),
            take_profit_pct=D("0.06"),
            max_holding_hours=D(72),
            created_at=now,
            updated_at=now,
        )
        session.add(position)
        session.flush()
        coid = client_order_id(installation, position.id, "OPEN")
        session.add(
            Order(
                client_order_id=coid,
                position_id=position.id,
                action="OPEN",
                mode="LIVE",
                pair="BTCZAR",
                side="BUY",
                quote_amount=D(903),
                status="INTENT",
                created_at=now,
                updated_at=now,
            )
        )
        stuck = position.id

    young = hx.reconciliation.check()  # within the grace: in flight, not judged
    assert young.status == OK
    assert young.currency("BTC").in_flight and young.currency("ZAR").in_flight
    assert "in flight" in young.message

    clock.advance(seconds=121)
    report = hx.reconciliation.check()
    assert report.status == MISMATCH
    [issue] = report.orders
    assert (issue.kind, issue.client_order_id, issue.position_id) == (
        ORDER_UNKNOWN_TO_VALR,
        coid,
        stuck,
    )
    assert not report.currency("BTC").in_flight  # VALR never saw it: compared, and equal
    assert report.currency("BTC").within_tolerance
    assert not report.over_threshold and not hx.controls.is_halted()


# --- VALR unreachable -----------------------------------------------------------------------------
def test_VALR_unreachable_is_an_exchange_error_and_no_mismatch_is_claimed(
    live: Live, fake: FakeValr
):
    hx = live()
    hx.reconciliation.check()
    open_(hx, "BTCZAR", "BUY")
    assert hx.reconciliation.check().status == OK
    fake.set_balance("BTC", "0")  # a large difference VALR cannot tell us about:
    fake.fail_next(2, 503, path="/v1/account/balances")  # the read and its one retry

    report = hx.reconciliation.check()
    assert report.status == UNREACHABLE
    assert "HTTP 503" in report.message and report.currencies == ()
    [error] = events(hx, "EXCHANGE_ERROR")
    assert error.actor == "valr-reconcile" and "reconciliation could not read VALR" in error.message
    assert events(hx, "RECONCILE_MISMATCH") == []
    assert not hx.controls.is_halted()
    assert hx.reconciliation.last_report()["status"] == OK  # the last result stands
    assert hx.halts.check() == []

    fake.stop()  # gone altogether: eleven passes in a minute are eleven exchange errors
    for _ in range(11):
        assert hx.reconciliation.check().status == UNREACHABLE
    assert events(hx, "RECONCILE_MISMATCH") == []
    assert [b.trigger for b in hx.halts.check()] == ["exchange_errors"]
    assert hx.controls.halt_state().cause == "exchange_errors"


# --- the scheduler's job --------------------------------------------------------------------------
def test_the_scheduler_job_reconciles_only_in_LIVE(live: Live, fake: FakeValr, clock: ManualClock):
    hx = live(live_reconcile_seconds=30)
    worker = Worker(hx, ManualFeed())
    scheduler = build_scheduler(worker)
    job = scheduler.get_job("live_reconcile")
    assert job is not None and job.trigger.interval == timedelta(seconds=30)
    assert job.func() is None  # guarded: this process does not lead
    assert fake.requests_to("/v1/account/balances") == []

    assert worker.reconcile_live().status == BASELINE_RECORDED
    assert worker.reconcile_live().status == OK
    with hx.db.write() as session:
        put_setting(session, MODE_KEY, "PAPER", clock.now(), "test")
    fake.reset_requests()
    assert worker.reconcile_live() is None
    assert fake.requests == []


def test_an_order_in_flight_postpones_the_baseline(live: Live, fake: FakeValr, clock: ManualClock):
    hx = live()
    installation = hx.positions.installation_id()
    fake.place_resting_order("BTCZAR", "BUY", "0.0001", f"HX-{installation}-1-OPEN")
    report = hx.reconciliation.check()
    assert report.status == WAITING
    assert hx.reconciliation.baseline() is None
