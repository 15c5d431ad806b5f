"""The replay's sources of signals (``helios.replay.sources``) and the EMA-cross example.

- CSV: a good file (sorted by time then pair, optional cells empty), and each bad case refused
  naming the file, the row and the column;
- a strategy: the built-in ema-cross on a series whose crossings are worked out by hand, a
  strategy file that raises (on import, on call), one without ``signals``, a timestamp that is
  not a bar, a bad side; ``at`` is the bar's close;
- a recorded database: a real Helios SQLite database with signals submitted at different
  clock times, read back for a period;
- the real 2023 BTC 5m candles (skipped without ``shared/data``): the ema-cross count equals a
  plain Python recomputation.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from conftest import SHARED_DATA

import helios
from helios.clock import ManualClock
from helios.errors import InvalidInput
from helios.replay.sources import (
    ReplaySignal,
    StrategyFailed,
    signals_from_csv,
    signals_from_database,
)
from helios.replay.strategies import ema_cross
from helios.replay.strategy import load_strategy, signals_from_strategy

PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR")
T0 = datetime(2023, 1, 1, tzinfo=UTC)
FIVE_MINUTES = 300


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def candles(closes: list[float], start: datetime = T0, step: int = FIVE_MINUTES) -> pd.DataFrame:
    times = pd.date_range(start, periods=len(closes), freq=f"{step}s", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": times,
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": 1.0,
        }
    )


def strategy_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "my_strategy.py"
    path.write_text(body)
    return str(path)


# --- CSV -------------------------------------------------------------------------------------

HEADER = ["timestamp", "pair", "side", "confidence", "size", "stop", "target"]


def test_a_csv_of_signals(tmp_path: Path):
    path = write_csv(
        tmp_path / "signals.csv",
        HEADER,
        [
            ["2023-01-02T00:00:00Z", "ethzar", "buy", "0.7", "", "", ""],
            ["2023-01-01T12:00:00+02:00", "SOLZAR", "SELL", "0.9", "5000", "0.03", "0.5"],
            ["2023-01-01 10:00:00", "BTCZAR", "BUY", "1", "12000.50", "0.02", "0.06"],
            [],  # a blank line is skipped
        ],
    )
    signals = signals_from_csv(path, PAIRS)
    # sorted by time: 10:00 UTC (a naive time is UTC), then 10:00 UTC (12:00 SAST) SOL, then ETH
    assert [(s.at, s.pair) for s in signals] == [
        (datetime(2023, 1, 1, 10, tzinfo=UTC), "BTCZAR"),
        (datetime(2023, 1, 1, 10, tzinfo=UTC), "SOLZAR"),
        (datetime(2023, 1, 2, tzinfo=UTC), "ETHZAR"),
    ]
    btc, sol, eth = signals
    assert btc.position_size_zar == Decimal("12000.50") and btc.confidence == 1.0
    assert btc.trade_params() == {
        "position_size_zar": Decimal("12000.50"),
        "stop_loss_pct": 0.02,
        "take_profit_pct": 0.06,
    }
    assert sol.side == "SELL" and sol.stop_loss_pct == 0.03 and sol.take_profit_pct == 0.5
    assert eth.side == "BUY" and eth.trade_params() == {} and eth.position_size_zar is None
    assert all(s.llm_approved and s.original_id is None and s.payload is None for s in signals)


def test_a_csv_with_only_the_required_columns(tmp_path: Path):
    path = write_csv(
        tmp_path / "s.csv",
        ["Timestamp", "pair", "side", "confidence"],
        [[T0.isoformat(), "BTCZAR", "BUY", "0.5"]],
    )
    assert signals_from_csv(path, PAIRS) == [ReplaySignal(T0, "BTCZAR", "BUY", 0.5)]


@pytest.mark.parametrize(
    ("cells", "column", "value"),
    [
        (
            ["2023-13-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "", ""],
            "timestamp",
            "2023-13-01T00:00:00Z",
        ),
        (["", "BTCZAR", "BUY", "0.6", "", "", ""], "timestamp", ""),
        (["2023-01-01T00:00:00Z", "DOGEZAR", "BUY", "0.6", "", "", ""], "pair", "DOGEZAR"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "HOLD", "0.6", "", "", ""], "side", "HOLD"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0", "", "", ""], "confidence", "0"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "1.5", "", "", ""], "confidence", "1.5"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "", "", "", ""], "confidence", ""),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "nan", "", "", ""], "confidence", "nan"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "0", "", ""], "size", "0"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "-5", "", ""], "size", "-5"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "ten", "", ""], "size", "ten"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "1", ""], "stop", "1"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "0", ""], "stop", "0"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "", "10.5"], "target", "10.5"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "", "0"], "target", "0"),
        (["2023-01-01T00:00:00Z", "BTCZAR", "SELL", "0.6", "", "", "1"], "target", "1"),
    ],
)
def test_a_bad_csv_cell_names_the_file_row_and_column(
    tmp_path: Path, cells: list[str], column: str, value: str
):
    good = ["2023-01-01T00:00:00Z", "BTCZAR", "BUY", "0.6", "", "", ""]
    path = write_csv(tmp_path / "signals.csv", HEADER, [good, good, cells])
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(path, PAIRS)
    assert caught.value.field == f"{path}: row 3, column {column}"
    assert caught.value.value == value
    if column == "pair":
        assert "BTCZAR, ETHZAR, SOLZAR" in caught.value.allowed


def test_a_csv_row_with_too_few_cells(tmp_path: Path):
    path = write_csv(tmp_path / "s.csv", HEADER, [["2023-01-01T00:00:00Z", "BTCZAR", "BUY"]])
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(path, PAIRS)
    assert caught.value.field == f"{path}: row 1" and "7 cells" in caught.value.allowed


@pytest.mark.parametrize(
    ("header", "bad"),
    [
        (["timestamp", "pair", "side"], ["confidence"]),
        (["timestamp", "pair", "side", "confidence", "stop_loss"], ["stop_loss"]),
        (["timestamp", "pair", "side", "confidence", "stop", "stop"], ["stop"]),
    ],
)
def test_csv_columns_missing_unknown_or_twice(tmp_path: Path, header: list[str], bad: list[str]):
    path = write_csv(tmp_path / "s.csv", header, [["x"] * len(header)])
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(path, PAIRS)
    assert caught.value.field == f"{path}: columns" and caught.value.value == bad


def test_a_missing_or_empty_csv(tmp_path: Path):
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(tmp_path / "nowhere.csv", PAIRS)
    assert caught.value.field == "signals CSV"
    assert caught.value.value == str(tmp_path / "nowhere.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(empty, PAIRS)
    assert caught.value.field == f"signals CSV {empty}" and caught.value.value == "an empty file"
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    with pytest.raises(InvalidInput) as caught:
        signals_from_csv(header_only, PAIRS)
    assert caught.value.value == "no signal rows"


# --- strategies ------------------------------------------------------------------------------


def ema(values: list[float], span: int) -> list[float]:
    """The EMA as a plain recursion, seeded at the first value (``adjust=False``)."""
    alpha = 2 / (span + 1)
    out = [values[0]]
    for value in values[1:]:
        out.append(alpha * value + (1 - alpha) * out[-1])
    return out


def crossings(closes: list[float]) -> list[int]:
    fast, slow = ema(closes, 12), ema(closes, 26)
    return [i for i in range(1, len(closes)) if fast[i] > slow[i] and fast[i - 1] <= slow[i - 1]]


def test_ema_cross_fires_where_worked_out_by_hand():
    # Flat at 100: both EMAs are 100 (equal, no cross). Bar 5 jumps to 110: EMA12 moves 2/13 of
    # the jump, EMA26 2/27, so EMA12 > EMA26 on bar 5 after being equal on bar 4: a BUY at bar 5.
    # Bars 6-7 stay up (above already: nothing). Bar 8 falls to 80: EMA12 (faster) drops below
    # EMA26; bars 9-10 at 80 keep it below. Bar 11 jumps to 130: EMA12 crosses above again.
    closes = [100.0] * 5 + [110.0] * 3 + [80.0] * 3 + [130.0, 130.0]
    assert crossings(closes) == [5, 11]  # the plain recursion agrees with the reading above
    frame = candles(closes)
    result = ema_cross.signals("BTCZAR", frame)
    assert list(result.columns) == ["timestamp", "side", "confidence"]
    assert list(result["timestamp"]) == [frame["timestamp"][5], frame["timestamp"][11]]
    assert set(result["side"]) == {"BUY"} and set(result["confidence"]) == {0.6}
    flat = ema_cross.signals("BTCZAR", candles([100.0] * 50))
    assert flat.empty
    assert ema_cross.signals("BTCZAR", candles([])).empty


def test_a_strategy_signal_is_known_at_its_bar_close():
    closes = [100.0] * 5 + [110.0] * 3 + [80.0] * 3 + [130.0, 130.0]
    frames = {"ETHZAR": candles(closes), "BTCZAR": candles(closes)}
    signals = signals_from_strategy(load_strategy("ema-cross"), frames, FIVE_MINUTES)
    bar5_close = T0 + timedelta(minutes=5 * 5 + 5)
    bar11_close = T0 + timedelta(minutes=5 * 11 + 5)
    assert [(s.at, s.pair) for s in signals] == [
        (bar5_close, "BTCZAR"),
        (bar5_close, "ETHZAR"),
        (bar11_close, "BTCZAR"),
        (bar11_close, "ETHZAR"),
    ]
    assert signals[0] == ReplaySignal(bar5_close, "BTCZAR", "BUY", 0.6)
    assert signals[0].at.tzinfo is not None and signals[0].trade_params() == {}


def test_a_strategy_file_with_every_optional_column(tmp_path: Path):
    spec = strategy_file(
        tmp_path,
        "import pandas as pd\n"
        "def signals(pair, candles):\n"
        "    candles['mine'] = 1.0  # a column of its own: the caller's frame keeps its columns\n"
        "    bars = candles['timestamp']\n"
        "    return pd.DataFrame({'timestamp': [bars[3], bars[1]], 'side': ['sell', 'BUY'],\n"
        "        'confidence': [0.9, None], 'size': [2500.0, None], 'stop': [0.01, None],\n"
        "        'target': [0.5, float('nan')]})\n",
    )
    frame = candles([1.0, 2.0, 3.0, 4.0])
    signals = signals_from_strategy(load_strategy(spec), {"SOLZAR": frame}, FIVE_MINUTES)
    assert "mine" not in frame.columns
    assert signals == [
        ReplaySignal(T0 + timedelta(minutes=10), "SOLZAR", "BUY", 0.6),  # bar 1: 0:05 to 0:10
        ReplaySignal(
            T0 + timedelta(minutes=20), "SOLZAR", "SELL", 0.9, Decimal("2500.0"), 0.01, 0.5
        ),
    ]


def test_a_strategy_file_that_raises_on_import(tmp_path: Path):
    spec = strategy_file(tmp_path, "x = 1 / 0\n")
    with pytest.raises(StrategyFailed) as caught:
        load_strategy(spec)
    assert caught.value.field == "strategy" and caught.value.value == spec
    assert "raised ZeroDivisionError: division by zero" in str(caught.value)


def test_a_strategy_file_that_raises_when_called(tmp_path: Path):
    spec = strategy_file(tmp_path, "def signals(pair, candles):\n    return 1 / 0\n")
    strategy = load_strategy(spec)
    with pytest.raises(StrategyFailed) as caught:
        signals_from_strategy(strategy, {"BTCZAR": candles([1.0, 2.0])}, FIVE_MINUTES)
    assert caught.value.field == "strategy" and caught.value.value == spec
    assert "for BTCZAR it raised ZeroDivisionError: division by zero" in str(caught.value)


def test_a_plain_function_that_raises_is_named_too():
    def broken(pair: str, frame: pd.DataFrame) -> pd.DataFrame:
        raise KeyError("ema")

    with pytest.raises(StrategyFailed) as caught:
        signals_from_strategy(broken, {"BTCZAR": candles([1.0])}, FIVE_MINUTES)
    assert caught.value.value.endswith("broken") and "raised KeyError" in str(caught.value)


def test_strategy_specs_that_cannot_be_loaded(tmp_path: Path):
    without = strategy_file(tmp_path, "def other(pair, candles):\n    return None\n")
    with pytest.raises(InvalidInput) as caught:
        load_strategy(without)
    assert caught.value.field == "strategy" and caught.value.value == without
    assert "signals(pair, candles)" in caught.value.allowed
    with pytest.raises(InvalidInput) as caught:
        load_strategy(str(tmp_path / "absent.py"))
    assert "no such file" in caught.value.allowed
    with pytest.raises(InvalidInput) as caught:
        load_strategy("rsi-magic")
    assert caught.value.value == "rsi-magic" and "ema-cross" in caught.value.allowed


def test_a_strategy_file_imports_a_module_beside_it_without_staying_on_the_path(tmp_path: Path):
    import sys

    (tmp_path / "helper_rules_xyz.py").write_text("SIDE = 'BUY'\n")
    spec = strategy_file(
        tmp_path,
        "import pandas as pd\nfrom helper_rules_xyz import SIDE\n"
        "def signals(pair, candles):\n"
        "    return pd.DataFrame({'timestamp': candles['timestamp'][:1], 'side': SIDE})\n",
    )
    strategy = load_strategy(spec)
    assert str(tmp_path) not in sys.path
    (signal,) = signals_from_strategy(strategy, {"BTCZAR": candles([1.0, 2.0])}, FIVE_MINUTES)
    assert signal.at == T0 + timedelta(minutes=5) and signal.side == "BUY"


@pytest.mark.parametrize(
    ("returned", "field_end", "value"),
    [
        ("[1, 2]", "result", "list"),
        ("pd.DataFrame({'timestamp': candles['timestamp'][:1]})", "columns", ["timestamp"]),
        (
            "pd.DataFrame({'timestamp': candles['timestamp'][:1], 'side': 'BUY', 'why': 1})",
            "columns",
            ["timestamp", "side", "why"],
        ),
        (
            "pd.DataFrame({'timestamp': [candles['timestamp'][0], "
            "candles['timestamp'][0] + pd.Timedelta(seconds=30)], 'side': 'BUY'})",
            "row 2, column timestamp",
            pd.Timestamp(T0 + timedelta(seconds=30)),
        ),
        (
            "pd.DataFrame({'timestamp': candles['timestamp'][:2], 'side': ['BUY', 'SHORT']})",
            "row 2, column side",
            "SHORT",
        ),
        (
            "pd.DataFrame({'timestamp': candles['timestamp'][:1], 'side': 'BUY', "
            "'confidence': 2.0})",
            "row 1, column confidence",
            2.0,
        ),
        (
            "pd.DataFrame({'timestamp': ['not a time'], 'side': 'BUY'})",
            "row 1, column timestamp",
            "not a time",
        ),
    ],
)
def test_a_bad_strategy_result_names_the_strategy_pair_row_and_column(
    tmp_path: Path, returned: str, field_end: str, value: object
):
    spec = strategy_file(
        tmp_path, f"import pandas as pd\ndef signals(pair, candles):\n    return {returned}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        signals_from_strategy(load_strategy(spec), {"ETHZAR": candles([1.0, 2.0])}, FIVE_MINUTES)
    assert caught.value.field == f"strategy {spec} (ETHZAR): {field_end}"
    assert caught.value.value == value


def test_an_empty_result_is_no_signal(tmp_path: Path):
    spec = strategy_file(
        tmp_path, "import pandas as pd\ndef signals(pair, candles):\n    return pd.DataFrame()\n"
    )
    assert signals_from_strategy(load_strategy(spec), {"BTCZAR": candles([1.0])}, 300) == []


def test_a_bad_interval_or_candles():
    strategy = load_strategy("ema-cross")
    with pytest.raises(InvalidInput) as caught:
        signals_from_strategy(strategy, {"BTCZAR": candles([1.0])}, 0)
    assert caught.value.field == "interval"
    with pytest.raises(InvalidInput) as caught:
        signals_from_strategy(strategy, {"BTCZAR": pd.DataFrame({"close": [1.0]})}, 300)
    assert caught.value.field == "candles[BTCZAR]"


# --- a recorded Helios database --------------------------------------------------------------


def test_signals_recorded_in_a_helios_database(tmp_path: Path):
    url = "sqlite:///" + str(tmp_path / "h.db")
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    clock = ManualClock(start)
    with helios.connect(url, clock=clock, market_feed="manual") as hx:
        first = hx.signals.submit(
            "BTCZAR",
            "BUY",
            0.85,
            True,
            trade_params={"stop_loss_pct": 0.02, "take_profit_pct": 0.06, "leverage": 1},
            predicted_return=0.03,
            llm_reasoning="breakout",
        )
        clock.advance(minutes=10)
        second = hx.signals.submit(
            "ETHZAR", "SELL", 0.7, False, trade_params={"position_size_zar": 5000}
        )
        clock.advance(minutes=10)
        with pytest.raises(InvalidInput):  # malformed: stored REJECTED, not replayable
            hx.signals.submit("BTCZAR", "BUY", 1.7, True)
        clock.advance(minutes=10)
        third = hx.signals.submit("SOLZAR", "BUY", 0.6, True)
        clock.advance(hours=2)
        hx.signals.submit("BTCZAR", "BUY", 0.9, True)  # after the period
    signals, skipped = signals_from_database(url, start, start + timedelta(hours=1))
    assert skipped == 1
    assert [s.original_id for s in signals] == [
        first["signal_id"],
        second["signal_id"],
        third["signal_id"],
    ]
    btc, eth, sol = signals
    assert btc.at == start and btc.pair == "BTCZAR" and btc.side == "BUY"
    assert btc.confidence == 0.85 and btc.llm_approved
    assert btc.trade_params() == {"stop_loss_pct": 0.02, "take_profit_pct": 0.06, "leverage": 1.0}
    assert btc.payload is not None
    assert btc.payload["predicted_return"] == 0.03 and btc.payload["llm_reasoning"] == "breakout"
    assert btc.payload["expires_after_seconds"] > 0 and btc.payload["source"] == "python"
    assert btc.payload["recorded"]["status"] == "PENDING"
    assert eth.at == start + timedelta(minutes=10) and eth.side == "SELL"
    assert not eth.llm_approved and eth.position_size_zar == Decimal("5000.0")
    assert eth.payload is not None and eth.payload["recorded"]["status"] == "REJECTED"
    assert sol.at == start + timedelta(minutes=30) and sol.trade_params() == {}
    # a pair list leaves the other pairs out, counted as not replayable
    only_btc, skipped = signals_from_database(url, start, start + timedelta(hours=1), ["BTCZAR"])
    assert [s.pair for s in only_btc] == ["BTCZAR"] and skipped == 3
    # [start, end): a signal at the end is left out
    edge, _ = signals_from_database(url, start, start + timedelta(minutes=10))
    assert [s.pair for s in edge] == ["BTCZAR"]


def test_a_database_that_cannot_be_read(tmp_path: Path):
    start, end = T0, T0 + timedelta(days=1)
    missing = tmp_path / "nowhere.db"
    with pytest.raises(InvalidInput) as caught:
        signals_from_database("sqlite:///" + str(missing), start, end)
    assert caught.value.field == "database_url" and "no such file" in caught.value.allowed
    assert not missing.exists()  # nothing created
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x INTEGER)").connection.close()
    with pytest.raises(InvalidInput) as caught:
        signals_from_database("sqlite:///" + str(other), start, end)
    assert "no signals table" in caught.value.allowed
    with pytest.raises(InvalidInput) as caught:
        signals_from_database("nosuchdb://x", start, end)
    assert caught.value.field == "database_url"
    with pytest.raises(InvalidInput) as caught:
        signals_from_database("sqlite:///" + str(other), end, start)
    assert caught.value.field == "start/end"


# --- the real candles --------------------------------------------------------------------------


def test_ema_crossings_on_the_2023_btc_5m_candles():
    path = SHARED_DATA / "binance_spot" / "BTC-USDT_5m.csv"
    if not path.exists():
        pytest.skip(f"real candles not available: {path} is missing (shared/data not laid out)")
    frame = pd.read_csv(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    year = (frame["timestamp"] >= "2023-01-01") & (frame["timestamp"] < "2024-01-01")
    frame = frame[year].reset_index(drop=True)
    signals = signals_from_strategy(load_strategy("ema-cross"), {"BTCZAR": frame}, 300)
    print(f"EMA12/EMA26 crossings (BUY) on BTC 5m, 2023: {len(signals)} over {len(frame)} bars")
    expected = crossings(frame["close"].astype(float).tolist())
    assert len(signals) > 0
    assert [s.at for s in signals] == [
        frame["timestamp"][i].to_pydatetime() + timedelta(minutes=5) for i in expected
    ]
