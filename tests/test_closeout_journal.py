"""The seed's "database connection lost" stop (``helios.closeout``), on real SQLite and
PostgreSQL databases.

While the database answers, ``DatabaseWatch`` remembers the open book and the last prices. When
it has been lost for ``HALT_DATABASE_LOST_SECONDS`` the leader closes out through the journal
(halt, then per position the intent, the offline paper venue's fill from the remembered price
with slippage and fee, or the failure), writing nothing to the database. When the database
answers again the journal is replayed exactly once: the halt with its cause, each close as its
order, fill, venue record and ledger entries, and the books agree.

The database itself is never faked: the "unreachable" phases replace only the watch's probe
(its answer to "does the database answer?").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import PRICES, booked_position, connect_book, orders_of, position, venue_orders
from sqlalchemy import func, select

import helios
from helios.clock import ManualClock
from helios.closeout import CloseoutJournal, DatabaseWatch, replay_journal
from helios.config import HaltAction
from helios.db.models import Event, Fill, LedgerEntry, Order, PaperVenueOrder, Position
from helios.exchange.base import Exchange, OrderRequest, OrderResult
from helios.money import price, zar

D = Decimal
SLIPPAGE = D("0.001")
FEE = D("0.0035")


# --- the journal file ---------------------------------------------------------------------------


def test_the_journal_appends_reads_and_marks_records_replayed(tmp_path: Path):
    journal = CloseoutJournal(tmp_path / "journal", "abc123")
    assert journal.records() == [] and journal.pending() == []
    assert journal.path == tmp_path / "journal" / "closeout-abc123.jsonl"

    halt = journal.append({"type": "halt", "cause": "database_lost"})
    intent = journal.append({"type": "intent", "position_id": 7, "amount": D("1.5")})
    assert halt["id"] != intent["id"] and len(halt["id"]) == 32
    assert [r["type"] for r in journal.records()] == ["halt", "intent"]
    assert journal.records()[1]["amount"] == "1.5"  # written as text, never as a float
    assert [r["id"] for r in journal.pending()] == [halt["id"], intent["id"]]

    journal.mark_replayed(halt, "halt recorded")
    assert [r["id"] for r in journal.pending()] == [intent["id"]]
    marks = [r for r in journal.records() if r["type"] == "replayed"]
    assert marks == [
        {"id": marks[0]["id"], "type": "replayed", "ref": halt["id"], "outcome": "halt recorded"}
    ]
    journal.mark_replayed(intent, "x" * 2000)
    assert journal.pending() == []
    assert len(journal.records()[-1]["outcome"]) == 500

    # append-only: every line written is still there, one JSON object per line
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["id"] for line in lines)


def test_a_line_torn_by_a_crash_is_skipped_and_later_records_survive(tmp_path: Path):
    journal = CloseoutJournal(tmp_path, "abc123")
    kept = journal.append({"type": "halt", "cause": "database_lost"})
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "torn", "type": "inte')  # the process died mid-write
    assert [r["id"] for r in journal.records()] == [kept["id"]]
    assert [r["id"] for r in journal.pending()] == [kept["id"]]

    after = journal.append({"type": "intent", "position_id": 1})  # the next process goes on
    assert [r["id"] for r in journal.records()] == [kept["id"], after["id"]]
    assert [r["id"] for r in journal.pending()] == [kept["id"], after["id"]]


# --- the watch on a real database -------------------------------------------------------------


@pytest.fixture
def book(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[helios.Helios]:
    """A paper book with 0.1% slippage, the journal under the test's folder, prices set."""
    with connect_book(
        database_url,
        clock,
        paper_slippage_pct=str(SLIPPAGE),
        journal_dir=str(tmp_path / "journal"),
        halt_database_lost_seconds=30,
    ) as hx:
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        yield hx


def open_book(hx: helios.Helios) -> list[int]:
    """A long R20,000 of BTC at 2x and a short R3,000 of ETH at 1x."""
    return [
        booked_position(hx, "BTCZAR", "BUY", "20000", "2"),
        booked_position(hx, "ETHZAR", "SELL", "3000", "1"),
    ]


ALERT_RECORDS = ("alert", "alert_sent")  # the "database lost" alert (tests/test_alert_offline.py)


def kinds(journal: CloseoutJournal) -> list[tuple[str, Any]]:
    """The close-out's own records (the alert it tells is journaled too, and tested apart)."""
    return [
        (r["type"], r.get("position_id"))
        for r in journal.records()
        if r["type"] not in ALERT_RECORDS
    ]


def closeout_records(journal: CloseoutJournal) -> list[dict[str, Any]]:
    return [r for r in journal.records() if r["type"] not in ALERT_RECORDS]


def counts(hx: helios.Helios) -> dict[str, int]:
    tables = {
        "orders": Order,
        "fills": Fill,
        "venue_orders": PaperVenueOrder,
        "ledger_entries": LedgerEntry,
        "events": Event,
    }
    with hx.db.read() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


def halts(hx: helios.Helios) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == "HALT")))


def expected_close(hx: helios.Helios, position_id: int, reference: Decimal) -> dict[str, Decimal]:
    """The offline paper fill worked by hand: the reference price less (long) or plus (short)
    the slippage, the taker fee on the fill's value, and the cash it returns."""
    row = position(hx, position_id)
    assert row.quantity is not None and row.entry_price is not None
    if row.side == "BUY":
        fill = price(reference * (1 - SLIPPAGE))
        gross = zar((fill - row.entry_price) * row.quantity)
    else:
        fill = price(reference * (1 + SLIPPAGE))
        gross = zar((row.entry_price - fill) * row.quantity)
    fee = zar(fill * row.quantity * FEE)
    return {
        "price": fill,
        "quantity": row.quantity,
        "fee": fee,
        "cash": zar(row.position_size_zar) + gross - fee,
    }


def test_remember_keeps_the_open_positions_and_the_last_prices(book: helios.Helios):
    ids = open_book(book)
    closing = booked_position(book, "SOLZAR", "BUY", "1000", "1")
    book.positions.close_position(closing, "CLOSED")  # a closed one is not in the book
    watch = DatabaseWatch(book)
    assert watch.book == [] and watch.prices == {}
    watch.remember()
    assert [(e.position_id, e.pair, e.side, e.mode) for e in watch.book] == [
        (ids[0], "BTCZAR", "BUY", "PAPER"),
        (ids[1], "ETHZAR", "SELL", "PAPER"),
    ]
    assert [e.quantity for e in watch.book] == [position(book, i).quantity for i in ids]
    assert watch.prices == {pair: D(value) for pair, value in PRICES.items()}
    assert watch.installation == book.positions.installation_id()
    assert watch.journal.path.parent == Path(book.settings.journal_dir)


def test_a_closeout_writes_the_journal_and_nothing_to_the_database(
    book: helios.Helios, clock: ManualClock
):
    ids = open_book(book)
    book.market.set_price("BTCZAR", "1150000")
    watch = DatabaseWatch(book)
    watch.remember()
    before = counts(book)
    clock.advance(seconds=45)
    outcomes = watch.closeout(45.0)

    installation = watch.installation
    coids = [f"HX-{installation}-{i}-ECLOSE-1" for i in ids]
    assert [(o["position_id"], o["client_order_id"], o["success"]) for o in outcomes] == [
        (ids[0], coids[0], True),
        (ids[1], coids[1], True),
    ]
    assert kinds(watch.journal) == [
        ("halt", None),
        ("intent", ids[0]),
        ("close", ids[0]),
        ("intent", ids[1]),
        ("close", ids[1]),
    ]
    halt, _, btc, _, eth = closeout_records(watch.journal)
    assert halt["cause"] == "database_lost" and halt["action"] == "close_all"
    assert halt["figures"] == {"lost_seconds": 45.0, "open_positions": 2}
    assert "database unreachable for 45 s (limit 30 s)" in halt["message"]
    for record, position_id, reference in ((btc, ids[0], "1150000"), (eth, ids[1], "60000")):
        want = expected_close(book, position_id, D(reference))
        result = record["result"]
        assert record["client_order_id"] == result["client_order_id"]
        assert record["reference_price"] == reference
        assert result["status"] == "FILLED"
        assert D(result["price"]) == want["price"]
        assert D(result["quantity"]) == want["quantity"]
        assert D(result["fee"]) == want["fee"]
        assert result["side"] == ("SELL" if position_id == ids[0] else "BUY")
    # the database was not touched: still open, no order, no halt
    assert counts(book) == before
    assert [position(book, i).status for i in ids] == ["OPEN", "OPEN"]
    assert not book.controls.is_halted()


def test_replaying_the_journal_records_every_close_exactly_once(
    book: helios.Helios, clock: ManualClock
):
    ids = open_book(book)
    book.market.set_price("BTCZAR", "1150000")
    book.market.set_price("ETHZAR", "61000")
    watch = DatabaseWatch(book)
    watch.remember()
    cash_before = book.ledger.valuation().cash
    wanted = {
        ids[0]: expected_close(book, ids[0], D("1150000")),
        ids[1]: expected_close(book, ids[1], D("61000")),
    }
    clock.advance(seconds=40)
    closed_at = clock.now()
    watch.closeout(40.0)
    clock.advance(minutes=10)  # the database comes back later

    lines = replay_journal(book, watch.journal)
    assert len(lines) == 6 and lines[-1].startswith("alert DATABASE_LOST: queued")
    assert watch.journal.pending() == []

    state = book.controls.halt_state()
    assert state.halted and state.cause == "database_lost" and state.by == "watchdog"
    assert state.action is HaltAction.CLOSE_ALL
    [halt] = halts(book)
    assert halt.details is not None
    assert halt.details["lost_seconds"] == 40.0 and halt.details["open_positions"] == 2
    assert halt.details["detected_at"] == closed_at.isoformat()

    venue = {v.client_order_id: v for v in venue_orders(book)}
    for position_id in ids:
        row = position(book, position_id)
        want = wanted[position_id]
        assert row.status == "EMERGENCY_CLOSE"
        assert row.exit_price == want["price"] and row.exit_fee == want["fee"]
        assert row.closed_at == closed_at  # when the venue filled it, not when replayed
        [order] = [o for o in orders_of(book, position_id) if o.action == "CLOSE"]
        coid = f"HX-{watch.installation}-{position_id}-ECLOSE-1"
        assert order.client_order_id == coid and order.status == "FILLED"
        with book.db.read() as session:
            fills = list(session.scalars(select(Fill).where(Fill.order_id == order.id)))
        assert [(f.price, f.quantity, f.fee) for f in fills] == [
            (want["price"], want["quantity"], want["fee"])
        ]
        adopted = venue[coid]
        assert adopted.status == "FILLED" and adopted.fill_price == want["price"]
        assert adopted.fee == want["fee"] and adopted.quantity == want["quantity"]
    assert venue[f"HX-{watch.installation}-{ids[0]}-ECLOSE-1"].reference_price == D("1150000")

    valuation = book.ledger.check()  # the ledger invariants hold
    expected_cash = cash_before + sum(w["cash"] for w in wanted.values())
    assert valuation.cash == expected_cash
    assert valuation.positions == []

    # a second replay changes nothing
    after = counts(book)
    assert replay_journal(book, watch.journal) == []
    assert counts(book) == after

    # nor does a replay whose "replayed" marks were lost (a crash during the replay)
    lost = CloseoutJournal(watch.journal.directory, "lost-marks")
    lost.path.write_text(
        "".join(json.dumps(r) + "\n" for r in watch.journal.records() if r["type"] != "replayed")
    )
    assert len([r for r in lost.pending() if r["type"] not in ALERT_RECORDS]) == 5
    replay_journal(book, lost)
    assert counts(book) == after
    assert lost.pending() == []
    assert book.ledger.check().cash == expected_cash
    assert len(halts(book)) == 1


class PartlyDown(Exchange):
    """The offline venue for every pair but ``failing``, whose close raises."""

    name = "paper-offline"

    def __init__(self, venue: Exchange, failing: str) -> None:
        self.venue = venue
        self.failing = failing

    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        if request.pair == self.failing:
            raise ConnectionError("no route to the exchange")
        return self.venue.submit_market_order(request)

    def get_order(self, client_order_id: str) -> OrderResult | None:
        return None

    def balances(self) -> dict[str, Decimal]:
        return {}


def test_a_failed_or_rejected_offline_close_leaves_the_position_open(
    book: helios.Helios, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    ids = open_book(book)
    sol = booked_position(book, "SOLZAR", "BUY", "1000", "1")
    watch = DatabaseWatch(book)
    watch.remember()
    del watch.prices["SOLZAR"]  # no remembered price: the offline venue rejects the close
    offline = book.paper_exchange.offline(watch.prices)
    monkeypatch.setattr(watch, "_exchange", lambda mode: PartlyDown(offline, "ETHZAR"))
    clock.advance(seconds=31)
    outcomes = watch.closeout(31.0)
    assert [o["success"] for o in outcomes] == [True, False, False]
    assert "ConnectionError: no route to the exchange" in outcomes[1]["error"]
    assert kinds(watch.journal) == [
        ("halt", None),
        ("intent", ids[0]),
        ("close", ids[0]),
        ("intent", ids[1]),
        ("close_failed", ids[1]),
        ("intent", sol),
        ("close", sol),
    ]
    assert closeout_records(watch.journal)[-1]["result"]["status"] == "REJECTED"

    clock.advance(minutes=2)
    replay_journal(book, watch.journal)
    assert [position(book, i).status for i in (*ids, sol)] == ["EMERGENCY_CLOSE", "OPEN", "OPEN"]
    assert orders_of(book, ids[1]) == []  # nothing recorded for ETH
    [rejected] = [o for o in orders_of(book, sol) if o.action == "CLOSE"]
    assert rejected.status == "REJECTED" and "no known price" in (rejected.error or "")
    book.ledger.check()
    assert book.controls.halt_state().cause == "database_lost"

    # with the database back, the halt's close-out closes what is left, online
    book.halts.check()
    assert [position(book, i).status for i in (*ids, sol)] == ["EMERGENCY_CLOSE"] * 3
    [eth_close] = [o for o in orders_of(book, ids[1]) if o.action == "CLOSE"]
    assert eth_close.client_order_id.endswith(f"-{ids[1]}-CLOSE-1")
    assert eth_close.status == "FILLED"
    book.ledger.check()


class Killed(BaseException):
    """The process dies while the close is on its way (not an error a handler would catch)."""


class DiesOnSend(PartlyDown):
    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        raise Killed()


def test_an_unanswered_paper_intent_leaves_the_position_open(
    book: helios.Helios, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    [btc, eth] = open_book(book)
    watch = DatabaseWatch(book)
    watch.remember()
    monkeypatch.setattr(watch, "_exchange", lambda mode: DiesOnSend(book.paper_exchange, ""))
    clock.advance(seconds=31)
    with pytest.raises(Killed):
        watch.closeout(31.0)
    assert kinds(watch.journal) == [("halt", None), ("intent", btc)]

    before = counts(book)
    lines = replay_journal(book, watch.journal)
    assert "close never filled, stays open" in lines[1]
    assert [position(book, i).status for i in (btc, eth)] == ["OPEN", "OPEN"]
    after = counts(book)
    assert after["orders"] == before["orders"] and after["fills"] == before["fills"]
    assert after["venue_orders"] == before["venue_orders"]
    assert book.controls.halt_state().cause == "database_lost"
    book.ledger.check()


def test_a_halt_only_setting_journals_the_halt_and_closes_nothing(
    database_url: str, clock: ManualClock, tmp_path: Path
):
    with connect_book(
        database_url,
        clock,
        journal_dir=str(tmp_path / "journal"),
        halt_action_database_lost="halt_only",
    ) as hx:
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        ids = open_book(hx)
        watch = DatabaseWatch(hx)
        watch.remember()
        assert watch.closeout(60.0) == []
        assert kinds(watch.journal) == [("halt", None)]
        replay_journal(hx, watch.journal)
        state = hx.controls.halt_state()
        assert state.cause == "database_lost" and state.action is HaltAction.HALT_ONLY
        assert [position(hx, i).status for i in ids] == ["OPEN", "OPEN"]


# --- tick(): the scheduler's watchdog step ---------------------------------------------------


def test_tick_closes_out_once_after_the_limit_and_replays_when_the_database_returns(
    book: helios.Helios, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    ids = open_book(book)
    watch = DatabaseWatch(book)
    assert watch.tick(leading=True) is True  # the database answers: the book is remembered
    assert [e.position_id for e in watch.book] == ids
    assert not watch.down

    monkeypatch.setattr(watch, "probe", lambda: False)  # from here the probe gets no answer
    lost_at = clock.now()
    assert watch.tick(leading=True) is False
    assert watch.down and watch.down_since == lost_at
    clock.advance(seconds=29)
    assert watch.tick(leading=True) is False
    assert watch.journal.records() == []  # 29 s: under the limit
    clock.advance(seconds=1)
    assert watch.tick(leading=False) is False  # a standby never closes out
    assert watch.journal.records() == []

    assert watch.tick(leading=True) is False  # 30 s, leading: close out
    written = kinds(watch.journal)
    assert written == [
        ("halt", None),
        ("intent", ids[0]),
        ("close", ids[0]),
        ("intent", ids[1]),
        ("close", ids[1]),
    ]
    for _ in range(5):  # not again on every tick
        clock.advance(seconds=5)
        assert watch.tick(leading=True) is False
    assert kinds(watch.journal) == written
    assert watch.down_since == lost_at
    assert not book.controls.is_halted()  # nothing reached the database yet
    assert [position(book, i).status for i in ids] == ["OPEN", "OPEN"]

    monkeypatch.undo()  # the real probe: the database answers
    clock.advance(seconds=5)
    assert watch.tick(leading=True) is True
    assert not watch.down
    assert watch.journal.pending() == []
    state = book.controls.halt_state()
    assert state.halted and state.cause == "database_lost"
    assert [position(book, i).status for i in ids] == ["EMERGENCY_CLOSE", "EMERGENCY_CLOSE"]
    assert watch.book == []  # remembered afresh: nothing open
    for position_id in ids:
        closes = [o for o in orders_of(book, position_id) if o.action == "CLOSE"]
        assert [o.client_order_id.split("-", 3)[-1] for o in closes] == ["ECLOSE-1"]
    book.ledger.check()

    after = counts(book)
    clock.advance(seconds=5)
    assert watch.tick(leading=True) is True
    assert counts(book) == after
    with book.db.read() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Position).where(Position.status == "OPEN")
            )
            == 0
        )


def test_the_probe_answers_on_a_live_database(book: helios.Helios):
    assert DatabaseWatch(book).probe() is True


def test_a_second_outage_closes_under_a_new_id_after_a_rejected_first(
    book: helios.Helios, clock: ManualClock
):
    """Outage 1: the offline close is rejected (no remembered price) and the position stays
    open. Outage 2 must not reuse that order id: its fill is recorded, not taken for the first."""
    sol = booked_position(book, "SOLZAR", "BUY", "1000", "1")
    watch = DatabaseWatch(book)
    watch.remember()
    del watch.prices["SOLZAR"]
    watch.closeout(31.0)
    replay_journal(book, watch.journal)
    assert position(book, sol).status == "OPEN"
    book.controls.resume("thandi")

    clock.advance(minutes=5)
    watch.remember()  # the price is known again
    watch.closeout(31.0)
    replay_journal(book, watch.journal)
    assert position(book, sol).status == "EMERGENCY_CLOSE"
    closes = [o for o in orders_of(book, sol) if o.action == "CLOSE"]
    assert [(o.client_order_id.rsplit("-", 2)[-2:], o.status) for o in closes] == [
        (["ECLOSE", "1"], "REJECTED"),
        (["ECLOSE", "2"], "FILLED"),
    ]
    venue = {o.client_order_id: o.status for o in venue_orders(book)}
    assert venue[closes[1].client_order_id] == "FILLED"
    assert closes[0].client_order_id not in venue or venue[closes[0].client_order_id] != "FILLED"
    book.ledger.check()


def test_a_record_the_database_cannot_take_is_set_aside_and_the_rest_replayed(
    book: helios.Helios, clock: ManualClock
):
    """A journal close for a position the database does not have (restored from an older
    backup, say) must not stop the replay, nor keep the scheduler's jobs waiting forever."""
    ids = open_book(book)
    watch = DatabaseWatch(book)
    watch.remember()
    watch.closeout(31.0)
    records = closeout_records(watch.journal)
    ghost = {**records[-1], "id": "ghost", "position_id": 999, "client_order_id": "HX-x-999-E"}
    watch.journal.path.write_text(
        "".join(json.dumps(r) + "\n" for r in [records[0], ghost, *records[1:]])
    )
    lines = replay_journal(book, watch.journal)
    assert any(line.startswith("NOT APPLIED: InvalidInput") for line in lines)
    assert [position(book, i).status for i in ids] == ["EMERGENCY_CLOSE"] * 2
    assert watch.journal.pending() == []
    with book.db.read() as session:
        [event] = list(session.scalars(select(Event).where(Event.kind == "JOURNAL_NOT_APPLIED")))
    assert event.severity == "CRITICAL" and "999" in event.message
    assert watch.tick(leading=True) is True and not watch.down
