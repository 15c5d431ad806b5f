"""The closed trades list and the event log, read from real SQLite and PostgreSQL databases:
filters, paging and totals done in SQL (hx.positions.closed_trades, hx.events.query)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import helios
from helios.clock import ManualClock
from helios.db.models import Position
from helios.errors import InvalidInput
from helios.event_log import EventFilter
from helios.events import record_event
from helios.positions.trade_figures import TradeFilter
from tests.factories import SEED_REASONING, SEED_TRADE, connect_book, give_market

D = Decimal
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        yield hx


def closed(
    hx: helios.Helios,
    pair: str,
    status: str,
    closed_at: datetime,
    pnl: str,
    trigger: str | None,
    exit_price: str = "99",
) -> int:
    """A closed long written as the position manager leaves one: entered at 100 (its stop 1%
    below: 99), out at ``exit_price``."""
    with hx.db.write() as session:
        row = Position(
            pair=pair,
            side="BUY",
            status=status,
            mode="PAPER",
            position_size_zar=D("1000"),
            leverage=D("1"),
            notional=D("1000"),
            quantity=D("10"),
            entry_price=D("100"),
            exit_price=D(exit_price),
            entry_fee=D("3.5"),
            exit_fee=D("3.465"),
            realized_pnl=D(pnl),
            stop_loss_pct=D("0.01"),
            take_profit_pct=D("0.03"),
            stop_loss_price=D("99"),
            take_profit_price=D("103"),
            max_holding_hours=D("72"),
            close_reason=status,
            exit_trigger_price=None if trigger is None else D(trigger),
            created_at=closed_at - timedelta(hours=2),
            opened_at=closed_at - timedelta(hours=2),
            closed_at=closed_at,
            updated_at=closed_at,
        )
        session.add(row)
        session.flush()
        return row.id


def test_closed_trades_filter_page_and_count_in_sql(book: helios.Helios) -> None:
    ids = {}
    for day in range(30):  # one a day: BTC stop-outs, ETH targets, SOL manual closes
        pair, status, trigger = [
            ("BTCZAR", "STOPPED_OUT", "99"),
            ("ETHZAR", "TAKE_PROFIT", "103"),
            ("SOLZAR", "CLOSED", None),
        ][day % 3]
        out = "98.9" if status == "STOPPED_OUT" else "99"
        ids[day] = closed(book, pair, status, T0 + timedelta(days=day), "-16.965", trigger, out)
    everything = book.positions.closed_trades(TradeFilter(page_size=25))
    assert everything.total == 30 and everything.pages == 2 and len(everything.trades) == 25
    assert [t.position_id for t, _ in everything.trades][:2] == [ids[29], ids[28]]  # newest exit
    second = book.positions.closed_trades(TradeFilter(page=2, page_size=25))
    assert [t.position_id for t, _ in second.trades] == [ids[d] for d in range(4, -1, -1)]
    past = book.positions.closed_trades(TradeFilter(page=3, page_size=25))
    assert past.total == 30 and past.trades == ()

    btc = book.positions.closed_trades(TradeFilter(pair="btczar"))
    assert btc.total == 10 and {t.pair for t, _ in btc.trades} == {"BTCZAR"}
    targets = book.positions.closed_trades(TradeFilter(reasons=("TAKE_PROFIT", "CLOSED")))
    assert targets.total == 20
    week = book.positions.closed_trades(
        TradeFilter(start=T0 + timedelta(days=7), end=T0 + timedelta(days=14))
    )
    assert sorted(t.position_id for t, _ in week.trades) == [ids[d] for d in range(7, 14)]

    stop, figures = next((t, f) for t, f in btc.trades)
    assert (figures.exit_label, figures.duration_text) == ("Stop loss", "2 h 0 min")
    assert figures.fees == D("6.965") and figures.net_pnl_ratio == D("-0.016965")
    # sold at 98.9 against its stop of 99: 0.1 worse a unit over 10 units
    assert figures.slippage_zar == D("1") and stop.exit_trigger_price == D("99")
    manual = book.positions.closed_trades(TradeFilter(reasons=("CLOSED",))).trades[0][1]
    assert manual.slippage_zar is None and manual.exit_label == "Manual close"

    with pytest.raises(InvalidInput) as caught:
        book.positions.closed_trades(TradeFilter(pair="DOGEZAR"))
    assert caught.value.field == "pair"
    with pytest.raises(InvalidInput):
        book.positions.closed_trades({"page": 1})  # type: ignore[arg-type]


def test_the_csv_holds_every_matching_trade_with_exact_strings(book: helios.Helios) -> None:
    for day in range(60):
        closed(book, "BTCZAR", "STOPPED_OUT", T0 + timedelta(days=day), "-16.965", "99.1")
    closed(book, "ETHZAR", "CLOSED", T0, "-16.965", None)
    text = book.positions.closed_trades_csv(TradeFilter(pair="BTCZAR", page=2, page_size=10))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 60  # every page, the ETH one filtered out
    assert {r["pair"] for r in rows} == {"BTCZAR"}
    assert rows[0]["net_pnl_zar"] == "-16.965" and rows[0]["fees_zar"] == "6.965"
    assert rows[0]["slippage_zar"] == "1" and rows[0]["slippage_pct"] == "0.100908"
    assert rows[0]["exit_reason"] == "Trailing stop"  # 99.1: the stop had moved up from 99
    assert rows[0]["exit_time"] == (T0 + timedelta(days=59)).isoformat()


def test_a_real_stop_out_shows_the_paper_fills_slippage(book: helios.Helios) -> None:
    opened = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    book.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    book.market.set_price("BTCZAR", "1170000")  # through the 2% stop at 1,176,000-ish
    book.positions.monitor_positions()
    page = book.positions.closed_trades(TradeFilter())
    [(trade, figures)] = page.trades
    assert trade.status == "STOPPED_OUT" and figures.exit_label == "Stop loss"
    assert trade.exit_trigger_price is not None and trade.exit_price is not None
    assert trade.exit_price < trade.exit_trigger_price  # the market was past the stop
    worse = trade.exit_trigger_price - trade.exit_price
    assert figures.slippage_zar is not None and figures.slippage_zar > 0
    assert figures.slippage_zar == (worse * trade.quantity).quantize(D("1e-8"))
    assert figures.duration_text == "1 min"


# --- the event log ----------------------------------------------------------------------------


def events(hx: helios.Helios) -> None:
    """120 events: 100 INFO heartbeats by the scheduler, 15 WARNING stale prices naming a pair in
    the message, 5 ERRORs by api:bot naming ETHZAR only in their details."""
    with hx.db.write() as session:
        for i in range(100):
            record_event(
                session,
                ts=T0 + timedelta(minutes=i),
                kind="HEARTBEAT_NOTE",
                message=f"beat {i}",
                actor="scheduler",
            )
        for i in range(15):
            pair = "BTCZAR" if i % 3 else "SOLZAR"
            record_event(
                session,
                ts=T0 + timedelta(hours=3, minutes=i),
                kind="PRICE_STALE",
                severity="WARNING",
                message=f"{pair} price 100% stale_old",
                actor="watchdog",
            )
        for i in range(5):
            record_event(
                session,
                ts=T0 + timedelta(hours=4, minutes=i),
                kind="ORDER_FAILED",
                severity="ERROR",
                message="the venue refused the order",
                actor="api:bot",
                details={"pair": "ETHZAR", "attempt": i},
            )


def test_the_event_log_filters_searches_and_pages_in_sql(book: helios.Helios) -> None:
    before = book.events.query(EventFilter(page_size=500)).total
    events(book)
    everything = book.events.query(EventFilter(page_size=50))
    assert everything.total == before + 120
    assert [e["kind"] for e in everything.events[:5]] == ["ORDER_FAILED"] * 5  # newest first
    page3 = book.events.query(EventFilter(page=3, page_size=50))
    assert page3.page == 3 and len(page3.events) == min(50, everything.total - 100)
    ids = [e["id"] for e in everything.events] + [
        e["id"] for e in book.events.query(EventFilter(page=2, page_size=50)).events
    ]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 100  # no overlap between pages

    def total(**wanted: object) -> int:
        return book.events.query(EventFilter(**wanted)).total  # type: ignore[arg-type]

    assert total(kinds=("PRICE_STALE",)) == 15
    assert total(kinds=("PRICE_STALE", "ORDER_FAILED")) == 20
    assert (
        total(severities=("ERROR",)) >= 5
        and total(severities=("WARNING",), kinds=("PRICE_STALE",)) == 15
    )
    assert total(pair="BTCZAR", kinds=("PRICE_STALE",)) == 10
    assert total(pair="solzar", kinds=("PRICE_STALE",)) == 5
    assert total(pair="ETHZAR", kinds=("ORDER_FAILED",)) == 5  # named in the details only
    assert total(who="API:") == 5  # case-insensitive, contained
    assert total(text="VENUE REFUSED") == 5
    assert total(text="beat 4") == 11  # beat 4, beat 40..49
    assert total(text="100%") == 15  # % is a plain character, not a wildcard
    assert total(text="stale_") == 15 and total(text="pric_") == 0  # _ likewise
    assert total(text="HEARTBEAT_NOTE", who="scheduler") == 100
    assert "ORDER_FAILED" in book.events.kinds() and "api:bot" in book.events.actors()


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"page_size": "50"}, "page_size"),
        ({"severities": ("LOUD",)}, "severities"),
        ({"kinds": ["HALT"]}, "kinds"),
        ({"text": "x" * 201}, "text"),
    ],
)
def test_a_bad_event_filter_is_refused_naming_the_field(
    wanted: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        EventFilter(**wanted)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_unknown_pair_is_refused_by_the_log(hx: helios.Helios) -> None:
    with pytest.raises(InvalidInput) as caught:
        hx.events.query(EventFilter(pair="DOGEZAR"))
    assert caught.value.field == "pair"
