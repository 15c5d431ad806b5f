"""Every read of a pair's candles over a span seeks by time (issue 19, migration 0009).

The unique index (pair, interval_seconds, ts) serves a read only when it names the interval. The
stop monitor's bars, its current bar when a feed has no one-minute bars (a replay of 5m candles),
and the valuation's price at the start of the trading day ask for every intraday interval in a
span (``interval_seconds < DAY``): with that index alone SQLite reads every intraday bar the pair
ever stored and filters the span, so a replay's step grew from 16 ms in January to 39 ms in
December, and a scheduler's passes slow down as its bars accumulate. ``ix_candles_pair_ts`` lets
each of them seek to its span.

The proof does not time anything: it records every statement on ``candles`` that a monitor pass,
a valuation and a watchdog pass make on a book priced by 5m bars only, and asks SQLite for each
one's plan: each must search an index by time (``ts``), never by pair and interval alone. The
feed's question at every poll, the newest bar of each interval, must seek each interval.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from factories import (
    HISTORY_DAYS,
    PRICES,
    SEED_REASONING,
    SEED_TRADE,
    connect_book,
    daily_history,
)
from sqlalchemy import event

import helios
from helios.clock import ManualClock
from helios.market.bar_time import floor_time
from tests.conftest import START

FIVE_MINUTES = timedelta(minutes=5)
DAY = timedelta(days=1)
INDEX_SEARCH = re.compile(r"SEARCH candles USING (?:COVERING )?INDEX (\S+) \((.*)\)")


def five_minute_bars(pair: str, end: Any, days: int) -> pd.DataFrame:
    """``days`` of flat 5m bars at the pair's price, the last one ending at ``end``."""
    count = days * 288
    first = floor_time(end, 300) - FIVE_MINUTES * count
    price = float(PRICES[pair])
    return pd.DataFrame(
        {
            "timestamp": [first + FIVE_MINUTES * i for i in range(count)],
            "open": price,
            "high": price * 1.001,
            "low": price * 0.999,
            "close": price,
            "volume": 1.0,
        }
    )


@contextmanager
def candle_reads(hx: helios.Helios) -> Iterator[list[tuple[str, Any]]]:
    """The statements reading ``candles`` that ``hx`` runs inside the block, with their
    parameters as the driver got them."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM candles" in statement:
            seen.append((statement, parameters))

    event.listen(hx.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(hx.db.engine, "before_cursor_execute", record)


def plan(path: Path, statement: str, parameters: Any) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def test_the_monitor_the_opening_and_the_valuation_read_a_pairs_bars_by_time(tmp_path: Path):
    path = tmp_path / "book.sqlite"
    clock = ManualClock(START)
    with connect_book(f"sqlite:///{path}", clock) as hx:
        for pair in ("BTCZAR", "ETHZAR"):  # daily history and 5m bars: no one-minute bar
            history = daily_history(pair, float(PRICES[pair]), HISTORY_DAYS, START - DAY)
            hx.market.ingest(pair, history, "1d", source="test")
            hx.market.ingest(pair, five_minute_bars(pair, START, days=3), "5m", source="test")
        with candle_reads(hx) as reads:
            # the open records the bar it filled in (its current bar, from 5m bars)
            opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
            assert opened["success"], opened
            clock.advance(FIVE_MINUTES)
            hx.market.ingest("BTCZAR", five_minute_bars("BTCZAR", clock.now(), 1), "5m")
            hx.positions.monitor_positions()  # the bars since its last look
            # the next trading day before its roll: the equity at its start is rebuilt from the
            # close at the boundary (Johannesburg's midnight, 22:00 UTC)
            clock.set(START.replace(hour=23))
            for pair in ("BTCZAR", "ETHZAR"):
                hx.market.ingest(pair, five_minute_bars(pair, clock.now(), 1), "5m")
            hx.ledger.valuation()
            hx.halts.check()

    spans = {s for s, _ in reads if "interval_seconds <" in s}
    assert len(spans) >= 3, reads  # the current bar, the monitor's bars, the day-start price
    for statement, parameters in reads:
        steps = plan(path, statement, parameters)
        found = [m for m in map(INDEX_SEARCH.search, steps) if m is not None]
        assert found, (statement, steps)
        for match in found:
            index, constraint = match.groups()
            assert re.search(r"\bts\b", constraint), (statement, index, constraint)


def test_a_feeds_newest_bar_of_each_interval_is_one_seek_per_interval(tmp_path: Path):
    """``newest_candle_times`` (a feed asks at every poll, for each pair) used to group every
    bar the pair stored by interval; now one index seek per interval, the same answer."""
    path = tmp_path / "book.sqlite"
    clock = ManualClock(START)
    with connect_book(f"sqlite:///{path}", clock) as hx:
        history = daily_history("BTCZAR", float(PRICES["BTCZAR"]), HISTORY_DAYS, START - DAY)
        hx.market.ingest("BTCZAR", history, "1d", source="test")
        hx.market.ingest("BTCZAR", five_minute_bars("BTCZAR", START, days=2), "5m", source="test")
        hx.market.set_price("BTCZAR", PRICES["BTCZAR"])  # a one-minute bar
        with candle_reads(hx) as reads:
            newest = {pair: hx.market.newest_candle_times(pair) for pair in ("BTCZAR", "ETHZAR")}

    with sqlite3.connect(path) as connection:  # the answer, the way it was asked before
        grouped = connection.execute(
            "SELECT interval_seconds, max(ts) FROM candles WHERE pair = ? GROUP BY 1", ("BTCZAR",)
        ).fetchall()
    assert sorted(newest["BTCZAR"]) == sorted(int(i) for i, _ in grouped) == [60, 300, 86400]
    for interval, ts in grouped:
        assert newest["BTCZAR"][int(interval)].strftime("%Y-%m-%d %H:%M:%S") == ts[:19]
    assert newest["ETHZAR"] == {}
    assert reads
    for statement, parameters in reads:
        steps = plan(path, statement, parameters)
        searches = [m for m in map(INDEX_SEARCH.search, steps) if m is not None]
        assert searches and all("interval_seconds=?" in m.group(2) for m in searches), steps
