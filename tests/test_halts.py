"""The automatic halts (``hx.halts``) and the manual controls that share them (``hx.controls``),
on real SQLite and PostgreSQL databases through the real paper exchange.

- ``breaches()`` reports each of the seed's conditions with its figures: drawdown above 15%,
  daily loss above 5% (both strictly above), a pair without a price update for
  ``HALT_STALE_PRICE_SECONDS``, more than ``HALT_EXCHANGE_ERRORS`` exchange errors in the window;
- ``check()`` halts once per breach with the configured action; ``close_all`` (the seed's
  default) closes every open position as EMERGENCY_CLOSE, ``halt_only`` leaves them open; a
  resume acknowledges the breach until it has cleared once;
- a failing exchange leaves the close-out to be retried with doubling back-off until it answers,
  after which every position has exactly one filled close order;
- the manual controls: emergency stop, close all, escalation of a halt, bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from factories import (
    PRICES,
    booked_position,
    connect_book,
    give_market,
    orders_of,
    position,
    transactions,
    venue_orders,
)
from sqlalchemy import func, select

import helios
from helios.accounts.account import STATE_ID
from helios.clock import ManualClock
from helios.config import HaltAction, TradingMode
from helios.db.models import Event, Fill, PortfolioState, Position, Setting
from helios.errors import InvalidInput
from helios.events import EXCHANGE_ERROR, record_exchange_error
from helios.exchange.base import Exchange, OrderRequest, OrderResult
from helios.halts import Breach

D = Decimal
Connect = Callable[..., helios.Helios]


@pytest.fixture
def connect(database_url: str, clock: ManualClock) -> Iterator[Connect]:
    """Helios on the test database with settings of the test's choosing and a price per pair."""
    opened: list[helios.Helios] = []

    def make(**overrides: Any) -> helios.Helios:
        hx = connect_book(database_url, clock, **overrides)
        opened.append(hx)
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        return hx

    yield make
    for hx in opened:
        hx.close()


def set_account(hx: helios.Helios, **values: Any) -> None:
    """Force figures of the account row (peak, start-of-day equity, cash)."""
    with hx.db.write() as session:
        state = session.get(PortfolioState, STATE_ID)
        assert state is not None
        for key, value in values.items():
            setattr(state, key, D(value))


def events_of(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def statuses(hx: helios.Helios, ids: list[int]) -> list[str]:
    return [position(hx, i).status for i in ids]


def triggers(found: list[Breach]) -> list[str]:
    return [b.trigger for b in found]


def close_orders(hx: helios.Helios, position_id: int) -> list[Any]:
    return [o for o in orders_of(hx, position_id) if o.action == "CLOSE"]


def fills_of(hx: helios.Helios, client_order_id: str) -> int:
    with hx.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Fill)
                .where(Fill.client_order_id == client_order_id)
            )
            or 0
        )


def crash(hx: helios.Helios, pair: str, value: str) -> None:
    hx.market.set_price(pair, value)


def open_book(hx: helios.Helios) -> list[int]:
    """Two open positions: R20,000 of BTC at 3x (R60,000 notional) and R2,000 of ETH short."""
    return [
        booked_position(hx, "BTCZAR", "BUY", "20000", "3"),
        booked_position(hx, "ETHZAR", "SELL", "2000", "1"),
    ]


# --- breaches() ---------------------------------------------------------------------------------


def test_a_healthy_book_has_no_breach(connect: Connect):
    hx = connect()
    open_book(hx)
    assert hx.halts.breaches() == []
    assert hx.halts.breaches(feed_started_at=hx.clock.now()) == []


def test_a_quiet_watchdog_pass_reads_everything_in_one_transaction(connect: Connect):
    """The account's figures, the limits, the prices' ages, the errors, the acknowledgements
    and the halt flag one pass judges are read at one moment: one read transaction when there
    is nothing to act on (it was five: each read opened its own)."""
    hx = connect()
    open_book(hx)
    with transactions(hx) as begun:
        assert hx.halts.check() == []
    assert begun == ["read"]


def test_a_16_percent_drawdown_is_a_breach_with_its_figures(connect: Connect):
    hx = connect()
    set_account(hx, peak_equity="119047.61904762")  # 100,000 is 16% below it
    found = hx.halts.breaches()
    assert triggers(found) == ["drawdown"]
    figures = found[0].figures
    assert figures["drawdown"] == pytest.approx(0.16, abs=1e-8)
    assert figures["limit"] == pytest.approx(0.15)
    assert figures["equity"] == pytest.approx(100000.0)
    assert figures["peak_equity"] == pytest.approx(119047.61904762)
    assert "drawdown 16.00% > limit 15.00%" in found[0].message


def test_a_price_crash_on_a_position_is_a_drawdown_breach(connect: Connect):
    hx = connect()
    open_book(hx)
    crash(hx, "BTCZAR", "870000")  # -27.5% on R60,000 of BTC: about R16,500 lost
    found = {b.trigger: b for b in hx.halts.breaches()}
    assert "drawdown" in found
    valuation = hx.ledger.valuation()
    assert found["drawdown"].figures["drawdown"] == pytest.approx(float(valuation.drawdown))
    assert found["drawdown"].figures["drawdown"] > 0.16
    assert found["drawdown"].figures["equity"] == pytest.approx(float(valuation.equity))


def test_a_drawdown_of_exactly_15_percent_is_not_a_breach(connect: Connect):
    hx = connect()
    set_account(hx, cash="85000", start_of_day_equity="85000", peak_equity="100000")
    assert hx.ledger.valuation().drawdown == D("0.15")
    assert hx.halts.breaches() == []
    set_account(hx, cash="84999", start_of_day_equity="84999")  # 15.001%
    assert triggers(hx.halts.breaches()) == ["drawdown"]


def test_a_daily_loss_above_5_percent_is_a_breach(connect: Connect):
    hx = connect()
    set_account(hx, start_of_day_equity="106000")  # 100,000 is 5.66% below it
    found = hx.halts.breaches()
    assert triggers(found) == ["daily_loss"]
    figures = found[0].figures
    assert figures["daily_loss"] == pytest.approx(1 - 100000 / 106000)
    assert figures["limit"] == pytest.approx(0.05)
    assert figures["start_of_day_equity"] == pytest.approx(106000.0)
    assert figures["equity"] == pytest.approx(100000.0)


def test_a_daily_loss_of_exactly_5_percent_is_not_a_breach(connect: Connect):
    hx = connect()
    set_account(hx, cash="95000", start_of_day_equity="100000", peak_equity="100000")
    assert hx.ledger.valuation().daily_loss == D("0.05")
    assert hx.halts.breaches() == []


def test_a_pair_without_a_price_update_for_the_stale_limit_is_named(
    connect: Connect, clock: ManualClock
):
    hx = connect(halt_stale_price_seconds=600)  # every pair priced at START
    clock.advance(seconds=300)
    hx.market.set_price("BTCZAR", "1201000")
    hx.market.set_price("ETHZAR", "60100")
    clock.advance(seconds=300)
    assert hx.halts.breaches() == []  # SOLZAR is 600 s old: not more than the limit
    clock.advance(seconds=1)
    found = hx.halts.breaches()
    assert triggers(found) == ["stale_price"]
    assert found[0].figures == {"stale_seconds": {"SOLZAR": 601.0}, "limit_seconds": 600.0}
    assert "SOLZAR" in found[0].message and "BTCZAR" not in found[0].message
    hx.market.set_price("SOLZAR", "2510")
    assert hx.halts.breaches() == []


def test_a_pair_that_never_had_a_price_counts_from_the_feed_start(
    database_url: str, clock: ManualClock
):
    with connect_book(database_url, clock, halt_stale_price_seconds=600) as hx:
        started = clock.now()
        hx.market.set_price("BTCZAR", "1200000")
        clock.advance(seconds=590)
        hx.market.set_price("BTCZAR", "1200000")
        assert hx.halts.breaches(feed_started_at=started) == []
        clock.advance(seconds=11)
        assert hx.halts.breaches() == []  # without the feed's start such pairs are not judged
        found = hx.halts.breaches(feed_started_at=started)
        assert triggers(found) == ["stale_price"]
        assert found[0].figures["stale_seconds"] == {"ETHZAR": 601.0, "SOLZAR": 601.0}


def test_more_than_10_exchange_errors_in_the_window_is_a_breach(
    connect: Connect, clock: ManualClock
):
    hx = connect()
    for number in range(10):
        record_exchange_error(hx.db, clock.now(), "valr", f"timeout {number}")
        clock.advance(seconds=2)
    assert hx.halts.breaches() == []  # 10: not more than 10
    record_exchange_error(hx.db, clock.now(), "valr", "timeout 10")
    found = hx.halts.breaches()
    assert triggers(found) == ["exchange_errors"]
    assert found[0].figures == {"errors": 11, "limit": 10, "window_seconds": 60.0}
    assert "11 exchange errors in the last 60 s" in found[0].message


def test_exchange_errors_older_than_the_window_do_not_count(connect: Connect, clock: ManualClock):
    hx = connect()
    for number in range(11):
        record_exchange_error(hx.db, clock.now(), "valr", f"timeout {number}")
    clock.advance(seconds=30)
    assert triggers(hx.halts.breaches()) == ["exchange_errors"]
    clock.advance(seconds=31)
    assert hx.halts.breaches() == []
    for number in range(5):  # 5 new ones and 11 old ones: 5 in the window
        record_exchange_error(hx.db, clock.now(), "valr", f"late {number}")
    assert hx.halts.breaches() == []


# --- check(): halting and closing out -------------------------------------------------------------


def test_check_halts_once_and_closes_every_position_as_EMERGENCY_CLOSE(
    connect: Connect, clock: ManualClock
):
    hx = connect()
    ids = open_book(hx)
    crash(hx, "BTCZAR", "870000")
    acted = hx.halts.check()
    assert "drawdown" in triggers(acted)
    state = hx.controls.halt_state()
    assert state.halted and state.cause == "drawdown" and state.action is HaltAction.CLOSE_ALL
    assert state.by == "watchdog" and state.reason.startswith("automatic: drawdown")
    [halt] = events_of(hx, "HALT")
    assert halt.details is not None
    assert halt.details["cause"] == "drawdown" and halt.details["action"] == "close_all"
    assert halt.details["drawdown"] > 0.16 and halt.details["limit"] == pytest.approx(0.15)
    assert halt.details["peak_equity"] == pytest.approx(100000.0)
    assert statuses(hx, ids) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    for position_id in ids:
        [order] = close_orders(hx, position_id)
        assert order.status == "FILLED" and fills_of(hx, order.client_order_id) == 1
    assert len(events_of(hx, "CLOSEOUT_DONE")) == 1
    hx.ledger.check()

    clock.advance(seconds=10)
    hx.halts.check()  # still breached, already halted: nothing new
    assert len(events_of(hx, "HALT")) == 1
    assert len(events_of(hx, "CLOSEOUT_DONE")) == 1


def test_the_halt_only_action_leaves_positions_open(connect: Connect, clock: ManualClock):
    hx = connect(halt_action_drawdown="halt_only")
    ids = open_book(hx)
    set_account(hx, peak_equity="130000")
    assert triggers(hx.halts.check()) == ["drawdown"]
    state = hx.controls.halt_state()
    assert state.halted and state.cause == "drawdown" and state.action is HaltAction.HALT_ONLY
    assert statuses(hx, ids) == ["OPEN", "OPEN"]
    clock.advance(minutes=5)
    hx.halts.check()
    assert statuses(hx, ids) == ["OPEN", "OPEN"]
    assert len(events_of(hx, "HALT")) == 1
    assert events_of(hx, "CLOSEOUT_DONE") == []


def test_a_breach_with_close_all_escalates_a_halt_only_halt(connect: Connect):
    hx = connect(halt_action_drawdown="halt_only")
    ids = open_book(hx)
    set_account(hx, peak_equity="130000")
    hx.halts.check()
    assert statuses(hx, ids) == ["OPEN", "OPEN"]
    for number in range(11):
        record_exchange_error(hx.db, hx.clock.now(), "valr", f"timeout {number}")
    assert set(triggers(hx.halts.check())) == {"drawdown", "exchange_errors"}
    state = hx.controls.halt_state()
    assert state.cause == "drawdown" and state.action is HaltAction.CLOSE_ALL
    assert len(events_of(hx, "HALT")) == 1
    assert len(events_of(hx, "HALT_ESCALATED")) == 1
    assert statuses(hx, ids) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]


def test_a_resume_acknowledges_the_breach_until_it_clears_and_returns(
    connect: Connect, clock: ManualClock
):
    hx = connect()
    set_account(hx, peak_equity="119047.61904762")
    hx.halts.check()
    assert hx.controls.halt_state().cause == "drawdown"
    clock.advance(minutes=1)
    hx.controls.resume(by="alice", note="I looked at it")
    assert hx.controls.acknowledged_triggers() == {"drawdown"}
    [resume] = events_of(hx, "RESUME")
    assert resume.actor == "alice" and resume.details == {
        "note": "I looked at it",
        "acknowledged": ["drawdown"],
    }

    for _ in range(3):  # the breach persists: acknowledged, no new halt
        clock.advance(seconds=30)
        assert hx.halts.check() == []
        assert not hx.controls.is_halted()
    assert len(events_of(hx, "HALT")) == 1

    set_account(hx, peak_equity="100000")  # cleared
    assert hx.halts.check() == []
    assert hx.controls.acknowledged_triggers() == set()

    set_account(hx, peak_equity="120000")  # and back: halts again
    assert triggers(hx.halts.check()) == ["drawdown"]
    state = hx.controls.halt_state()
    assert state.halted and state.cause == "drawdown"
    assert len(events_of(hx, "HALT")) == 2


def test_an_acknowledged_breach_does_not_hide_another_trigger(connect: Connect, clock: ManualClock):
    hx = connect()
    set_account(hx, peak_equity="119047.61904762")
    hx.halts.check()
    hx.controls.resume(by="alice")
    for number in range(11):
        record_exchange_error(hx.db, clock.now(), "valr", f"timeout {number}")
    assert triggers(hx.halts.check()) == ["exchange_errors"]
    state = hx.controls.halt_state()
    assert state.halted and state.cause == "exchange_errors"
    assert len(events_of(hx, "HALT")) == 2


# --- the close-out when the exchange fails ------------------------------------------------------


class FlakyExchange(Exchange):
    """The paper venue behind a connection that fails while ``down`` (every call counted)."""

    name = "flaky-paper"

    def __init__(self, venue: Exchange) -> None:
        self.venue = venue
        self.down = True
        self.calls = 0

    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        self.calls += 1
        if self.down:
            raise ConnectionError("exchange unreachable")
        return self.venue.submit_market_order(request)

    def get_order(self, client_order_id: str) -> OrderResult | None:
        self.calls += 1
        if self.down:
            raise ConnectionError("exchange unreachable")
        return self.venue.get_order(client_order_id)

    def balances(self) -> dict[str, Decimal]:
        return self.venue.balances()


def test_the_close_out_retries_with_backoff_until_the_exchange_answers(
    connect: Connect, clock: ManualClock
):
    # a close is asked about again once it is 2 exchange timeouts old (0.5 s here): younger, it
    # may still be on its way from another thread or process
    hx = connect(valr_timeout_seconds=0.5)
    ids = open_book(hx)
    flaky = FlakyExchange(hx.paper_exchange)
    hx.positions._exchanges[TradingMode.PAPER] = flaky
    set_account(hx, peak_equity="130000")

    hx.halts.check()
    assert hx.controls.halt_state().action is HaltAction.CLOSE_ALL
    assert statuses(hx, ids) == ["CLOSING", "CLOSING"]  # intents written, answers never came
    errors = events_of(hx, EXCHANGE_ERROR)
    assert len(errors) == 2
    assert all("exchange unreachable" in e.message for e in errors)
    first = flaky.calls
    assert first > 0

    # back-off: 1 s, then 2 s, then 4 s; a check before the retry time asks nothing
    schedule = [(0.5, False), (0.5, True), (1.0, False), (1.0, True), (3.0, False), (1.0, True)]
    for seconds, retries in schedule:
        before = flaky.calls
        clock.advance(seconds=seconds)
        hx.halts.check()
        assert (flaky.calls > before) is retries, f"after {seconds} s"
        assert statuses(hx, ids) == ["CLOSING", "CLOSING"]
    assert events_of(hx, "CLOSEOUT_DONE") == []

    flaky.down = False  # the exchange answers again; the next try is 8 s after the last
    before = flaky.calls
    clock.advance(seconds=7)
    hx.halts.check()
    assert flaky.calls == before
    assert statuses(hx, ids) == ["CLOSING", "CLOSING"]
    clock.advance(seconds=1)
    hx.halts.check()
    assert statuses(hx, ids) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    for position_id in ids:
        [order] = close_orders(hx, position_id)
        assert order.status == "FILLED"
        assert order.client_order_id.endswith(f"-{position_id}-CLOSE-1")
        assert fills_of(hx, order.client_order_id) == 1
    closes = [v for v in venue_orders(hx) if v.client_order_id.endswith("-CLOSE-1")]
    assert len(closes) == 2 and all(v.status == "FILLED" for v in closes)
    assert len(events_of(hx, "CLOSEOUT_DONE")) == 1
    assert len(events_of(hx, "HALT")) == 1
    hx.ledger.check()

    calls = flaky.calls
    clock.advance(minutes=5)
    hx.halts.check()  # nothing left to close
    assert flaky.calls == calls
    assert len(events_of(hx, "CLOSEOUT_DONE")) == 1


# --- the manual controls ----------------------------------------------------------------------


def test_an_emergency_stop_halts_and_closes_everything_as_EMERGENCY_CLOSE(connect: Connect):
    hx = connect()
    ids = open_book(hx)
    outcome = hx.controls.emergency_stop(by="alice", reason="market chaos")
    assert outcome["failed"] == []
    assert len(outcome["closed"]) == 2
    state = hx.controls.halt_state()
    assert state.halted and state.by == "alice"
    assert state.cause == "emergency_stop" and state.action is HaltAction.CLOSE_ALL
    assert "market chaos" in state.reason
    assert statuses(hx, ids) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    [stop] = events_of(hx, "EMERGENCY_STOP")
    assert stop.actor == "alice" and "2 closed, 0 not closed" in stop.message
    hx.ledger.check()


def test_close_all_closes_as_CLOSED_without_halting(connect: Connect):
    hx = connect()
    ids = open_book(hx)
    outcome = hx.controls.close_all(by="bob", reason="weekend")
    assert outcome["failed"] == []
    assert statuses(hx, ids) == ["CLOSED", "CLOSED"]
    assert not hx.controls.is_halted()
    [event] = events_of(hx, "CLOSE_ALL")
    assert event.actor == "bob" and "(weekend)" in event.message
    assert events_of(hx, "HALT") == []
    hx.ledger.check()


def test_a_close_all_halt_during_a_manual_halt_only_halt_escalates(connect: Connect):
    hx = connect()
    ids = open_book(hx)
    first = hx.controls.halt("pause for review", "alice")
    assert first.action is HaltAction.HALT_ONLY and first.cause == "manual"
    hx.halts.check()  # halt_only: nothing closes
    assert statuses(hx, ids) == ["OPEN", "OPEN"]

    state = hx.controls.halt("close everything", "bob", action="close_all")
    assert state.action is HaltAction.CLOSE_ALL
    assert state.reason == "pause for review" and state.by == "alice"  # the first halt stays
    [escalated] = events_of(hx, "HALT_ESCALATED")
    assert escalated.actor == "bob" and "close everything" in escalated.message
    assert len(events_of(hx, "HALT")) == 1

    hx.controls.halt("again", "carol", action="close_all")  # nothing more to raise
    assert len(events_of(hx, "HALT_ESCALATED")) == 1

    hx.halts.check()  # the watchdog carries out the close-out
    assert statuses(hx, ids) == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    assert len(events_of(hx, "CLOSEOUT_DONE")) == 1


def _everything(hx: helios.Helios) -> tuple[Any, ...]:
    with hx.db.read() as session:
        settings = sorted(
            (r.key, r.value, r.updated_by, r.updated_at) for r in session.scalars(select(Setting))
        )
        events = session.scalar(select(func.count()).select_from(Event))
        positions = sorted((p.id, p.status) for p in session.scalars(select(Position)))
    return settings, events, positions


BAD_CALLS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("halt by ''", lambda c: c.halt("why", ""), "by"),
    ("halt by None", lambda c: c.halt("why", None), "by"),
    ("halt reason ''", lambda c: c.halt("", "alice"), "reason"),
    ("halt cause ''", lambda c: c.halt("why", "alice", cause=""), "cause"),
    ("halt action explode", lambda c: c.halt("why", "alice", action="explode"), "action"),
    ("emergency_stop by ''", lambda c: c.emergency_stop(""), "by"),
    ("emergency_stop by None", lambda c: c.emergency_stop(None), "by"),
    ("emergency_stop reason None", lambda c: c.emergency_stop("alice", reason=None), "reason"),
    ("close_all by blank", lambda c: c.close_all("   "), "by"),
    ("close_all by None", lambda c: c.close_all(None), "by"),
]
WHILE_HALTED: list[tuple[str, Callable[[Any], Any], str]] = [
    ("escalate action explode", lambda c: c.halt("why", "bob", action="explode"), "action"),
    ("resume by ''", lambda c: c.resume(""), "by"),
    ("resume by None", lambda c: c.resume(None), "by"),
    ("resume note None", lambda c: c.resume("bob", note=None), "note"),
]


def test_bad_input_to_the_controls_names_the_field_and_changes_nothing(connect: Connect):
    hx = connect()
    open_book(hx)
    for calls in (BAD_CALLS, WHILE_HALTED):
        if calls is WHILE_HALTED:
            hx.controls.halt("paused", "alice")  # so each call would change something
        for name, call, field in calls:
            before = _everything(hx)
            with pytest.raises(InvalidInput) as raised:
                call(hx.controls)
            assert raised.value.field == field, name
            assert f"{field}=" in str(raised.value), name
            assert _everything(hx) == before, name


def test_under_a_halt_reconcile_sends_no_opening_order_and_fails_the_position(
    connect: Connect, clock: ManualClock
):
    """Positions left OPENING by a lost send: under a halt their orders are not sent (the
    exchange never saw them) and they end FAILED; without a halt reconcile sends and opens."""
    hx = connect()
    give_market(hx)  # history for the checks' volatility and correlation
    flaky = FlakyExchange(hx.paper_exchange)
    hx.positions._exchanges[TradingMode.PAPER] = flaky
    trade = {"position_size_zar": 903}
    stuck = [
        hx.positions.open_position(p, "BUY", trade)["position_id"] for p in ("BTCZAR", "SOLZAR")
    ]
    assert statuses(hx, stuck) == ["OPENING", "OPENING"]
    flaky.down = False
    clock.advance(seconds=31)  # past reconcile's grace

    hx.controls.emergency_stop("thandi", "drill")
    # any process's reconcile (a notebook, a process starting, the scheduler) follows the halt
    settled = hx.positions.reconcile()
    assert [s["success"] for s in settled] == [False, False]
    assert statuses(hx, stuck) == ["FAILED", "FAILED"]
    assert venue_orders(hx) == []  # nothing reached the venue under the halt

    hx.controls.resume("thandi")
    flaky.down = True
    [later] = [hx.positions.open_position("ETHZAR", "BUY", trade)["position_id"]]
    flaky.down = False
    clock.advance(seconds=31)
    [sent] = hx.positions.reconcile()
    assert sent["success"] is True and sent["sent_now"] is True
    assert statuses(hx, [later]) == ["OPEN"]
    assert len(venue_orders(hx)) == 1


def test_a_resume_acknowledges_a_never_priced_pair_as_the_watchdog_judges_it(
    database_url: str, clock: ManualClock
):
    """The scheduler's heartbeat says when its feed started; resume (any process) judges
    never-priced pairs from then, as the watchdog does, so it acknowledges that breach."""
    from helios.heartbeat import beat

    with connect_book(database_url, clock, halt_stale_price_seconds=60) as hx:
        started = clock.now()
        beat(hx.db, "scheduler", started, started, {"feed_started_at": started.isoformat()})
        hx.market.set_price("BTCZAR", "1200000")
        hx.market.set_price("ETHZAR", "60000")  # SOLZAR never gets a price
        clock.advance(seconds=61)
        hx.market.set_price("BTCZAR", "1200000")
        hx.market.set_price("ETHZAR", "60000")
        assert hx.halts.feed_started_at() == started
        assert triggers(hx.halts.check(feed_started_at=started)) == ["stale_price"]
        hx.controls.resume("thandi", "SOL feed known to be down")
        assert hx.controls.acknowledged_triggers() == {"stale_price"}
        assert hx.halts.check(feed_started_at=started) == []
        assert not hx.controls.is_halted()
