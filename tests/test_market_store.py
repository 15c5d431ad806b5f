"""The market store (``hx.market``): candles and latest prices in the real database.

Every test runs on SQLite and on PostgreSQL (the ``hx`` fixture). Prices go in as candle tables
(``ingest``) or single trades (``set_price``) and are read back exactly (``Decimal``) from the
database, never from a mock.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from factories import stored_candles as stored
from sqlalchemy import func, select

import helios
from helios.clock import ManualClock
from helios.db.models import Candle, LatestPrice, PriceTick
from helios.errors import InvalidInput

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
D0 = datetime(2026, 11, 20, tzinfo=UTC)  # a UTC midnight a few days before the test clock


def frame(
    start: datetime, step: timedelta, closes: list[Any], **columns: list[Any]
) -> pd.DataFrame:
    """Candles whose open = previous close, high/low 1% around, volume 10 unless given."""
    opens = columns.pop("open", [closes[0], *closes[:-1]])
    data = {
        "timestamp": [start + step * i for i in range(len(closes))],
        "open": opens,
        "high": columns.pop(
            "high", [max(float(o), float(c)) * 1.01 for o, c in zip(opens, closes, strict=True)]
        ),
        "low": columns.pop(
            "low", [min(float(o), float(c)) * 0.99 for o, c in zip(opens, closes, strict=True)]
        ),
        "close": closes,
        "volume": columns.pop("volume", [10.0] * len(closes)),
    }
    return pd.DataFrame(data)


def one(hx: helios.Helios, pair: str, seconds: int, ts: datetime) -> Candle:
    matches = [candle for candle in stored(hx, pair, seconds) if candle.ts == ts]
    assert len(matches) == 1, f"expected one {seconds}s candle at {ts}, found {len(matches)}"
    return matches[0]


def row_counts(hx: helios.Helios) -> tuple[int, int]:
    """(candles, latest prices) rows: proves that a refused input wrote nothing."""
    with hx.db.read() as session:
        candles = session.scalar(select(func.count()).select_from(Candle))
        latest = session.scalar(select(func.count()).select_from(LatestPrice))
    return int(candles or 0), int(latest or 0)


# --- exact storage -------------------------------------------------------------------------------
def test_prices_with_eight_decimals_round_trip_exactly_from_floats_and_text(
    hx: helios.Helios,
) -> None:
    floats = pd.DataFrame(
        {
            "timestamp": [D0, D0 + DAY],
            "open": [1234567.12345678, 1234567.5],
            "high": [1234999.99999999, 1234999.0],
            "low": [1234000.00000001, 1234000.0],
            "close": [1234567.5, 1234567.12345678],
            "volume": [0.123456789012, 3.0],
        }
    )
    text = frame(
        D0,
        HOUR,
        ["1234567.12345678", "1234568.87654321"],
        open=["1234566.00000001", "1234567.12345678"],
        high=["1234570", "1234570"],
        low=["1234560", "1234560"],
        volume=["0.000000000001", "12.5"],
    )
    assert hx.market.ingest("BTCZAR", floats) == 2
    assert hx.market.ingest("ETHZAR", text) == 2

    first, second = stored(hx, "BTCZAR", 86400)
    assert first.open == Decimal("1234567.12345678")
    assert str(first.open) == "1234567.12345678"
    assert first.high == Decimal("1234999.99999999")
    assert first.low == Decimal("1234000.00000001")
    assert first.volume == Decimal("0.123456789012")
    assert second.close == Decimal("1234567.12345678")
    assert hx.market.latest_price("BTCZAR") == Decimal("1234567.12345678")
    first, second = stored(hx, "ETHZAR", 3600)
    assert (first.open, first.close) == (Decimal("1234566.00000001"), Decimal("1234567.12345678"))
    assert first.volume == Decimal("0.000000000001")
    assert second.close == Decimal("1234568.87654321")

    # numpy numbers in an object column (a table assembled from numpy values)
    numpy_values = frame(D0, HOUR, [2500.12345678, 2501.5])
    numpy_values["close"] = pd.Series([np.float64(2500.12345678), np.float64(2501.5)], dtype=object)
    hx.market.ingest("SOLZAR", numpy_values)
    assert [c.close for c in stored(hx, "SOLZAR", 3600)] == [
        Decimal("2500.12345678"),
        Decimal("2501.5"),
    ]


def test_reingesting_the_same_candles_replaces_them_instead_of_duplicating(
    hx: helios.Helios,
) -> None:
    hx.market.ingest("ETHZAR", frame(D0, HOUR, [60000, 60100, 60200]))
    corrected = frame(D0, HOUR, [60000, 60150, 60250])

    assert hx.market.ingest("ETHZAR", corrected) == 3

    candles = stored(hx, "ETHZAR", 3600)
    assert [candle.ts for candle in candles] == [D0, D0 + HOUR, D0 + 2 * HOUR]
    assert [candle.close for candle in candles] == [60000, 60150, 60250]
    assert row_counts(hx)[0] == 3 + 1  # three hourly candles and their one daily candle


def test_the_interval_is_inferred_from_the_timestamps(hx: helios.Helios) -> None:
    for step, seconds in ((DAY, 86400), (HOUR, 3600), (5 * MINUTE, 300), (MINUTE, 60)):
        hx.market.ingest("SOLZAR", frame(D0, step, [2500, 2510, 2490, 2505]))
        assert len(stored(hx, "SOLZAR", seconds)) == 4, seconds
        assert hx.market.newest_candle_times("SOLZAR")[seconds] == D0 + 3 * step
    assert set(hx.market.newest_candle_times("SOLZAR")) == {60, 300, 3600, 86400}

    # the most common step wins over a gap
    table = frame(D0, 15 * MINUTE, [100, 101, 102, 103, 104])
    table.loc[4, "timestamp"] = D0 + 9 * HOUR
    hx.market.ingest("ETHZAR", table)
    assert [c.ts for c in stored(hx, "ETHZAR", 900)][-2:] == [D0 + 45 * MINUTE, D0 + 9 * HOUR]


def test_a_given_interval_is_used_and_a_lone_candle_is_otherwise_a_day(hx: helios.Helios) -> None:
    for hour, interval in enumerate(["1h", 3600, "60m", "3600s"]):
        hx.market.ingest("BTCZAR", frame(D0 + hour * HOUR, HOUR, [1_200_000]), interval=interval)
    assert [c.ts for c in stored(hx, "BTCZAR", 3600)] == [D0 + h * HOUR for h in range(4)]
    assert hx.market.candles("BTCZAR", "1h")["close"].tolist() == [1_200_000.0] * 4

    hx.market.ingest("ETHZAR", frame(D0, DAY, [60_000]))
    assert [c.ts for c in stored(hx, "ETHZAR", 86400)] == [D0]
    assert stored(hx, "ETHZAR", 3600) == []


# --- the daily roll-up ---------------------------------------------------------------------------
def test_hourly_candles_roll_up_into_the_daily_candle_of_their_utc_day(hx: helios.Helios) -> None:
    start = D0 + 21 * HOUR  # 21:00, 22:00, 23:00 | 00:00, 01:00 the next UTC day
    table = frame(
        start,
        HOUR,
        [101, 99, 104, 103, 107],
        open=[100, 101, 99, 104, 103],
        high=[102, 103, 105, 106, 108],
        low=[99, 97, 98, 101, 102],
        volume=[1.5, 2.25, 3, 4, 5.125],
    )
    hx.market.ingest("BTCZAR", table)

    first = one(hx, "BTCZAR", 86400, D0)
    assert (first.open, first.high, first.low, first.close) == (100, 105, 97, 104)
    assert first.volume == Decimal("6.75")
    second = one(hx, "BTCZAR", 86400, D0 + DAY)
    assert (second.open, second.high, second.low, second.close) == (104, 108, 101, 107)
    assert second.volume == Decimal("9.125")


def test_later_hours_extend_the_days_high_low_close_and_volume(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0, HOUR, [100, 102], high=[101, 103], low=[99, 100]))
    hx.market.ingest(
        "BTCZAR", frame(D0 + 2 * HOUR, HOUR, [96, 98], open=[102, 96], high=[102, 99], low=[95, 96])
    )

    day = one(hx, "BTCZAR", 86400, D0)
    assert (day.open, day.high, day.low, day.close, day.volume) == (100, 103, 95, 98, 40)


def test_reingesting_an_hourly_bar_changes_the_daily_volume_by_the_difference(
    hx: helios.Helios,
) -> None:
    hx.market.ingest("BTCZAR", frame(D0, HOUR, [100, 101, 102], volume=[10, 20, 30]))
    assert one(hx, "BTCZAR", 86400, D0).volume == 60

    hx.market.ingest("BTCZAR", frame(D0 + HOUR, HOUR, [101], volume=[25]), interval="1h")
    assert one(hx, "BTCZAR", 86400, D0).volume == 65  # 60 - 20 + 25, not 60 + 25

    hx.market.ingest("BTCZAR", frame(D0 + HOUR, HOUR, [101], volume=[5]), interval="1h")
    assert one(hx, "BTCZAR", 86400, D0).volume == 45


def test_an_older_hour_ingested_later_does_not_replace_the_days_close(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0 + 10 * HOUR, HOUR, [110, 111]))
    hx.market.ingest("BTCZAR", frame(D0 + 2 * HOUR, HOUR, [90], open=[89]), interval="1h")

    day = one(hx, "BTCZAR", 86400, D0)
    assert day.close == 111
    assert day.low == Decimal("88.11")  # 89 x 0.99: the older hour still widens the range


def test_earlier_hours_ingested_later_give_the_day_its_real_open(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0 + 12 * HOUR, HOUR, [120, 121], open=[119, 120]))
    hx.market.ingest("BTCZAR", frame(D0 + 9 * HOUR, HOUR, [110, 115], open=[105, 110]))
    day = one(hx, "BTCZAR", 86400, D0)
    assert day.open == 105  # the 09:00 open, not the 12:00 one
    assert day.close == 121

    # a table that starts earlier still and overlaps what is stored (07:00 to 13:00)
    hx.market.ingest("BTCZAR", frame(D0 + 7 * HOUR, HOUR, [103, 104, 110, 115, 117, 120, 121]))
    day = one(hx, "BTCZAR", 86400, D0)
    assert (day.open, day.close) == (103, 121)
    hx.market.ingest("BTCZAR", frame(D0, HOUR, [98], open=[97]), interval="1h")  # midnight
    assert one(hx, "BTCZAR", 86400, D0).open == 97


def test_minute_bars_after_a_daily_history_keep_the_days_open(hx: helios.Helios) -> None:
    # a complete day from a daily source, then the last minutes of that day arrive late ...
    hx.market.ingest("BTCZAR", frame(D0, DAY, [130], open=[100], high=[140], low=[90]))
    hx.market.ingest("BTCZAR", frame(D0 + 23 * HOUR + 58 * MINUTE, MINUTE, [131, 132]))
    day = one(hx, "BTCZAR", 86400, D0)
    assert (day.open, day.high, day.low, day.close) == (100, 140, 90, 132)

    # ... and the last one is fetched again (as the VALR feed does with the newest bucket)
    hx.market.ingest("BTCZAR", frame(D0 + 23 * HOUR + 59 * MINUTE, MINUTE, [133]), interval="1m")
    day = one(hx, "BTCZAR", 86400, D0)
    assert (day.open, day.close) == (100, 133)


# --- the latest price ----------------------------------------------------------------------------
def test_the_latest_price_follows_the_newest_candle(hx: helios.Helios, clock: ManualClock) -> None:
    hx.market.ingest("ETHZAR", frame(D0, HOUR, [60000, 60500, 61000]))

    assert hx.market.latest_price("ETHZAR") == 61000
    table = hx.market.price_table().set_index("pair")
    assert table.loc["ETHZAR", "price"] == 61000
    # a finished historical bar is observed at its end, received now; its age runs from the
    # observation, so ingested history never looks fresh (issue 14)
    assert table.loc["ETHZAR", "observed_at"] == D0 + 3 * HOUR
    assert table.loc["ETHZAR", "received_at"] == clock.now()
    assert table.loc["ETHZAR", "age_seconds"] == (clock.now() - (D0 + 3 * HOUR)).total_seconds()
    assert table.loc["ETHZAR", "source"] == "ingest"
    assert pd.isna(table.loc["BTCZAR", "price"])
    assert hx.market.latest_prices() == {"ETHZAR": Decimal(61000)}


def test_an_older_candle_ingested_later_does_not_move_the_latest_price_back(
    hx: helios.Helios,
) -> None:
    hx.market.ingest("ETHZAR", frame(D0 + 5 * HOUR, HOUR, [61000, 62000]))
    hx.market.ingest("ETHZAR", frame(D0, HOUR, [50000, 51000]))

    assert hx.market.latest_price("ETHZAR") == 62000


def test_a_newer_candle_of_another_interval_moves_the_latest_price(hx: helios.Helios) -> None:
    hx.market.ingest("ETHZAR", frame(D0, DAY, [60000, 61000]))  # observed at the end of day 2
    hx.market.ingest("ETHZAR", frame(D0 + DAY + 20 * HOUR, HOUR, [61500]), interval="1h")
    assert hx.market.latest_price("ETHZAR") == 61000  # 21:00 of day 2 < the end of day 2

    hx.market.ingest("ETHZAR", frame(D0 + 2 * DAY, HOUR, [62000]), interval="1h")
    assert hx.market.latest_price("ETHZAR") == 62000


def _market_tables(hx: helios.Helios) -> tuple[list[tuple[Any, ...]], ...]:
    """Every candle, latest price and price tick, by value (ids left out), in a fixed order."""
    with hx.db.read() as session:
        candles = [
            (c.pair, c.interval_seconds, c.ts, c.open, c.high, c.low, c.close, c.volume, c.source)
            for c in session.scalars(
                select(Candle).order_by(Candle.pair, Candle.interval_seconds, Candle.ts)
            )
        ]
        latest = [
            (p.pair, p.price, p.ts, p.received_at, p.source)
            for p in session.scalars(select(LatestPrice).order_by(LatestPrice.pair))
        ]
        ticks = [
            (t.pair, t.ts, t.price)
            for t in session.scalars(select(PriceTick).order_by(PriceTick.pair, PriceTick.id))
        ]
    return candles, latest, ticks


def test_one_write_for_every_pair_stores_exactly_what_a_write_per_pair_stores(
    hx: helios.Helios, clock: ManualClock, tmp_path: Any
) -> None:
    """``write_candle_batches`` (a replay's write of one moment) against ``write_candles`` per
    pair, on the same rows: a daily history to roll into, pairs of different spans, a bar
    written at its open then whole (an update, the day's open kept), a write across midnight
    (two days rolled), an older bar that must not move the latest price back."""
    from helios.market.candles import CandleRow

    def rows(pair: str, start: datetime, count: int, base: float) -> list[CandleRow]:
        out = []
        for i in range(count):
            o = Decimal(str(round(base + i, 2)))
            out.append(CandleRow(start + i * MINUTE, o, o + 2, o - 1, o + 1, Decimal("0.5")))
        return out

    night = D0 + 2 * DAY - 3 * MINUTE  # three minutes before a UTC midnight
    moments = [  # (observed, {pair: rows}); each a write of one moment
        (night, {"BTCZAR": [CandleRow(night, *[Decimal(100)] * 4, Decimal(0))]}),  # its open
        (
            night + 5 * MINUTE,
            {
                "BTCZAR": rows("BTCZAR", night, 5, 100),  # the bar at its open, now whole
                "ETHZAR": rows("ETHZAR", night + MINUTE, 2, 50),
                "SOLZAR": rows("SOLZAR", night + 2 * MINUTE, 3, 7),
            },
        ),
        # a late write of what was observed earlier: it never moves the latest price back
        (night + 4 * MINUTE, {"ETHZAR": rows("ETHZAR", night - 10 * MINUTE, 1, 40)}),
    ]
    per_pair = helios.connect(
        f"sqlite:///{tmp_path / 'per-pair.db'}", clock=clock, market_feed="manual"
    )
    try:
        for target in (hx, per_pair):  # the same daily history first
            target.market.ingest("BTCZAR", frame(D0, DAY, [90, 95]))
        for observed, batch in moments:
            clock.set(max(clock.now(), observed))
            with hx.db.write() as session:
                written = hx.market.write_candle_batches(
                    session, 60, batch, "replay", observed=observed
                )
            assert written == {pair: len(r) for pair, r in batch.items()}
            with per_pair.db.write() as session:
                for pair, pair_rows in batch.items():
                    per_pair.market.write_candles(
                        session, pair, 60, pair_rows, "replay", observed=observed
                    )
        assert _market_tables(hx) == _market_tables(per_pair)
        candles, latest, ticks = _market_tables(hx)
        assert len({c[2] for c in candles if c[1] == 86400 and c[0] == "BTCZAR"}) == 3
        assert [p[1] for p in latest] == [Decimal(105), Decimal(52), Decimal(10)]
        assert ticks  # what each write observed
    finally:
        per_pair.close()


# --- set_price -----------------------------------------------------------------------------------
def test_set_price_updates_the_minute_candle_high_low_and_close(
    hx: helios.Helios, clock: ManualClock
) -> None:
    minute = clock.now()
    for seconds, value in ((5, "1200000"), (20, "1215000.5"), (40, "1190000"), (50, "1201000")):
        clock.set(minute + timedelta(seconds=seconds))
        assert hx.market.set_price("BTCZAR", value) == Decimal(value)

    candle = one(hx, "BTCZAR", 60, minute)
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal("1200000"),
        Decimal("1215000.5"),
        Decimal("1190000"),
        Decimal("1201000"),
    )
    assert hx.market.latest_price("BTCZAR") == Decimal("1201000")
    day = one(hx, "BTCZAR", 86400, datetime(2026, 11, 26, tzinfo=UTC))
    assert (day.high, day.low, day.close) == (
        Decimal("1215000.5"),
        Decimal("1190000"),
        Decimal("1201000"),
    )
    latest = hx.market.price_table().set_index("pair").loc["BTCZAR"]
    assert latest["observed_at"] == minute + timedelta(seconds=50)
    assert latest["source"] == "manual"

    clock.set(minute + timedelta(seconds=65))  # the next minute opens a new candle
    hx.market.set_price("BTCZAR", 1_205_000)
    assert [(c.ts, c.open, c.close) for c in stored(hx, "BTCZAR", 60)] == [
        (minute, 1_200_000, 1_201_000),
        (minute + MINUTE, 1_205_000, 1_205_000),
    ]


def test_set_price_in_the_past_does_not_move_the_latest_price_backwards(
    hx: helios.Helios, clock: ManualClock
) -> None:
    hx.market.set_price("BTCZAR", 1_200_000)
    earlier = clock.now() - timedelta(minutes=10)

    hx.market.set_price("BTCZAR", 1_100_000, ts=earlier)

    assert hx.market.latest_price("BTCZAR") == 1_200_000
    assert one(hx, "BTCZAR", 60, earlier).close == 1_100_000  # the past minute is recorded
    day = one(hx, "BTCZAR", 86400, datetime(2026, 11, 26, tzinfo=UTC))
    assert (day.close, day.low) == (1_200_000, 1_100_000)


def test_set_price_earlier_in_the_same_minute_keeps_the_newer_close(
    hx: helios.Helios, clock: ManualClock
) -> None:
    clock.set(clock.now() + timedelta(seconds=30))
    hx.market.set_price("BTCZAR", 1_200_000)

    hx.market.set_price("BTCZAR", 1_150_000, ts=clock.now() - timedelta(seconds=20))

    candle = one(hx, "BTCZAR", 60, clock.now() - timedelta(seconds=30))
    assert (candle.low, candle.close) == (1_150_000, 1_200_000)
    assert hx.market.latest_price("BTCZAR") == 1_200_000


def test_set_price_takes_text_and_numpy_numbers_and_rounds_to_eight_decimals(
    hx: helios.Helios,
) -> None:
    assert hx.market.set_price("ETHZAR", "60000.123456789") == Decimal("60000.12345679")
    assert hx.market.latest_price("ETHZAR") == Decimal("60000.12345679")
    closes = pd.Series([2500.25, 2501.75])  # a notebook passes a value out of pandas
    assert hx.market.set_price("SOLZAR", closes.to_numpy()[-1]) == Decimal("2501.75")
    assert hx.market.set_price("BTCZAR", np.int64(1_200_000)) == Decimal(1_200_000)


# --- returns -------------------------------------------------------------------------------------
def test_log_and_simple_returns_match_a_hand_computation(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0 - 3 * DAY, DAY, [100, 110, 99, 123.75]))

    log_returns = hx.market.returns("BTCZAR")
    simple = hx.market.returns("BTCZAR", kind="simple")

    assert list(log_returns.index) == [D0 - 2 * DAY, D0 - DAY, D0]
    assert log_returns.name == "BTCZAR"
    assert log_returns.to_numpy() == pytest.approx(
        [math.log(1.1), math.log(0.9), math.log(1.25)], abs=1e-12
    )
    assert simple.to_numpy() == pytest.approx([0.1, -0.1, 0.25], abs=1e-12)
    assert hx.market.returns("BTCZAR", lookback=2).to_numpy() == pytest.approx(
        [math.log(0.9), math.log(1.25)], abs=1e-12
    )


def test_hourly_returns_come_from_the_hourly_candles(hx: helios.Helios) -> None:
    hx.market.ingest("ETHZAR", frame(D0, HOUR, [100, 105, 84]))

    assert hx.market.returns("ETHZAR", "1h", kind="simple").to_numpy() == pytest.approx(
        [0.05, -0.2], abs=1e-12
    )
    assert hx.market.returns("ETHZAR", "1d").empty  # one daily candle: no daily return yet


def test_returns_frame_aligns_the_pairs_on_their_common_days(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0 - 4 * DAY, DAY, [100, 101, 102, 103, 104]))
    hx.market.ingest("ETHZAR", frame(D0 - 3 * DAY, DAY, [50, 55, 44, 44, 66]))

    table = hx.market.returns_frame(["BTCZAR", "ETHZAR"])

    assert list(table.columns) == ["BTCZAR", "ETHZAR"]
    assert list(table.index) == [D0 - 2 * DAY, D0 - DAY, D0]
    assert table["BTCZAR"].to_numpy() == pytest.approx(
        np.log([102 / 101, 103 / 102, 104 / 103]), abs=1e-12
    )
    assert table["ETHZAR"].to_numpy() == pytest.approx(np.log([55 / 50, 44 / 55, 1.0]), abs=1e-12)
    assert list(hx.market.returns_frame().columns) == ["BTCZAR", "ETHZAR", "SOLZAR"]
    assert hx.market.returns_frame().empty  # SOLZAR has no candles


def test_history_days_counts_the_daily_candles(hx: helios.Helios) -> None:
    assert hx.market.history_days("BTCZAR") == 0
    hx.market.ingest("BTCZAR", frame(D0 - 9 * DAY, DAY, list(range(100, 110))))
    hx.market.ingest("BTCZAR", frame(D0 + DAY, HOUR, [120, 121]))  # rolls up into one more day

    assert hx.market.history_days("BTCZAR") == 11
    assert hx.market.history_days("ETHZAR") == 0


def test_candles_are_read_in_time_order_with_range_and_limit(hx: helios.Helios) -> None:
    hx.market.ingest("BTCZAR", frame(D0, HOUR, [100, 101, 102, 103, 104]))

    table = hx.market.candles("BTCZAR", "1h")
    assert list(table.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert table["close"].tolist() == [100, 101, 102, 103, 104]
    ranged = hx.market.candles("BTCZAR", "1h", start=D0 + HOUR, end=D0 + 3 * HOUR)
    assert ranged["close"].tolist() == [101, 102, 103]
    assert hx.market.candles("BTCZAR", "1h", limit=2)["close"].tolist() == [103, 104]
    assert hx.market.candles("BTCZAR", "5m").empty


# --- retention -----------------------------------------------------------------------------------
def test_prune_intraday_deletes_old_intraday_candles_and_keeps_the_daily_ones(
    hx: helios.Helios, clock: ManualClock
) -> None:
    old_day = datetime(2026, 10, 1, tzinfo=UTC)  # 56 days before the clock; retention is 30
    hx.market.ingest("BTCZAR", frame(old_day, HOUR, [100, 101, 102]))
    hx.market.ingest("BTCZAR", frame(old_day, DAY, [100]), interval="1d")
    hx.market.set_price("BTCZAR", 1_200_000)  # a fresh minute candle (today)

    assert hx.market.prune_intraday() == 3

    assert stored(hx, "BTCZAR", 3600) == []
    assert [c.ts for c in stored(hx, "BTCZAR", 60)] == [clock.now()]
    assert [c.ts for c in stored(hx, "BTCZAR", 86400)] == [
        old_day,
        datetime(2026, 11, 26, tzinfo=UTC),
    ]

    hx.market.ingest("ETHZAR", frame(clock.now() - 5 * HOUR, HOUR, [1, 2, 3, 4, 5]))
    assert hx.market.prune_intraday(older_than=clock.now() - 2 * HOUR) == 3
    kept = [c.ts for c in stored(hx, "ETHZAR", 3600)]
    assert kept == [clock.now() - 2 * HOUR, clock.now() - HOUR]
    assert len(stored(hx, "ETHZAR", 86400)) == 1


# --- bad input: InvalidInput naming the field, nothing written -----------------------------------
# Each test below walks through its cases on one database (a fresh database per case would make the
# suite slow) and reports every case that went wrong, by name.
def _good() -> pd.DataFrame:
    return frame(D0, HOUR, [100.0, 101.0, 102.0])


def _with(column: str, row: int, value: Any) -> pd.DataFrame:
    table = _good().astype({column: object})
    table.loc[row, column] = value
    return table


def _bad_row_among_many() -> pd.DataFrame:
    table = frame(D0, HOUR, [100.0] * 50)
    table.loc[37, "close"] = -1.0
    return table


BAD_CANDLES: dict[str, tuple[Any, Any, dict[str, Any], str]] = {
    # case: (pair, candles, ingest keywords, the field the error names)
    "unknown pair": ("BTCUSD", _good(), {}, "pair"),
    "pair not text": (42, _good(), {}, "pair"),
    "NaN close": ("BTCZAR", _with("close", 1, float("nan")), {}, "candles.close[1]"),
    "infinite high": ("BTCZAR", _with("high", 2, float("inf")), {}, "candles.high[2]"),
    "negative open": ("BTCZAR", _with("open", 0, -5.0), {}, "candles.open[0]"),
    "zero low": ("BTCZAR", _with("low", 1, 0), {}, "candles.low[1]"),
    "negative volume": ("BTCZAR", _with("volume", 2, -1), {}, "candles.volume[2]"),
    "text price": ("BTCZAR", _with("close", 0, "abc"), {}, "candles.close[0]"),
    "empty price": ("BTCZAR", _with("close", 0, None), {}, "candles.close[0]"),
    "one bad row of fifty": ("BTCZAR", _bad_row_among_many(), {}, "candles.close[37]"),
    "high below low": ("BTCZAR", _with("high", 1, 50.0), {}, "candles.high"),
    "low above close": ("BTCZAR", _with("low", 1, 101.5), {}, "candles.low"),
    "duplicate times": ("BTCZAR", _with("timestamp", 2, D0 + HOUR), {}, "candles.timestamp"),
    "unparseable time": ("BTCZAR", _with("timestamp", 1, "yesterday"), {}, "candles.timestamp"),
    "missing time": ("BTCZAR", _with("timestamp", 1, None), {}, "candles.timestamp"),
    "missing column": ("BTCZAR", _good().drop(columns=["volume"]), {}, "candles.columns"),
    "empty table": ("BTCZAR", _good().iloc[0:0], {}, "candles"),
    "not a DataFrame": ("BTCZAR", _good().to_dict("records"), {}, "candles"),
    "misaligned times": (
        "BTCZAR",
        frame(D0 + 30 * MINUTE, HOUR, [1.0, 2.0]),
        {},
        "candles.timestamp",
    ),
    "off the given grid": (
        "BTCZAR",
        frame(D0 + HOUR, HOUR, [1.0]),
        {"interval": "1d"},
        "candles.timestamp",
    ),
    "7-minute steps": ("BTCZAR", frame(D0, 7 * MINUTE, [1.0, 2.0, 3.0]), {}, "interval"),
    "2-hour steps": ("BTCZAR", frame(D0, 2 * HOUR, [1.0, 2.0]), {}, "interval"),
    **{
        f"interval {value!r}": ("BTCZAR", _good(), {"interval": value}, "interval")
        for value in ("1x", "7m", "", "h", 0, 7200, 3600.0, True)
    },
}


def test_bad_candles_are_refused_naming_the_field_and_nothing_is_written(
    hx: helios.Helios,
) -> None:
    hx.market.ingest("BTCZAR", frame(D0 - DAY, DAY, [90.0]))  # something already stored
    before = row_counts(hx)
    problems = []
    for case, (pair, candles, keywords, field) in BAD_CANDLES.items():
        try:
            hx.market.ingest(pair, candles, **keywords)
        except InvalidInput as error:
            if not error.field.startswith(field) or field not in str(error):
                problems.append(f"{case}: named {error.field!r}, expected {field!r}")
        except Exception as error:  # any other error is a finding too
            problems.append(f"{case}: {type(error).__name__}: {error}")
        else:
            problems.append(f"{case}: accepted")
        if row_counts(hx) != before:
            problems.append(f"{case}: wrote rows")
    assert problems == []
    assert hx.market.latest_price("BTCZAR") == 90
    with pytest.raises(InvalidInput, match="missing volume"):
        hx.market.ingest("BTCZAR", _good().drop(columns=["volume"]))


BAD_PRICES = [
    -5,
    0,
    "0",
    "0.000000001",
    float("nan"),
    float("inf"),
    "abc",
    None,
    True,
    [100],
    "1e16",
]


def test_set_price_refuses_a_bad_price_pair_or_time_and_writes_nothing(hx: helios.Helios) -> None:
    hx.market.set_price("BTCZAR", 1_200_000)
    before = row_counts(hx)
    cases: list[tuple[Any, Any, dict[str, Any], str]] = [
        ("BTCZAR", value, {}, "price") for value in BAD_PRICES
    ]
    cases += [
        ("BTCUSD", 100, {}, "pair"),
        (None, 100, {}, "pair"),
        ("BTCZAR", 100, {"ts": "2026-11-26 08:00"}, "ts"),
        ("BTCZAR", 100, {"ts": 1764144000}, "ts"),
    ]
    problems = []
    for pair, value, keywords, field in cases:
        case = f"set_price({pair!r}, {value!r}, {keywords})"
        try:
            hx.market.set_price(pair, value, **keywords)
        except InvalidInput as error:
            if error.field != field:
                problems.append(f"{case}: named {error.field!r}, expected {field!r}")
        except Exception as error:  # any other error is a finding too
            problems.append(f"{case}: {type(error).__name__}: {error}")
        else:
            problems.append(f"{case}: accepted")
        if row_counts(hx) != before:
            problems.append(f"{case}: wrote rows")
    assert problems == []
    assert hx.market.latest_price("BTCZAR") == 1_200_000


def test_reads_refuse_bad_arguments_naming_them(hx: helios.Helios) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        hx.market.returns("BTCZAR", kind="percent")
    with pytest.raises(InvalidInput, match="limit"):
        hx.market.candles("BTCZAR", limit=0)
    with pytest.raises(InvalidInput, match="limit"):
        hx.market.candles("BTCZAR", limit=True)
    with pytest.raises(InvalidInput, match="lookback"):
        hx.market.returns("BTCZAR", lookback=-1)
    with pytest.raises(InvalidInput, match="interval"):
        hx.market.candles("BTCZAR", "weekly")
    with pytest.raises(InvalidInput, match="pair"):
        hx.market.latest_price("XYZ")
