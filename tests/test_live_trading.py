"""LIVE trading end to end (issue #8, "Must show"): ``hx.positions`` on the facade's VALR exchange
against the fake VALR (a real HTTP server on 127.0.0.1, never the internet), on SQLite and on
PostgreSQL.

The system is put in LIVE by writing the stored mode (``MODE_KEY``) directly, as the dashboard
tests do: the pre-live checklist that guards ``hx.controls.set_mode`` is not what is tested here.
Trades are small (R500 margin at 1x) and both sides agree on the prices (``hx.market.set_price``
and the fake's ``set_price``).

The fake charges VALR's 0.35% taker fee as VALR does: a BUY pays it in the coin it receives, a
SELL in ZAR. The seed's R500 BTC buy at R1,200,000:

    R500 / R1,200,000 = 0.00041666 BTC executed (8 places, cut), R499.992 spent
    fee 0.00041666 x 0.35% = 0.00000146 BTC (8 places), held 0.00041520 BTC
    fee in rand 0.00000146 x R1,200,000 = R1.752
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import count_rows, event_kinds, give_market, orders_of, position
from fakes.valr import MARKET_ORDER_PATH, FakeValr
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import helios
from helios.accounts.account import LedgerInvariantError
from helios.clock import ManualClock
from helios.closeout import DatabaseWatch, replay_journal
from helios.db.models import Event, Fill, LedgerEntry, Order, Position
from helios.events import EXCHANGE_ERROR
from helios.faults import CRASH_ENV
from helios.settings_store import MODE_KEY, put_setting

D = Decimal
KEY = "1f3e5d7c9b" * 6 + "a1b2"  # 64 characters, easy to spot if it leaks
SECRET = "5ec7e75ec7" * 6 + "c0de"
BTC = D("1200000")
PRICES = {"BTCZAR": "1200000", "ETHZAR": "60000", "SOLZAR": "2500"}  # factories.PRICES
TRADE: dict[str, Any] = {
    "position_size_zar": 500.0,
    "leverage": 1.0,
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.06,
}
SUMMARY_BY_COID = "/v1/orders/history/summary/customerorderid/"
SUMMARY_BY_ID = "/v1/orders/history/summary/orderid/"
# the seed's R500 BTC buy at R1,200,000 (module docstring)
EXECUTED, FEE_BTC, HELD, FEE_ZAR = D("0.00041666"), D("0.00000146"), D("0.0004152"), D("1.752")


def live_settings(fake: FakeValr) -> dict[str, Any]:
    return {
        "market_feed": "manual",
        "valr_base_url": fake.url,  # http://127.0.0.1:<port>: the validator allows it
        "valr_api_key": KEY,
        "valr_api_secret": SECRET,
        "valr_timeout_seconds": 2.0,
        "valr_fill_wait_seconds": 3.0,
        "valr_max_retries": 3,
        "valr_backoff_seconds": 0.01,
    }


def go_live(hx: helios.Helios) -> None:
    with hx.db.write() as session:
        put_setting(session, MODE_KEY, "LIVE", hx.clock.now(), "tester")


def quick(hx: helios.Helios) -> helios.Helios:
    """Poll the fill every 20 ms, and confirm an unknown order for 0.2 s (not 1 s)."""
    hx.valr_exchange.poll_interval_seconds = 0.02
    hx.valr_exchange.unknown_confirm_seconds = 0.2
    return hx


def set_price(hx: helios.Helios, fake: FakeValr, pair: str, value: str) -> None:
    hx.market.set_price(pair, value)
    fake.set_price(pair, value)


@pytest.fixture
def fake() -> Iterator[FakeValr]:
    with FakeValr(api_key=KEY, api_secret=SECRET) as server:
        for pair, value in PRICES.items():
            server.set_price(pair, value)
        server.set_balance("ZAR", "100000")  # the book's initial capital
        yield server


@pytest.fixture
def live(database_url: str, clock: ManualClock, fake: FakeValr) -> Iterator[helios.Helios]:
    with helios.connect(database_url, clock=clock, **live_settings(fake)) as hx:
        give_market(hx)
        go_live(hx)
        assert hx.exchange is hx.valr_exchange
        yield quick(hx)


def posts(fake: FakeValr, coid: str | None = None) -> list[dict[str, Any]]:
    bodies = [r.json() for r in fake.requests_to(MARKET_ORDER_PATH, "POST")]
    return [b for b in bodies if coid is None or b.get("customerOrderId") == coid]


def trail(fake: FakeValr) -> list[tuple[str, str]]:
    """The fake's requests in order, without the public pair list."""
    return [(r.method, r.path) for r in fake.requests if r.path != "/v1/public/pairs"]


def exchange_errors(hx: helios.Helios) -> list[str]:
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(Event.message).where(Event.kind == EXCHANGE_ERROR).order_by(Event.id)
            )
        )


def ledger_entries(hx: helios.Helios, position_id: int) -> list[tuple[str, Decimal]]:
    with hx.db.read() as session:
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.position_id == position_id)
            .order_by(LedgerEntry.id)
        )
        return [(row.kind, row.amount) for row in rows]


def fills_of(hx: helios.Helios, position_id: int) -> list[Fill]:
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(Fill)
                .join(Order, Order.id == Fill.order_id)
                .where(Order.position_id == position_id)
                .order_by(Fill.id)
            )
        )


def all_positions(hx: helios.Helios) -> list[Position]:
    with hx.db.read() as session:
        return list(session.scalars(select(Position).order_by(Position.id)))


def valr_time(when: datetime) -> datetime:
    """A time as VALR reports it (milliseconds)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def assert_opened_with_the_fill(hx: helios.Helios, position_id: int, fake: FakeValr) -> None:
    """The position is OPEN with the seed's R500 BTC fill, booked once, from VALR's order."""
    [placed] = [o for o in fake.orders() if o.customer_order_id.endswith(f"-{position_id}-OPEN")]
    row = position(hx, position_id)
    assert row.status == "OPEN"
    assert (row.entry_price, row.quantity, row.entry_fee) == (BTC, HELD, FEE_ZAR)
    assert (row.stop_loss_price, row.take_profit_price) == (D("1176000"), D("1272000"))
    # the holding time runs from VALR's fill, also when it is recorded later
    assert row.opened_at == min(valr_time(placed.created_at), hx.clock.now())
    [order] = orders_of(hx, position_id)
    assert (order.action, order.status, order.exchange_order_id) == (
        "OPEN",
        "FILLED",
        placed.order_id,
    )
    [fill] = fills_of(hx, position_id)
    assert (fill.price, fill.quantity, fill.fee) == (BTC, HELD, FEE_ZAR)
    assert ledger_entries(hx, position_id) == [("MARGIN_LOCK", D("-500")), ("FEE", -FEE_ZAR)]
    assert fake.balance("BTC") == HELD  # what we hold is what VALR credited


# --- open and close ---------------------------------------------------------------------------


def test_a_LIVE_position_opens_and_closes_on_VALR_with_exact_books_and_logs(
    live: helios.Helios, fake: FakeValr, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    fake.fill_delay_seconds = 0.15  # the 202 comes first; the fill is found by polling

    opened = live.positions.open_position("BTCZAR", "BUY", TRADE, "LIVE end to end")

    assert opened["success"] is True, opened
    position_id = opened["position_id"]
    coid = f"HX-{live.positions.installation_id()}-{position_id}-OPEN"
    assert posts(fake) == [
        {"side": "BUY", "pair": "BTCZAR", "quoteAmount": "500.00", "customerOrderId": coid}
    ]
    [placed] = fake.orders()
    assert (placed.status, placed.executed_quantity, placed.fee) == ("Filled", EXECUTED, FEE_BTC)
    assert placed.fee_currency == "BTC"
    # accepted (202 with VALR's id) before it filled: the order's summary was asked again and
    # again until VALR had completed it
    assert len(fake.requests_to(SUMMARY_BY_ID + placed.order_id)) >= 2
    assert (opened["entry_price"], opened["quantity"], opened["entry_fee"]) == (BTC, HELD, FEE_ZAR)
    assert_opened_with_the_fill(live, position_id, fake)
    [order] = orders_of(live, position_id)
    assert (order.client_order_id, order.mode, order.quote_amount) == (coid, "LIVE", D("500"))
    valuation = live.ledger.valuation()
    assert valuation.cash == D("100000") - D("500") - FEE_ZAR
    assert valuation.equity == D("100000") - FEE_ZAR  # at the entry price
    assert fake.balance("ZAR") == D("100000") - EXECUTED * BTC

    # BTC rises 5%; both the book and VALR see it
    set_price(live, fake, "BTCZAR", "1260000")
    closed = live.positions.close_position(position_id, actor="tester")

    assert closed["success"] is True, closed
    close_coid = f"HX-{live.positions.installation_id()}-{position_id}-CLOSE-1"
    assert posts(fake)[1] == {
        "side": "SELL",
        "pair": "BTCZAR",
        "baseAmount": "0.00041520",  # exactly what is held, net of the BTC fee
        "customerOrderId": close_coid,
    }
    sold = fake.orders()[1]
    # 0.0004152 x R1,260,000 = R523.152, fee 0.35% in ZAR = R1.831032
    assert (sold.total, sold.fee, sold.fee_currency) == (D("523.152"), D("1.831032"), "ZAR")
    gross = (D("1260000") - BTC) * HELD  # R24.912
    realized = gross - FEE_ZAR - D("1.831032")
    assert realized == D("21.328968")
    row = position(live, position_id)
    assert (row.status, row.exit_price, row.exit_fee, row.realized_pnl) == (
        "CLOSED",
        D("1260000"),
        D("1.831032"),
        realized,
    )
    assert closed["realized_pnl"] == realized
    assert [(o.action, o.status, o.exchange_order_id) for o in orders_of(live, position_id)] == [
        ("OPEN", "FILLED", fake.orders()[0].order_id),
        ("CLOSE", "FILLED", sold.order_id),
    ]
    assert [(f.price, f.quantity, f.fee) for f in fills_of(live, position_id)] == [
        (BTC, HELD, FEE_ZAR),
        (D("1260000"), HELD, D("1.831032")),
    ]
    assert ledger_entries(live, position_id) == [
        ("MARGIN_LOCK", D("-500")),
        ("FEE", -FEE_ZAR),
        ("MARGIN_RELEASE", D("500")),
        ("REALIZED_PNL", gross),
        ("FEE", D("-1.831032")),
    ]
    valuation = live.ledger.check()  # every ledger invariant
    assert valuation.cash == D("100000") + realized
    # the books and VALR agree to the cent and beyond: R100,000 - 499.992 + 523.152 - 1.831032
    assert fake.balance("ZAR") == valuation.cash
    assert fake.balance("BTC") == 0
    assert event_kinds(live, position_id) == [
        "OPEN_REQUESTED",
        "OPENED",
        "CLOSE_REQUESTED",
        "CLOSED",
    ]
    assert exchange_errors(live) == []

    # one log line per order with mode, side, pair, amount, customerOrderId and VALR's id
    lines = [r.getMessage() for r in caplog.records if r.name == "helios.exchange.valr"]
    placed_lines = [line for line in lines if "market order placed" in line]
    assert placed_lines == [
        f"mode=LIVE VALR market order placed: BUY BTCZAR quoteAmount=500.00 "
        f"customerOrderId={coid} VALR orderId={fake.orders()[0].order_id}",
        f"mode=LIVE VALR market order placed: SELL BTCZAR baseAmount=0.00041520 "
        f"customerOrderId={close_coid} VALR orderId={sold.order_id}",
    ]
    texts = [r.getMessage() for r in caplog.records] + [repr(live.valr_exchange)]
    assert len(texts) > 5
    assert [t for t in texts if KEY in t or SECRET in t] == []


def test_the_ledger_invariants_hold_while_a_LIVE_buy_is_open(live: helios.Helios):
    """A LIVE BUY pays VALR's fee in the coin: the notional held (entry x quantity net of the
    fee) is S x L minus that fee, which the invariant allows; a notional short by more than the
    fee and the quantity's decimals still fails it."""
    opened = live.positions.open_position("BTCZAR", "BUY", TRADE, "invariants while open")
    assert opened["success"] is True, opened
    held = position(live, opened["position_id"])
    assert held.notional is not None and held.entry_fee is not None
    assert held.notional < Decimal("500.00") - held.entry_fee + Decimal("0.01")  # the fee kept
    live.ledger.check()
    with live.db.write() as session:  # a notional R2 short beyond what the venue keeps
        session.get(Position, held.id).notional -= Decimal("2")  # type: ignore[union-attr]
    with pytest.raises(LedgerInvariantError, match=f"position {held.id} notional"):
        live.ledger.check()


# --- late answers: the position waits, nothing is sent twice ---------------------------------


@pytest.mark.parametrize("late", ["202 timed out, look-up failed", "fill not known in time"])
def test_an_order_whose_answer_comes_late_stays_OPENING_and_reconcile_records_its_one_fill(
    live: helios.Helios, fake: FakeValr, late: str
):
    if late == "202 timed out, look-up failed":
        # VALR places the order at once, its 202 comes after the client gave up; VALR then
        # cannot say (503s) whether it has the order: the client must not place it again
        live.valr_exchange.client.timeout = 0.3
        fake.accept_then_timeout_next(seconds=1.5)
        fake.fail_next(4, 503, method="GET", path=SUMMARY_BY_COID + ".*", after=1)
    else:
        fake.fill_delay_seconds = 0.6
        live.valr_exchange.fill_wait_seconds = 0.1

    first = live.positions.open_position("BTCZAR", "BUY", TRADE, "late answer")

    assert first["success"] is False
    position_id = first["position_id"]
    assert position(live, position_id).status == "OPENING"
    [order] = orders_of(live, position_id)
    errors = exchange_errors(live)
    if late == "202 timed out, look-up failed":
        assert "not resent; reconcile settles it" in first["reason"]
        assert (order.status, order.exchange_order_id) == ("INTENT", None)
        assert len(errors) == 1  # a transport failure: counted for the halt rule
        assert order.client_order_id in errors[0]
    else:
        assert first["reason"] == "order accepted, fill not known yet: reconcile will record it"
        assert (order.status, order.exchange_order_id) == ("SENT", fake.orders()[0].order_id)
        assert errors == []
    assert fake.orders_placed() == 1
    [open_order] = posts(fake)
    fake.wait_settled()
    assert fake.orders()[0].status == "Filled"

    # inside the 30 s grace the owner may still be at work: nothing is touched
    assert live.positions.reconcile() == []
    assert position(live, position_id).status == "OPENING"

    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    [outcome] = live.positions.reconcile()

    assert outcome["success"] is True, outcome
    assert (outcome["sent_now"], outcome["was"]) == (False, "OPENING")
    assert_opened_with_the_fill(live, position_id, fake)
    assert fake.orders_placed() == 1
    assert posts(fake) == [open_order]  # asked about, never sent again
    assert event_kinds(live, position_id)[-1] == "RECONCILED"
    live.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert live.positions.reconcile(grace=timedelta(0)) == []  # settled once
    fake.fill_delay_seconds, live.valr_exchange.fill_wait_seconds = 0.05, 3.0
    live.valr_exchange.client.timeout = 2.0
    assert live.positions.close_position(position_id)["success"] is True
    assert live.ledger.check().cash == fake.balance("ZAR")


def test_a_reconcile_that_cannot_ask_valr_sends_nothing_and_counts_the_error(
    live: helios.Helios, fake: FakeValr
):
    """A position left OPENING, and VALR answering 503 to every question about its order: the
    reconcile pass sends nothing, records an EXCHANGE_ERROR (the halt rule counts it) and goes
    on; once VALR answers, the next pass records the one fill."""
    fake.fill_delay_seconds = 0.6
    live.valr_exchange.fill_wait_seconds = 0.1
    first = live.positions.open_position("BTCZAR", "BUY", TRADE, "VALR mute at reconcile")
    position_id = first["position_id"]
    assert position(live, position_id).status == "OPENING"
    fake.wait_settled()
    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    before = len(exchange_errors(live))

    fake.fail_next(40, 503, method="GET")
    [outcome] = live.positions.reconcile()

    assert outcome["success"] is False and "nothing sent" in outcome["reason"], outcome
    assert position(live, position_id).status == "OPENING"
    errors = exchange_errors(live)[before:]
    assert any("reconcile: asking about order" in e for e in errors), errors
    assert fake.orders_placed() == 1
    fake.clear_faults()
    [settled] = live.positions.reconcile()
    assert settled["success"] is True and settled["sent_now"] is False, settled
    assert position(live, position_id).status == "OPEN"
    assert fake.orders_placed() == 1


# --- a crash between VALR's acceptance and our record -----------------------------------------

CHILD = """
import sys
from datetime import datetime

import helios
from helios.clock import ManualClock

url, now = sys.argv[1:]
with helios.connect(url, clock=ManualClock(datetime.fromisoformat(now))) as hx:
    hx.valr_exchange.poll_interval_seconds = 0.02
    trade = {"position_size_zar": 500.0, "leverage": 1.0}
    print(hx.positions.open_position("BTCZAR", "BUY", trade, "crash test"), flush=True)
"""


def run_child(database_url: str, fake: FakeValr, now: datetime) -> subprocess.CompletedProcess:
    """A separate process opens the R500 buy in LIVE and is killed (SIGKILL) right after
    VALR's answer, before anything is recorded (``open:after_send``). Keys go through the
    environment, as in production."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(
        {
            "HELIOS_ENV_FILE": "",
            CRASH_ENV: "open:after_send",
            **{key.upper(): str(value) for key, value in live_settings(fake).items()},
        }
    )
    return subprocess.run(
        [sys.executable, "-c", CHILD, database_url, now.isoformat()],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_a_process_killed_after_VALR_took_the_order_is_settled_by_the_next_start_without_resending(
    live: helios.Helios, fake: FakeValr, database_url: str
):
    crashed_at = live.clock.now()
    child = run_child(database_url, fake, crashed_at)
    assert child.returncode == -9, (child.stdout.decode(), child.stderr.decode()[-3000:])
    assert child.stdout == b""  # it died before printing the outcome
    told = child.stderr.decode()
    assert KEY not in told and SECRET not in told

    # what the kill left: VALR filled the order, our records still say "about to send"
    [row] = all_positions(live)
    position_id = row.id
    assert row.status == "OPENING"
    [intent] = orders_of(live, position_id)
    assert (intent.action, intent.status, intent.exchange_order_id) == ("OPEN", "INTENT", None)
    assert fake.orders_placed() == 1
    [placed] = fake.orders()
    assert (placed.customer_order_id, placed.status) == (intent.client_order_id, "Filled")
    assert live.ledger.check().cash == D("100000")  # nothing booked yet

    # a new process starts 31 s later: connect() reconciles by itself
    fake.reset_requests()
    restart = ManualClock(crashed_at + timedelta(seconds=31))
    with helios.connect(database_url, clock=restart, **live_settings(fake)) as restarted:
        assert_opened_with_the_fill(restarted, position_id, fake)
        assert event_kinds(restarted, position_id)[-2:] == ["OPENED", "RECONCILED"]
        assert fake.orders_placed() == 1
        assert posts(fake) == []  # found by its customerOrderId, nothing sent
        assert ("GET", SUMMARY_BY_COID + intent.client_order_id) in trail(fake)
        assert exchange_errors(restarted) == []
        assert restarted.positions.close_position(position_id)["success"] is True
        assert restarted.ledger.check().cash == fake.balance("ZAR")
        assert fake.orders_placed() == 2


# --- rate limits, server errors and VALR's refusals -------------------------------------------


def test_a_429_storm_and_a_5xx_burst_are_waited_out_with_backoff_and_one_order_placed(
    live: helios.Helios, fake: FakeValr, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="helios.exchange.valr")
    fake.rate_limit_next(3, method="POST", path=MARKET_ORDER_PATH)
    fake.fail_next(2, 503, method="GET", path=SUMMARY_BY_ID + ".*")  # polling the fill

    opened = live.positions.open_position("BTCZAR", "BUY", TRADE, "429 storm")

    assert opened["success"] is True, opened
    assert_opened_with_the_fill(live, opened["position_id"], fake)
    assert len(posts(fake)) == 4  # three refused by the rate limiter, the fourth taken
    assert fake.orders_placed() == 1
    retries = [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]
    waits = [float(m.rsplit(" in ", 1)[1].removesuffix(" s")) for m in retries]
    assert [m.split(": ")[1].split(";")[0] for m in retries] == [
        "HTTP 429",
        "HTTP 429",
        "HTTP 429",
        "HTTP 503",
        "HTTP 503",
    ]
    # exponential backoff with jitter: 0.01 x 2^n x [0.5, 1]
    for wait, step in zip(waits, [0.01, 0.02, 0.04, 0.01, 0.02], strict=True):
        assert step / 2 <= wait <= step
    assert exchange_errors(live) == []  # waited out: no exchange error


@pytest.mark.parametrize("refusal", ["order Failed on VALR", "VALR refused the POST (400)"])
def test_an_order_VALR_fails_or_refuses_FAILS_the_position_and_is_no_exchange_error(
    live: helios.Helios, fake: FakeValr, refusal: str
):
    if refusal == "order Failed on VALR":
        fake.fail_next_order("Insufficient liquidity to fill this market order")
        reason = "VALR: Insufficient liquidity to fill this market order"
    else:
        fake.fail_next(
            1,
            400,
            {"code": -12007, "message": "Minimum order size not met"},
            method="POST",
            path=MARKET_ORDER_PATH,
        )
        reason = "VALR refused the order: Minimum order size not met (code -12007)"

    opened = live.positions.open_position("BTCZAR", "BUY", TRADE, "refused")

    assert opened["success"] is False
    assert opened["reason"] == f"order rejected: {reason}"
    row = position(live, opened["position_id"])
    assert (row.status, row.error) == ("FAILED", reason)
    [order] = orders_of(live, row.id)
    assert (order.status, order.error) == ("REJECTED", reason)
    failed_on_valr = [o.order_id for o in fake.orders()]
    assert order.exchange_order_id == (failed_on_valr[0] if failed_on_valr else None)
    assert event_kinds(live, row.id) == ["OPEN_REQUESTED", "OPEN_FAILED"]
    assert exchange_errors(live) == []  # a definitive answer, not a failing exchange
    assert ledger_entries(live, row.id) == []
    assert live.ledger.check().cash == D("100000")
    assert fake.balance("ZAR") == D("100000")
    live.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert live.positions.reconcile() == []  # FAILED is final: nothing to settle or resend


def test_an_order_VALR_s_pair_rules_forbid_is_never_sent_and_leaves_nothing_stuck(
    live: helios.Helios, fake: FakeValr
):
    """Refused before sending (VALR's pair rules) is definitive: the open FAILS, a close leaves
    the position OPEN; neither waits OPENING/CLOSING for a reconcile that could never send."""
    fake.margin_enabled = True  # the account has margin, BTCZAR does not allow it
    short = live.positions.open_position("BTCZAR", "SELL", TRADE, "no margin on the pair")

    assert short["success"] is False
    reason = (
        "refused before sending: margin=True is not allowed: False on BTCZAR: VALR does not "
        "allow margin trading on it"
    )
    assert short["reason"] == f"order rejected: {reason}"
    row = position(live, short["position_id"])
    assert (row.status, row.error) == ("FAILED", reason)
    assert [(o.status, o.error) for o in orders_of(live, row.id)] == [("REJECTED", reason)]
    assert fake.requests_to(MARKET_ORDER_PATH) == []
    assert exchange_errors(live) == []

    held = live.positions.open_position("BTCZAR", "BUY", TRADE, "held")
    assert held["success"] is True, held
    fake.set_pair_rules("BTCZAR", active=False)  # VALR suspends the pair
    live.valr_exchange.all_pair_rules(refresh=True)
    refused = live.positions.close_position(held["position_id"])

    assert refused["success"] is False
    assert "VALR lists this pair as inactive" in refused["reason"]
    assert position(live, held["position_id"]).status == "OPEN"  # still held, still watched
    assert [(o.action, o.status) for o in orders_of(live, held["position_id"])] == [
        ("OPEN", "FILLED"),
        ("CLOSE", "REJECTED"),
    ]
    assert event_kinds(live, held["position_id"])[-1] == "CLOSE_FAILED"
    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    assert live.positions.reconcile() == []  # nothing left between two states

    fake.set_pair_rules("BTCZAR", active=True)
    live.valr_exchange.all_pair_rules(refresh=True)
    closed = live.positions.close_position(held["position_id"])
    assert closed["success"] is True, closed
    assert posts(fake)[-1]["customerOrderId"].endswith(f"-{held['position_id']}-CLOSE-2")
    assert fake.orders_placed() == 2
    assert exchange_errors(live) == []
    assert live.ledger.check().cash == fake.balance("ZAR")


def test_a_transport_failure_is_an_exchange_error_and_the_position_waits_for_reconcile(
    live: helios.Helios, fake: FakeValr
):
    fake.rate_limit_next(4, method="POST", path=MARKET_ORDER_PATH)  # 1 try + 3 retries

    first = live.positions.open_position("BTCZAR", "BUY", TRADE, "rate limited")

    assert first["success"] is False
    assert "ValrRateLimited" in first["error"]
    position_id = first["position_id"]
    assert position(live, position_id).status == "OPENING"
    [(order)] = orders_of(live, position_id)
    assert order.status == "INTENT"
    [error] = exchange_errors(live)
    assert order.client_order_id in error and "rate limited by VALR" in error
    assert fake.orders_placed() == 0

    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    [outcome] = live.positions.reconcile()  # VALR never had it: sent now, once
    assert (outcome["success"], outcome["sent_now"]) == (True, True)
    assert_opened_with_the_fill(live, position_id, fake)
    assert fake.orders_placed() == 1


def test_more_than_10_exchange_errors_in_a_minute_halt_trading_and_no_position_is_lost(
    live: helios.Helios, fake: FakeValr
):
    held = live.positions.open_position("BTCZAR", "BUY", TRADE, "held through the storm")
    assert held["success"] is True, held

    # VALR starts failing every order: first a 5xx twice (VALR never took it, and says so) ...
    fake.fail_next(2, 503, method="POST", path=MARKET_ORDER_PATH)
    stuck = live.positions.open_position("ETHZAR", "BUY", TRADE, "opened in the storm")
    assert stuck["success"] is False
    assert "not sent a third time" in stuck["error"]
    # ... then a 429 storm: every watchdog pass tries to settle the stuck open and fails
    fake.rate_limit_next(10 * 4, method="POST", path=MARKET_ORDER_PATH)  # 4 POSTs a pass
    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    for _ in range(10):
        [outcome] = live.positions.reconcile()
        assert outcome["success"] is False
        assert "ValrRateLimited" in outcome["reason"]
        live.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    assert len(exchange_errors(live)) == 11
    stuck_coid = f"HX-{live.positions.installation_id()}-{stuck['position_id']}-OPEN"
    assert fake.orders_placed(stuck_coid) == 0
    assert not live.controls.halt_state().halted

    acted = live.halts.check()

    assert [b.trigger for b in acted] == ["exchange_errors"]
    assert acted[0].figures["errors"] == 11
    state = live.controls.halt_state()
    assert (state.halted, state.cause) == (True, "exchange_errors")
    # the halt's close-out sold the held position (VALR answers again)
    emergency = position(live, held["position_id"])
    assert emergency.status == "EMERGENCY_CLOSE"
    assert [(o.action, o.status) for o in orders_of(live, emergency.id)] == [
        ("OPEN", "FILLED"),
        ("CLOSE", "FILLED"),
    ]
    # the open VALR never got is not sent under the halt: it ends FAILED, with its order record
    live.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    [settled] = live.positions.reconcile()
    assert (settled["position_id"], settled["sent_now"]) == (stuck["position_id"], False)
    never = position(live, stuck["position_id"])
    assert never.status == "FAILED"
    assert "trading is halted: not sent" in (never.error or "")
    assert [(o.action, o.status) for o in orders_of(live, never.id)] == [("OPEN", "REJECTED")]

    # every position accounted for: none left between two states, none without its orders
    rows = all_positions(live)
    assert [(p.id, p.status) for p in rows] == [
        (held["position_id"], "EMERGENCY_CLOSE"),
        (stuck["position_id"], "FAILED"),
    ]
    assert all(orders_of(live, p.id) for p in rows)
    assert live.positions.get_open_positions() == []
    assert fake.orders_placed() == 2  # the held position's open and its close
    valuation = live.ledger.check()
    assert valuation.cash == D("100000") + (emergency.realized_pnl or 0)
    assert fake.balance("ZAR") == valuation.cash


# --- an ambiguous submit is resolved by asking VALR ------------------------------------------


@pytest.mark.parametrize(
    ("what", "took_it"),
    [
        ("502 after VALR took the order", True),
        ("connection dropped after VALR took the order", True),
        ("503 before VALR took the order", False),
    ],
)
def test_an_ambiguous_submit_is_settled_by_asking_VALR_about_the_customerOrderId(
    live: helios.Helios, fake: FakeValr, what: str, took_it: bool
):
    if what.startswith("502"):
        fake.fail_next(1, 502, method="POST", path=MARKET_ORDER_PATH, process_first=True)
    elif what.startswith("connection"):
        fake.drop_next(method="POST", path=MARKET_ORDER_PATH)
    else:
        fake.fail_next(1, 503, method="POST", path=MARKET_ORDER_PATH)

    opened = live.positions.open_position("BTCZAR", "BUY", TRADE, what)

    assert opened["success"] is True, opened
    position_id = opened["position_id"]
    coid = f"HX-{live.positions.installation_id()}-{position_id}-OPEN"
    assert_opened_with_the_fill(live, position_id, fake)
    assert fake.orders_placed() == 1
    steps = trail(fake)
    first_post = steps.index(("POST", MARKET_ORDER_PATH))
    after = steps[first_post + 1 :]
    assert after[0] == ("GET", SUMMARY_BY_COID + coid)  # the first thing done: ask VALR
    if took_it:
        assert len(posts(fake)) == 1  # VALR had it: never sent again
    else:
        # VALR said it does not know the id: placed again, once, after asking
        assert len(posts(fake)) == 2
        second_post = after.index(("POST", MARKET_ORDER_PATH))
        assert ("GET", f"/v1/orders/BTCZAR/customerorderid/{coid}") in after[:second_post]
    assert exchange_errors(live) == []  # settled within the call


# --- margin ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "leverage", "what"),
    [("SELL", 1.0, "a short (SELL)"), ("BUY", 2.0, "leverage 2.0x")],
    ids=["short", "leverage 2"],
)
def test_without_VALR_margin_a_short_or_leverage_is_refused_before_any_order(
    live: helios.Helios, fake: FakeValr, side: str, leverage: float, what: str
):
    assert fake.margin_enabled is False
    before = count_rows(live)

    refused = live.positions.open_position(
        "BTCZAR", side, {**TRADE, "leverage": leverage}, "needs margin"
    )

    assert refused["success"] is False
    assert refused["reason"] == (
        f"LIVE: {what} needs a margin-enabled VALR subaccount (allowMargin); margin is not "
        "enabled on this account, so nothing was sent"
    )
    assert count_rows(live) == before  # no decision, no position, no order
    assert fake.requests_to("/v1/margin/account/status")  # VALR was asked
    assert fake.requests_to(MARKET_ORDER_PATH) == []
    assert fake.orders_placed() == 0


def test_in_LIVE_an_open_needs_VALRs_available_ZAR_and_nothing_is_sent_without_it(
    live: helios.Helios, fake: FakeValr
):
    """Issue 14 (buying power): in LIVE the free cash is VALR's available ZAR (at most the
    ledger's free cash under the capital cap). R300 available: a R500 buy is refused with the
    figures before anything but its decision is written, and VALR receives no order."""
    fake.set_balance("ZAR", "300")
    before = count_rows(live)
    refused = live.positions.open_position("BTCZAR", "BUY", TRADE, "too little ZAR")
    assert refused["success"] is False
    assert "PRE-CHECK buying_power: Not enough free cash: needs R501.75" in refused["reason"]
    assert "R300.00 free" in refused["reason"] and "VALR's available R300.00" in refused["reason"]
    after = count_rows(live)
    assert after == {**before, "risk_decisions": before["risk_decisions"] + 1}
    assert fake.requests_to("/v1/account/balances")  # VALR was asked
    assert fake.orders_placed() == 0
    fake.set_balance("ZAR", "100000")  # the capped ledger (R5,000 of R100,000) is the lesser
    asked = len(fake.requests_to("/v1/account/balances"))
    checked = live.risk.check_trade_risk("BTCZAR", "BUY", {**TRADE, "position_size_zar": 4_990.0})
    [cash] = [p for p in checked.pre_checks if p.name == "buying_power"]
    assert cash.passed is False and D(cash.limit) == D("5000")  # a decision asks VALR now
    preview = live.risk.preview("BTCZAR", "BUY", TRADE)  # a page refreshing reuses its figure
    assert preview.passed is True
    live.risk.capacity()
    assert len(fake.requests_to("/v1/account/balances")) == asked + 1
    assert live.positions.open_position("BTCZAR", "BUY", TRADE, "fits")["success"] is True
    assert len(fake.requests_to("/v1/account/balances")) == asked + 2  # a decision asks again


def test_in_LIVE_a_VALR_that_cannot_say_what_is_available_refuses_the_open(
    live: helios.Helios, fake: FakeValr
):
    fake.fail_next(10, 503, path="/v1/account/balances")
    refused = live.positions.open_position("BTCZAR", "BUY", TRADE, "VALR down")
    assert refused["success"] is False
    assert "could not be read" in refused["reason"]
    assert fake.orders_placed() == 0


def test_with_VALR_margin_a_short_and_a_2x_buy_are_sent_with_allowMargin(
    live: helios.Helios, fake: FakeValr
):
    fake.margin_enabled = True
    fake.set_pair_rules("BTCZAR", marginTradingAllowed=True)
    fake.set_pair_rules("ETHZAR", marginTradingAllowed=True)

    short = live.positions.open_position("BTCZAR", "SELL", TRADE, "margin short")
    levered = live.positions.open_position("ETHZAR", "BUY", {**TRADE, "leverage": 2.0}, "2x")

    assert short["success"] is True, short
    assert levered["success"] is True, levered
    installation = live.positions.installation_id()
    assert posts(fake) == [
        {
            "side": "SELL",
            "pair": "BTCZAR",
            "quoteAmount": "500.00",
            "customerOrderId": f"HX-{installation}-{short['position_id']}-OPEN",
            "allowMargin": True,
        },
        {
            "side": "BUY",
            "pair": "ETHZAR",
            "quoteAmount": "1000.00",  # R500 margin x 2
            "customerOrderId": f"HX-{installation}-{levered['position_id']}-OPEN",
            "allowMargin": True,
        },
    ]
    assert [o.allow_margin for o in fake.orders()] == [True, True]
    # the short: 0.00041666 BTC sold for R499.992, fee 0.35% in ZAR
    row = position(live, short["position_id"])
    assert (row.side, row.status, row.entry_price) == ("SELL", "OPEN", BTC)
    assert (row.quantity, row.entry_fee) == (EXECUTED, D("1.749972"))
    assert fake.balance("BTC") == -EXECUTED
    # 2x: R1,000 buys 0.01666666 ETH, fee 0.00005833 ETH (R3.4998), 0.01660833 held
    row = position(live, levered["position_id"])
    assert (row.leverage, row.quantity, row.entry_fee) == (D("2"), D("0.01660833"), D("3.4998"))

    # closing the short buys the coins back, with allowMargin too, and enough of them that what
    # arrives net of VALR's fee in BTC covers the short: 0.00041666 / (1 - 0.35%) rounded up
    assert live.positions.close_position(short["position_id"])["success"] is True
    assert posts(fake)[2]["side"] == "BUY"
    assert posts(fake)[2]["baseAmount"] == "0.00041813"
    assert posts(fake)[2]["allowMargin"] is True
    assert position(live, short["position_id"]).status == "CLOSED"
    assert D(0) <= fake.balance("BTC") <= D("0.00000002")  # the short is covered, no debt left


# --- the database lost in LIVE: the close-out goes to VALR without it --------------------------


@pytest.fixture
def watched(
    database_url: str, clock: ManualClock, fake: FakeValr, tmp_path: Path
) -> Iterator[helios.Helios]:
    """LIVE with the close-out journal under the test's folder."""
    settings = {**live_settings(fake), "journal_dir": str(tmp_path / "journal")}
    with helios.connect(database_url, clock=clock, **settings) as hx:
        give_market(hx)
        go_live(hx)
        yield quick(hx)


def database_gone(hx: helios.Helios) -> None:
    """What the close-out may still reach for: the price source reads the database."""

    def unreachable(pair: str) -> Decimal | None:
        raise OperationalError("SELECT price", {}, Exception("the database is unreachable"))

    hx.valr_exchange.price_source = unreachable


def test_a_LIVE_closeout_without_the_database_sells_on_VALR_and_replays_once(
    watched: helios.Helios, fake: FakeValr, clock: ManualClock
):
    """The database lost in LIVE: the journal close-out sells the position on VALR itself (not
    a paper fill); when the database returns the replay records that one fill, the ledger agrees
    with VALR, and nothing is sent again."""
    opened = watched.positions.open_position("BTCZAR", "BUY", TRADE, "before the outage")
    assert opened["success"] is True, opened
    watch = DatabaseWatch(watched)
    watch.remember()
    database_gone(watched)
    set_price(watched, fake, "BTCZAR", "1150000")
    clock.advance(timedelta(seconds=45))

    [outcome] = watch.closeout(45.0)

    assert outcome["success"] is True, outcome
    assert outcome["client_order_id"].endswith(f"-{opened['position_id']}-ECLOSE-1")
    assert fake.orders_placed() == 2
    [sell] = posts(fake, outcome["client_order_id"])
    assert (sell["side"], sell["baseAmount"]) == ("SELL", "0.00041520")
    # the close-out journals its "database lost" alert last (helios.alerts.offline)
    assert [r["type"] for r in watch.journal.records()] == ["halt", "intent", "close", "alert"]
    assert position(watched, opened["position_id"]).status == "OPEN"  # nothing written yet

    replay_journal(watched, watch.journal)
    assert position(watched, opened["position_id"]).status == "EMERGENCY_CLOSE"
    assert watched.controls.halt_state().cause == "database_lost"
    assert watched.ledger.check().cash == fake.balance("ZAR")
    assert replay_journal(watched, watch.journal) == []  # replayed once
    assert fake.orders_placed() == 2


def test_a_LIVE_closeout_whose_answer_is_lost_is_settled_by_asking_VALR(
    watched: helios.Helios, fake: FakeValr, clock: ManualClock
):
    """The close-out's order reached VALR but its answer did not come back, and VALR could not
    be asked: the journal says "unknown" (not "failed", which would leave the position OPEN);
    the replay leaves it CLOSING and reconcile records VALR's fill without sending again."""
    opened = watched.positions.open_position("BTCZAR", "BUY", TRADE, "before the outage")
    position_id = opened["position_id"]
    watch = DatabaseWatch(watched)
    watch.remember()
    database_gone(watched)
    watched.valr_exchange.client.timeout = 0.3
    fake.accept_then_timeout_next(seconds=1.5)
    fake.fail_next(4, 503, method="GET", path=SUMMARY_BY_COID + ".*", after=1)
    clock.advance(timedelta(seconds=45))

    [outcome] = watch.closeout(45.0)

    assert outcome["success"] is False
    assert [r["type"] for r in watch.journal.records()] == [
        "halt",
        "intent",
        "close_unknown",
        "alert",
    ]
    fake.wait_settled()
    assert fake.orders_placed() == 2  # VALR has the close

    fake.clear_faults()
    watched.valr_exchange.client.timeout = 2.0
    replay_journal(watched, watch.journal)
    assert position(watched, position_id).status == "CLOSING"
    clock.advance(timedelta(seconds=31))
    [settled] = watched.positions.reconcile()
    assert settled["success"] is True and settled["sent_now"] is False, settled
    assert position(watched, position_id).status == "EMERGENCY_CLOSE"
    assert fake.orders_placed() == 2
    assert watched.ledger.check().cash == fake.balance("ZAR")
