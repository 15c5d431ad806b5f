"""The replay's source of prices (helios/replay/candles.py): real CSV and Parquet files written to
tmp_path, every refusal naming the file, the row or bar time, the column, the value and the rule;
the gap report and fill; the period; the factor; ``--candles`` specs; and the real Binance 5m BTC
file from ``shared/data`` (skipped when absent), which has one gap of 16 bars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

from helios.errors import InvalidInput
from helios.replay.candles import (
    Gap,
    align,
    from_frame,
    load_candle_file,
    parse_candle_spec,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC_5M = SHARED_DATA / "binance_spot" / "BTC-USDT_5m.csv"


def rows(n: int, step: int = 300, start: datetime = T0) -> pd.DataFrame:
    """``n`` sound bars of ``step`` seconds: close rises by 1 a bar from 100."""
    times = pd.date_range(start, periods=n, freq=f"{step}s", tz=UTC)
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {
            "timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 10.0 + np.arange(n),
        }
    )


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "c.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def refused(path: Path, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        load_candle_file("BTCZAR", path, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- reading -----------------------------------------------------------------------------------


def test_a_csv_file_loads_as_arrays_on_the_grid(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(4))
    candles = load_candle_file("BTCZAR", path)
    assert candles.pair == "BTCZAR" and candles.interval == 300 and len(candles) == 4
    assert candles.source == str(path)
    assert candles.ts.dtype == np.int64 and candles.close.dtype == np.float64
    assert candles.ts.tolist() == [int(T0.timestamp()) + 300 * i for i in range(4)]
    assert candles.close.tolist() == [100.0, 101.0, 102.0, 103.0]
    assert candles.open.tolist() == [99.5, 100.5, 101.5, 102.5]
    assert candles.volume.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert not candles.filled.any() and candles.gaps == ()
    assert candles.time(0) == T0 and candles.time(-1) == datetime(2024, 1, 1, 0, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        candles.close[0] = 1.0  # the arrays are read-only
    frame = candles.frame()
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert frame["timestamp"].iloc[0] == pd.Timestamp(T0)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["close"].tolist() == [100.0, 101.0, 102.0, 103.0]


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_a_parquet_file_loads_the_same(tmp_path: Path, suffix: str) -> None:
    frame = rows(5, 3600)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)  # a Parquet timestamp
    path = tmp_path / f"c{suffix}"
    frame.to_parquet(path)
    candles = load_candle_file("ETHZAR", path)
    assert candles.interval == 3600 and len(candles) == 5
    assert candles.close.tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert candles.time(4) == datetime(2024, 1, 1, 4, tzinfo=UTC)


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_seconds_and_milliseconds(tmp_path: Path, scale: int) -> None:
    frame = rows(3, 60)
    frame["timestamp"] = (int(T0.timestamp()) + 60 * np.arange(3)) * scale
    candles = load_candle_file("BTCZAR", write_csv(tmp_path, frame))
    assert candles.interval == 60 and candles.time(2) == datetime(2024, 1, 1, 0, 2, tzinfo=UTC)


def test_column_names_ignore_case_and_extra_columns(tmp_path: Path) -> None:
    frame = rows(3).rename(columns={"open": "Open", "close": " CLOSE "})
    frame["trades"] = 7
    candles = load_candle_file("BTCZAR", write_csv(tmp_path, frame))
    assert candles.close.tolist() == [100.0, 101.0, 102.0]


# --- refusals ----------------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    error = refused(path)
    assert error.field == str(path) and error.value == "no such file"
    assert "existing CSV or Parquet" in error.allowed


def test_an_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{}")
    error = refused(path)
    assert error.field == str(path) and error.value == ".json"
    assert ".csv, .parquet or .pq" in error.allowed


def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_text("this is not parquet")
    error = refused(path)
    assert error.field == str(path) and "readable Parquet file" in error.allowed
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    error = refused(empty)
    assert error.field == str(empty) and "readable CSV file" in error.allowed


def test_missing_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(3).drop(columns=["low", "volume"]))
    error = refused(path)
    assert error.field == f"{path} columns"
    assert error.value == ["timestamp", "open", "high", "close"]
    assert "missing low, volume" in error.allowed


def test_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(0))
    error = refused(path)
    assert error.field == str(path) and error.allowed == "at least one candle"


def test_a_timestamp_that_is_not_a_time(tmp_path: Path) -> None:
    frame = rows(4)
    frame.loc[2, "timestamp"] = "yesterday"
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 3 column timestamp"
    assert error.value == "yesterday" and "ISO 8601" in error.allowed


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("close", 0.0, "a finite number > 0"),
        ("low", -5.0, "a finite number > 0"),
        ("high", np.inf, "a finite number > 0"),
        ("open", "abc", "a finite number > 0"),
        ("open", None, "a finite number > 0"),
        ("volume", -1.0, "a finite number >= 0"),
    ],
)
def test_a_price_not_positive_or_not_finite(
    tmp_path: Path, column: str, value: object, rule: str
) -> None:
    frame = rows(5).astype({column: object})
    frame.loc[3, column] = value
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 4 (2024-01-01T00:15:00+00:00) column {column}"
    assert error.allowed == rule
    if isinstance(value, float) and np.isfinite(value):
        assert error.value == value


def test_high_below_low(tmp_path: Path) -> None:
    frame = rows(5)
    frame.loc[1, ["high", "low"]] = [99.0, 102.0]
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 2 (2024-01-01T00:05:00+00:00) column high"
    assert error.value == {"high": 99.0, "low": 102.0} and error.allowed == "high >= low"


@pytest.mark.parametrize(("column", "value"), [("open", 250.0), ("close", 90.0)])
def test_open_or_close_outside_the_range(tmp_path: Path, column: str, value: float) -> None:
    frame = rows(5)
    frame.loc[4, column] = value
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 5 (2024-01-01T00:20:00+00:00) column {column}"
    assert error.value == {column: value, "low": 103.0, "high": 105.0}
    assert error.allowed == f"low <= {column} <= high"


def test_a_repeated_timestamp(tmp_path: Path) -> None:
    frame = rows(5)
    frame.loc[3, "timestamp"] = frame.loc[2, "timestamp"]
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 4 (2024-01-01T00:10:00+00:00) column timestamp"
    assert error.value == "2024-01-01T00:10:00+00:00"
    assert "each once (repeated row 3" in error.allowed


def test_an_unsorted_timestamp(tmp_path: Path) -> None:
    frame = rows(5)
    frame.loc[[1, 2], "timestamp"] = frame.loc[[2, 1], "timestamp"].to_numpy()
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 3 (2024-01-01T00:05:00+00:00) column timestamp"
    assert "ascending times" in error.allowed and "earlier than row 2" in error.allowed


def test_a_bar_off_the_grid(tmp_path: Path) -> None:
    frame = rows(6)
    frame.loc[4, "timestamp"] = "2024-01-01T00:21:00Z"
    path = write_csv(tmp_path, frame)
    error = refused(path)
    assert error.field == f"{path} row 5 (2024-01-01T00:21:00+00:00) column timestamp"
    assert error.value == "2024-01-01T00:21:00+00:00"
    assert "on the 300 s grid" in error.allowed


def test_an_unsupported_interval(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(4, step=420))
    error = refused(path)
    assert error.field == f"{path} interval" and error.value == 420
    assert "(60, 300, 900" in error.allowed


@pytest.mark.parametrize("factor", [0, -2, Decimal("NaN"), float("inf")])
def test_a_factor_that_is_not_positive(tmp_path: Path, factor: object) -> None:
    path = write_csv(tmp_path, rows(3))
    error = refused(path, factor=factor)
    assert error.field == f"{path} factor" and "> 0" in error.allowed


def test_a_period_with_no_bars(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(12))
    error = refused(path, start=datetime(2025, 1, 1), end=datetime(2025, 2, 1))
    assert error.field == f"{path} period (BTCZAR)"
    assert error.value.startswith("2025-01-01T00:00:00+00:00 .. 2025-02-01T00:00:00+00:00")
    assert "2024-01-01T00:00:00+00:00 .. 2024-01-01T00:55:00+00:00" in error.allowed
    assert "12 bars of 300 s" in error.allowed


# --- the period, the factor ---------------------------------------------------------------------


def test_the_period_is_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(12))
    candles = load_candle_file(
        "BTCZAR",
        path,
        start=datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
        end=datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
    )
    assert candles.close.tolist() == [102.0, 103.0, 104.0, 105.0]
    # naive times are UTC; a start between bars begins at the next bar
    later = load_candle_file("BTCZAR", path, start=datetime(2024, 1, 1, 0, 51))
    assert later.close.tolist() == [111.0]
    assert load_candle_file("BTCZAR", path, end=datetime(2024, 1, 1, 0, 5)).close.tolist() == [
        100.0
    ]
    with pytest.raises(InvalidInput) as info:
        load_candle_file("BTCZAR", path, start=T0, end=T0)
    assert info.value.field == "period" and info.value.allowed == "a start before the end"


def test_the_factor_converts_prices_not_volume(tmp_path: Path) -> None:
    path = write_csv(tmp_path, rows(3))
    candles = load_candle_file("BTCZAR", path, factor=Decimal("18.5"))
    assert candles.close.tolist() == [1850.0, 1868.5, 1887.0]
    assert candles.high.tolist() == [1868.5, 1887.0, 1905.5]
    assert candles.low.tolist() == [1831.5, 1850.0, 1868.5]
    assert candles.open.tolist() == [1840.75, 1859.25, 1877.75]
    assert candles.volume.tolist() == [10.0, 11.0, 12.0]


# --- gaps ---------------------------------------------------------------------------------------


def with_holes() -> pd.DataFrame:
    """Ten 5m bars with bars 3-4 and 7 missing: two gaps (2 bars and 1 bar)."""
    return rows(10).drop(index=[3, 4, 7]).reset_index(drop=True)


def test_gaps_are_reported_and_filled_at_the_previous_close(tmp_path: Path) -> None:
    candles = load_candle_file("BTCZAR", write_csv(tmp_path, with_holes()), factor=2)
    assert candles.gaps == (
        Gap("BTCZAR", datetime(2024, 1, 1, 0, 15, tzinfo=UTC), 2, True),
        Gap("BTCZAR", datetime(2024, 1, 1, 0, 35, tzinfo=UTC), 1, True),
    )
    assert len(candles) == 10
    assert np.diff(candles.ts).tolist() == [300] * 9
    assert candles.filled.tolist() == [False] * 3 + [True] * 2 + [False] * 2 + [True] + [False] * 2
    # the filled bars are flat at the previous close (x the factor) with no volume
    for name in ("open", "high", "low", "close"):
        values = getattr(candles, name)
        assert values[3] == values[4] == 2 * 102.0
        assert values[7] == 2 * 106.0
    assert candles.volume[[3, 4, 7]].tolist() == [0.0, 0.0, 0.0]
    # the real bars are untouched
    assert candles.close[[0, 1, 2, 5, 6, 8, 9]].tolist() == [
        2 * c for c in (100.0, 101.0, 102.0, 105.0, 106.0, 108.0, 109.0)
    ]
    assert candles.open[5] == 2 * 104.5 and candles.volume[5] == 15.0


def test_only_gaps_inside_the_period_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path, with_holes())
    candles = load_candle_file("BTCZAR", path, start=datetime(2024, 1, 1, 0, 25, tzinfo=UTC))
    assert candles.gaps == (Gap("BTCZAR", datetime(2024, 1, 1, 0, 35, tzinfo=UTC), 1, True),)
    # a period starting inside a hole starts at the next real bar: no gap before it
    inside = load_candle_file("BTCZAR", path, start=datetime(2024, 1, 1, 0, 20, tzinfo=UTC))
    assert inside.time(0) == datetime(2024, 1, 1, 0, 25, tzinfo=UTC)
    none = load_candle_file("BTCZAR", path, end=datetime(2024, 1, 1, 0, 15, tzinfo=UTC))
    assert none.gaps == () and len(none) == 3


def test_a_hole_is_refused_without_filling(tmp_path: Path) -> None:
    path = write_csv(tmp_path, with_holes())
    error = refused(path, fill_gaps=False)
    assert error.field == f"{path} candles of BTCZAR"
    assert error.value == "2 bars missing from 2024-01-01T00:15:00+00:00"
    assert "a hole in the candles: 2 in the period" in error.allowed
    complete = load_candle_file("BTCZAR", write_csv(tmp_path, rows(5), "ok.csv"), fill_gaps=False)
    assert len(complete) == 5


def test_between_cuts_the_bars_and_the_gaps(tmp_path: Path) -> None:
    candles = load_candle_file("BTCZAR", write_csv(tmp_path, with_holes()))
    part = candles.between(datetime(2024, 1, 1, 0, 20, tzinfo=UTC), None)
    assert part.time(0) == datetime(2024, 1, 1, 0, 20, tzinfo=UTC) and len(part) == 6
    assert part.gaps == (
        Gap("BTCZAR", datetime(2024, 1, 1, 0, 20, tzinfo=UTC), 1, True),
        Gap("BTCZAR", datetime(2024, 1, 1, 0, 35, tzinfo=UTC), 1, True),
    )
    assert part.filled.tolist() == [True, False, False, True, False, False]
    head = candles.between(None, datetime(2024, 1, 1, 0, 17, tzinfo=UTC))
    assert len(head) == 4 and head.gaps == (
        Gap("BTCZAR", datetime(2024, 1, 1, 0, 15, tzinfo=UTC), 1, True),
    )
    assert len(candles.between(datetime(2025, 1, 1), None)) == 0


def test_from_frame_names_its_source() -> None:
    frame = rows(3)
    frame.loc[1, "high"] = 50.0
    with pytest.raises(InvalidInput) as info:
        from_frame("BTCZAR", frame, source="stored")
    assert info.value.field == "stored row 2 (2024-01-01T00:05:00+00:00) column high"
    candles = from_frame("BTCZAR", rows(3), source="stored", factor=0.5)
    assert candles.source == "stored" and candles.close.tolist() == [50.0, 50.5, 51.0]


# --- specs and alignment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("BTCZAR=data/BTC-USDT_5m.csv", ("BTCZAR", "data/BTC-USDT_5m.csv", Decimal(1))),
        ("ethzar=/x/ETH.parquet*18.5", ("ETHZAR", "/x/ETH.parquet", Decimal("18.5"))),
        ("SOLZAR = a b/c.csv * 0.05 ", ("SOLZAR", "a b/c.csv", Decimal("0.05"))),
    ],
)
def test_candle_specs(spec: str, expected: tuple[str, str, Decimal]) -> None:
    assert parse_candle_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "BTCZAR",
        "=x.csv",
        "BTCZAR=",
        "BTCUSDT=x.csv",
        "BTCZAR=x.csv*",
        "BTCZAR=x.csv*abc",
        "BTCZAR=x.csv*0",
        "BTCZAR=x.csv*-1",
        "BTCZAR=x.csv*Infinity",
    ],
)
def test_bad_candle_specs(spec: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_candle_spec(spec)
    assert info.value.field == "--candles" and info.value.value == spec
    assert "PAIR=PATH or PAIR=PATH*FACTOR" in info.value.allowed


def test_align_needs_one_interval(tmp_path: Path) -> None:
    five = load_candle_file("BTCZAR", write_csv(tmp_path, rows(3), "a.csv"))
    hour = load_candle_file("ETHZAR", write_csv(tmp_path, rows(3, 3600), "b.csv"))
    other = load_candle_file("SOLZAR", write_csv(tmp_path, rows(4), "c.csv"))
    assert align({"BTCZAR": five, "SOLZAR": other}) == {"BTCZAR": five, "SOLZAR": other}
    with pytest.raises(InvalidInput) as info:
        align({"BTCZAR": five, "ETHZAR": hour})
    assert info.value.field == "candles interval"
    assert info.value.value == {"BTCZAR": 300, "ETHZAR": 3600}
    assert "one interval" in info.value.allowed
    with pytest.raises(InvalidInput):
        align({"ETHZAR": five})  # filed under another pair


# --- the real file ------------------------------------------------------------------------------


def test_the_real_btc_5m_file_has_one_gap_of_16_bars() -> None:
    if not BTC_5M.is_file():
        pytest.skip(f"real candles not available: {BTC_5M} is missing (shared/data not laid out)")
    year = load_candle_file(
        "BTCZAR", BTC_5M, start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 1)
    )
    assert year.interval == 300 and len(year) == 105_120
    assert year.gaps == (Gap("BTCZAR", datetime(2023, 3, 24, 12, 40, tzinfo=UTC), 16, True),)
    assert int(year.filled.sum()) == 16
    assert year.time(0) == datetime(2023, 1, 1, tzinfo=UTC)
    assert year.time(-1) == datetime(2023, 12, 31, 23, 55, tzinfo=UTC)
    first = int(np.flatnonzero(year.filled)[0])
    assert year.time(first) == datetime(2023, 3, 24, 12, 40, tzinfo=UTC)
    flat = year.close[first - 1]
    assert (year.open[first : first + 16] == flat).all()
    assert (year.volume[first : first + 16] == 0).all()
    whole = load_candle_file("BTCZAR", BTC_5M)
    assert len(whole) == 105_664 + 16 and len(whole.gaps) == 1
    with pytest.raises(InvalidInput) as info:
        load_candle_file("BTCZAR", BTC_5M, fill_gaps=False)
    assert info.value.value == "16 bars missing from 2023-03-24T12:40:00+00:00"
