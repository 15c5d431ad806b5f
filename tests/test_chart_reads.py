"""The price chart's reads on SQLite and PostgreSQL: candles rolled up from the stored 1-minute
candles (``hx.market.chart_candles``) and the positions whose life overlaps the range
(``hx.positions.trades_in_range``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete

import helios
from helios.clock import ManualClock
from helios.db.models import Candle
from helios.errors import InvalidInput
from helios.market.bar_time import floor_time
from helios.market.bars import MAX_BARS, bar_range, chart_interval
from helios.positions.trade_figures import TradeFilter
from tests.chart_support import minute_history, trade_morning

SECONDS = {"5m": 300, "15m": 900, "1h": 3600, "4h": 14400}


def reference(frame: pd.DataFrame, seconds: int) -> pd.DataFrame:
    """The roll-up computed independently with pandas: first open, max high, min low, last
    close, summed volume per bar of the UTC epoch grid."""
    table = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))
    rolled = (
        table.set_index("timestamp")
        .resample(f"{seconds}s", origin="epoch")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    return rolled.reset_index()


@pytest.mark.parametrize("interval", list(SECONDS))
def test_minute_candles_roll_up_to_the_chosen_interval(hx: helios.Helios, interval: str) -> None:
    history = minute_history(hx.clock.now(), 12, 1_200_000.0)
    hx.market.ingest("BTCZAR", history, "1m", source="test")
    start = history["timestamp"].iloc[0].to_pydatetime()
    got = hx.market.chart_candles("BTCZAR", interval, start, hx.clock.now())
    want = reference(history, SECONDS[interval])
    assert len(got) == len(want) == -(-12 * 3600 // SECONDS[interval])
    assert list(got["timestamp"]) == list(want["timestamp"])
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12, err_msg=column)
    # every bar opens on the interval's epoch grid (bar_time.floor_time)
    assert all(floor_time(ts, SECONDS[interval]) == ts for ts in got["timestamp"])


@pytest.mark.parametrize("interval", ["4h", "1d"])
def test_days_of_minute_bars_roll_up_across_utc_midnights(hx: helios.Helios, interval: str) -> None:
    """Three days of minute bars ending at 08:00 UTC (four UTC days touched), without stored
    daily candles (as when the daily roll-up has not run): every bar, whole or partial, equals
    the pandas reference, including 1d rolled up from the minutes."""
    history = minute_history(hx.clock.now(), 72, 1_200_000.0, seed=11)
    hx.market.ingest("BTCZAR", history, "1m", source="test")
    with hx.db.write() as session:
        session.execute(delete(Candle).where(Candle.interval_seconds != 60))
    seconds = {**SECONDS, "1d": 86400}[interval]
    start = history["timestamp"].iloc[0].to_pydatetime()
    got = hx.market.chart_candles("BTCZAR", interval, start, hx.clock.now())
    want = reference(history, seconds)
    assert list(got["timestamp"]) == list(want["timestamp"])
    assert len(got) == {"4h": 18, "1d": 4}[interval]
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12, err_msg=column)


def test_a_range_starting_inside_a_bar_reads_that_whole_bar(hx: helios.Helios) -> None:
    history = minute_history(hx.clock.now(), 6, 60_000.0)
    hx.market.ingest("ETHZAR", history, "1m", source="test")
    start = history["timestamp"].iloc[0].to_pydatetime() + timedelta(minutes=95)  # 1h35 in
    got = hx.market.chart_candles("ETHZAR", "1h", start, hx.clock.now())
    first_hour = history[history["timestamp"] >= floor_time(start, 3600)].head(60)
    assert got["timestamp"].iloc[0] == floor_time(start, 3600)
    assert got["open"].iloc[0] == pytest.approx(first_hour["open"].iloc[0])
    assert got["volume"].iloc[0] == pytest.approx(30.0)  # 60 bars of 0.5
    assert len(got) == 5


def test_daily_bars_are_the_stored_daily_candles(hx: helios.Helios) -> None:
    """1d reads the stored daily candles (the roll-up kept current and kept for ever), not the
    minute bars, which are pruned after INTRADAY_RETENTION_DAYS."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=40, freq="D", tz="UTC"),
            "open": 100.0,
            "high": np.linspace(110, 150, 40),
            "low": 90.0,
            "close": 105.0,
            "volume": 3.0,
        }
    )
    hx.market.ingest("SOLZAR", frame, "1d", source="test")
    got = hx.market.chart_candles(
        "SOLZAR", "1d", datetime(2026, 1, 5, 13, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert got["timestamp"].iloc[0] == pd.Timestamp("2026-01-05", tz="UTC")
    assert len(got) == 27
    np.testing.assert_allclose(got["high"], frame["high"].iloc[4:31])


def test_without_minute_bars_the_finest_stored_interval_is_rolled_up(hx: helios.Helios) -> None:
    """A pair replayed from hourly candles: 4h rolls the hours up; 15m has nothing to show."""
    end = floor_time(hx.clock.now(), 3600)
    hours = pd.DataFrame(
        {
            "timestamp": pd.date_range(end=end, periods=24, freq="h"),
            "open": np.arange(24) + 100.0,
            "high": np.arange(24) + 101.0,
            "low": np.arange(24) + 99.0,
            "close": np.arange(24) + 100.5,
            "volume": 1.0,
        }
    )
    hx.market.ingest("SOLZAR", hours, "1h", source="test")
    got = hx.market.chart_candles("SOLZAR", "4h", end - timedelta(hours=23), end)
    want = reference(hours.iloc[:-1], 14400)  # the range ends before the last hour
    assert list(got["close"]) == list(want["close"])
    assert list(got["volume"]) == list(want["volume"])
    assert hx.market.chart_candles("SOLZAR", "15m", end - timedelta(hours=23), end).empty


@pytest.mark.parametrize(
    ("interval", "start", "end", "field"),
    [
        ("2h", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), "interval"),
        ("1m", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), "interval"),
        ("1h", datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), "start"),
        ("5m", datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "interval"),
        ("1h", "yesterday", datetime(2026, 11, 1, tzinfo=UTC), "start"),
    ],
)
def test_bad_chart_requests_are_refused_naming_the_field(
    hx: helios.Helios, interval: str, start: object, end: datetime, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        hx.market.chart_candles("BTCZAR", interval, start, end)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_too_many_bars_name_the_intervals_that_fit() -> None:
    year = (datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput) as refused:
        bar_range("15m", *year)
    assert f"at most {MAX_BARS:,} bars: choose 1h or 4h or 1d" in str(refused.value)
    assert bar_range("1h", *year).bars == 8760
    assert chart_interval(3600) == 3600


def test_an_unknown_pair_is_refused(hx: helios.Helios) -> None:
    now = hx.clock.now()
    with pytest.raises(InvalidInput) as refused:
        hx.market.chart_candles("DOGEZAR", "1h", now - timedelta(days=1), now)
    assert refused.value.field == "pair"
    with pytest.raises(InvalidInput) as refused:
        hx.positions.trades_in_range("DOGEZAR", now - timedelta(days=1), now)
    assert refused.value.field == "pair"


def test_positions_in_range_carry_entry_exit_reason_levels_and_pnl(
    hx: helios.Helios, clock: ManualClock
) -> None:
    morning = trade_morning(hx, clock)
    marks = hx.positions.trades_in_range("BTCZAR", morning.started, morning.ended)
    by_id = {m.position_id: m for m in marks}
    assert sorted(by_id) == sorted(morning.btc)  # ETHZAR's position is not on this chart
    reasons = {what: by_id[pid].exit_reason for what, pid in morning.ids.items() if pid in by_id}
    assert reasons == {
        "take_profit": "Take profit",
        "stop_loss": "Stop loss",
        "trailing_stop": "Trailing stop",
        "manual": "Manual close",
        "emergency": "Emergency close",
        "timeout": "Timeout",
        "open_buy": None,
        "open_sell": None,
    }
    listed = hx.positions.closed_trades(TradeFilter(pair="BTCZAR", page_size=100)).trades
    # the closed trades list names every exit as the chart does (one rule)
    assert {t.position_id: f.exit_label for t, f in listed} == {
        m.position_id: m.exit_reason for m in marks if not m.is_open
    }
    closed = hx.positions.closed_positions(pair="BTCZAR").set_index("position_id")
    opened = {r["position_id"]: r for r in hx.positions.get_open_positions()}
    for mark in marks:
        if mark.is_open:
            row = opened[mark.position_id]
            assert (mark.stop, mark.target) == (row["stop_loss_price"], row["take_profit_price"])
            assert mark.pnl == row["unrealized_pnl"]
            assert mark.exit_price is None and mark.exit_reason is None
        else:
            row = closed.loc[mark.position_id]
            assert mark.pnl == row["realized_pnl"] and isinstance(mark.pnl, Decimal)
            assert (mark.exit_price, mark.exit_time) == (row["exit_price"], row["closed_at"])
            assert (mark.entry_price, mark.entry_time) == (row["entry_price"], row["opened_at"])
            assert mark.stop is None and mark.target is None
    buy, sell = by_id[morning.ids["open_buy"]], by_id[morning.ids["open_sell"]]
    assert buy.stop < buy.entry_price < buy.target  # type: ignore[operator]
    assert sell.target < sell.entry_price < sell.stop  # type: ignore[operator]


def test_only_positions_whose_life_overlaps_the_range_are_read(
    hx: helios.Helios, clock: ManualClock
) -> None:
    morning = trade_morning(hx, clock)
    ids = morning.ids
    take_profit = next(
        m
        for m in hx.positions.trades_in_range("BTCZAR", morning.started, morning.ended)
        if m.position_id == ids["take_profit"]
    )
    assert take_profit.exit_time is not None
    after = hx.positions.trades_in_range(
        "BTCZAR", take_profit.exit_time + timedelta(seconds=1), morning.ended
    )
    assert ids["take_profit"] not in {m.position_id for m in after}
    assert ids["stop_loss"] in {m.position_id for m in after}
    # a range inside the open positions' lives, after every close: only the open ones
    late = hx.positions.trades_in_range(
        "BTCZAR", morning.ended - timedelta(minutes=10), morning.ended
    )
    assert sorted(m.position_id for m in late) == sorted(morning.btc_open)
    assert hx.positions.trades_in_range("BTCZAR", morning.started, take_profit.entry_time) == []
