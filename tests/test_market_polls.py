"""A poll of every pair is one moment of the market (``helios.market.polls``): the scheduler's
``hx.market.pull`` reads the newest bars of every pair in one transaction and writes what every
pair's feed call returned in one more, and a pair whose feed fails or whose candles are refused
leaves the others stored. Real SQLite and PostgreSQL, a feed that hands out prepared tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from factories import stored_candles as stored
from factories import transactions

import helios
from helios.clock import ManualClock
from helios.config import FeedKind
from helios.errors import InvalidInput
from helios.market.feeds import Batch, FeedError, MarketFeed

MINUTE = 60
PRICES = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0}


def bars(
    start: datetime, price: float, count: int, *, high_below_low: bool = False
) -> pd.DataFrame:
    """``count`` minute bars from ``start``: open ``price``, close ``price + i``; with
    ``high_below_low`` every high is under its low (candles a feed must never have stored)."""
    closes = [price + i for i in range(count)]
    lows = [price * 0.99] * count
    highs = [
        low * 0.98 if high_below_low else c * 1.01 for c, low in zip(closes, lows, strict=True)
    ]
    return pd.DataFrame(
        {
            "timestamp": [start + timedelta(minutes=i) for i in range(count)],
            "open": [price] * count,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": [1.0] * count,
        }
    )


class PreparedFeed(MarketFeed):
    """Hands out ``tables[pair]`` (a list of (interval, candles)) at each poll; a pair in
    ``failing`` raises ``FeedError`` as a dead source would; remembers what it was asked."""

    kind = FeedKind.MANUAL

    def __init__(
        self, tables: dict[str, list[tuple[int, pd.DataFrame]]], failing: set[str] = frozenset()
    ) -> None:
        self.tables = tables
        self.failing = failing
        self.asked: dict[str, dict[int, datetime]] = {}

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        return []

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        self.asked[pair] = last
        if pair in self.failing:
            raise FeedError("connection refused")
        return [Batch(pair, seconds, table, observed=now) for seconds, table in self.tables[pair]]


def start_of(clock: ManualClock, minutes: int) -> datetime:
    now = clock.now()
    return now.replace(second=0, microsecond=0) - timedelta(minutes=minutes)


def test_a_poll_of_every_pair_is_one_read_and_one_write_transaction(
    hx: helios.Helios, clock: ManualClock
) -> None:
    first = start_of(clock, 5)
    feed = PreparedFeed({pair: [(MINUTE, bars(first, p, 5))] for pair, p in PRICES.items()})
    with transactions(hx) as begun:
        written = hx.market.pull(feed)
    assert written == dict.fromkeys(PRICES, 5)
    # before: a read of the newest bars and a write for each pair (3 and 3)
    assert begun == ["read", "write"], begun
    for pair, price in PRICES.items():
        assert [c.close for c in stored(hx, pair, MINUTE)] == [
            Decimal(str(price + i)) for i in range(5)
        ]
        assert hx.market.latest_price(pair) == Decimal(str(price + 4))
    # the next poll is told each pair's newest bar (read in that one transaction)
    feed.tables = {pair: [] for pair in PRICES}
    hx.market.pull(feed)
    day = first.replace(hour=0, minute=0)  # the minutes roll up into their UTC day
    assert feed.asked == {
        pair: {MINUTE: first + timedelta(minutes=4), 86400: day} for pair in PRICES
    }


def refused_bars(first: datetime, kind: str) -> pd.DataFrame:
    """ETHZAR's three bars spoiled the way ``kind`` says."""
    if kind == "high below low":
        return bars(first, 60_000.0, 3, high_below_low=True)
    table = bars(first, 60_000.0, 3)
    if kind == "volume 1e16":  # beyond the exact columns: was a raw decimal error
        table["volume"] = [1.0, 1e16, 1.0]
    else:  # "price 1e20"
        for column in ("open", "high", "low", "close"):
            table[column] = [1e20] * 3
    return table


REFUSED = {  # kind -> the field the error names
    "high below low": "candles.high[",
    "volume 1e16": "candles.volume[1]",
    "price 1e20": "candles.open[0]",
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_pair_whose_feed_fails_or_whose_candles_are_refused_leaves_the_others_stored(
    hx: helios.Helios, clock: ManualClock, kind: str
) -> None:
    first = start_of(clock, 3)
    tables = {pair: [(MINUTE, bars(first, p, 3))] for pair, p in PRICES.items()}
    tables["ETHZAR"] = [(MINUTE, refused_bars(first, kind))]
    feed = PreparedFeed(tables, failing={"SOLZAR"})
    with pytest.raises(FeedError) as failed:
        hx.market.pull(feed)
    message = str(failed.value)
    assert f"ETHZAR: {REFUSED[kind]}" in message, message  # the pair and the field named
    assert "SOLZAR: connection refused" in message, message
    assert len(stored(hx, "BTCZAR", MINUTE)) == 3
    assert hx.market.latest_price("BTCZAR") == Decimal("1200002")
    for pair in ("ETHZAR", "SOLZAR"):
        assert stored(hx, pair, MINUTE) == []
        assert hx.market.latest_price(pair) is None


def test_a_candle_beyond_the_exact_columns_is_refused_naming_the_field(
    hx: helios.Helios, clock: ManualClock
) -> None:
    """``ingest`` (and so a poll) names the field, the value and the range, and stores nothing
    (before: ``decimal.InvalidOperation`` from the rounding, naming nothing)."""
    table = refused_bars(start_of(clock, 3), "volume 1e16")
    with pytest.raises(InvalidInput) as refused:
        hx.market.ingest("ETHZAR", table, interval="1m")
    assert refused.value.field == "candles.volume[1]"
    assert "1e+15" in str(refused.value.allowed) or "1000000000000000" in str(
        refused.value.allowed
    ), refused.value.allowed
    assert stored(hx, "ETHZAR", MINUTE) == []


def test_a_pairs_batches_before_a_refused_one_are_stored(
    hx: helios.Helios, clock: ManualClock
) -> None:
    """What a pair's feed returned before its refused batch is stored (as when each pair was
    written alone); what came after it is not."""
    first = start_of(clock, 3)
    tables = {pair: [(MINUTE, bars(first, p, 3))] for pair, p in PRICES.items()}
    later = start_of(clock, 0).replace(minute=0) - timedelta(hours=1)
    tables["ETHZAR"] = [
        (MINUTE, bars(first, 60_000.0, 3)),
        (3600, bars(later, 60_000.0, 1, high_below_low=True)),
        (3600, bars(later - timedelta(hours=1), 60_000.0, 1)),
    ]
    with pytest.raises(FeedError, match=r"ETHZAR: candles\.high\["):
        hx.market.pull(PreparedFeed(tables))
    assert len(stored(hx, "ETHZAR", MINUTE)) == 3
    assert stored(hx, "ETHZAR", 3600) == []
    for pair in ("BTCZAR", "SOLZAR"):
        assert len(stored(hx, pair, MINUTE)) == 3


def test_a_pairs_batches_of_one_poll_are_stored_in_their_order(
    hx: helios.Helios, clock: ManualClock
) -> None:
    """A pair's minute bars and then an hourly bar (a feed that reports both): each interval
    stored, and the minutes' day roll-up written before the hour's (their order in the poll)."""
    hour = start_of(clock, 0).replace(minute=0) - timedelta(hours=1)
    minutes = bars(hour, 100.0, 3)
    hourly = bars(hour, 100.0, 1)
    hourly["high"], hourly["low"], hourly["close"] = [150.0], [90.0], [120.0]
    feed = PreparedFeed(
        {
            "BTCZAR": [(MINUTE, minutes), (3600, hourly)],
            "ETHZAR": [(MINUTE, bars(hour, 60.0, 2))],
            "SOLZAR": [],
        }
    )
    with transactions(hx) as begun:
        assert hx.market.pull(feed) == {"BTCZAR": 4, "ETHZAR": 2}
    assert begun == ["read", "write"], begun
    assert len(stored(hx, "BTCZAR", MINUTE)) == 3
    assert [c.close for c in stored(hx, "BTCZAR", 3600)] == [Decimal("120")]
    # the day's candle: its high from the hour written last, the close of the last write
    (day,) = stored(hx, "BTCZAR", 86400)
    assert day.high == Decimal("150") and day.close == Decimal("120")
    assert hx.market.latest_price("BTCZAR") == Decimal("120")


def test_a_clock_that_steps_back_during_a_poll_fails_it_as_a_feed_error(
    hx: helios.Helios, clock: ManualClock
) -> None:
    """The write checks the bars again against the clock at the write: a clock stepped back
    between the feed's calls and the write fails the poll as a ``FeedError`` the scheduler
    records (not an ``InvalidInput`` that skipped its feed-failure rule), and stores nothing."""
    first = start_of(clock, 3)
    feed = PreparedFeed({pair: [(MINUTE, bars(first, p, 3))] for pair, p in PRICES.items()})
    polled = feed.poll

    def poll_then_step_back(pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        batches = polled(pair, now, last)
        if pair == "SOLZAR":  # after every pair was checked: the clock goes back 10 minutes
            clock.set(now - timedelta(minutes=10))
        return batches

    feed.poll = poll_then_step_back  # type: ignore[method-assign]
    with pytest.raises(FeedError, match=r"the poll's write: candles\.timestamp"):
        hx.market.pull(feed)
    for pair in PRICES:
        assert stored(hx, pair, MINUTE) == []
