"""``notebooks/replay_sweep.ipynb`` executed for real (nbclient, through ``helios.cli.notebooks``,
as ``tests/test_notebooks.py`` runs the others): a 2x2 limits sweep over a few hours of synthetic
5m candles written to ``tmp_path`` (ema-cross, the freqtrade rules, two worker processes, the runs
in a ``REPLAY_DIR`` under ``tmp_path``), its table and per-run text checked against the library's
figures of the stored runs (``hx.replay.runs()``, ``get(id).figures``, ``rejections``); then its
default parameters on a seeded book (its recorded signals and stored 1m candles) and on a fresh
database (nothing to sweep, said so, nothing run); then a bad input, refused by name."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import helios
from helios.cli import notebooks
from helios.cli.replay import figures_document, figures_lines, sweep_table
from helios.errors import InvalidInput
from helios.replay.candles import from_frame
from helios.replay.sources import StrategyFailed
from helios.signals.validation import SignalRejected
from tests.conftest import new_sqlite_url
from tests.notebook_support import run_notebook, seed_book

T0 = datetime(2024, 3, 4, 20, tzinfo=UTC)
# 30 hours of 5m bars: ema-cross entries, stops, an end-of-data close, and two trading-day rolls
# (midnight in Johannesburg, 22:00 UTC): two points on each equity curve
BARS = 360
SWEEP = ["max_drawdown_pct=0.10,0.15", "max_leverage=1,2"]


def write_candles(path: Path, level: float, phase: float) -> str:
    """5m candles in the OHLCV layout: a slow sine wave and a ripple, so the EMAs cross a few
    times (a handful of trades: each replay step costs tens of milliseconds)."""
    rows, previous = [], level
    for i in range(BARS):
        close = level * (1 + 0.03 * math.sin(i / 25 + phase) + 0.004 * math.sin(i / 2.3))
        rows.append(
            {
                "timestamp": (T0 + timedelta(minutes=5 * i)).isoformat(),
                "open": previous,
                "high": max(previous, close) * 1.002,
                "low": min(previous, close) * 0.998,
                "close": close,
                "volume": 1.0,
            }
        )
        previous = close
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """What the kernel inherits (as in test_notebooks): no developer's .env, the Agg backend,
    the manual feed, and the runs in tmp_path."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("REPLAY_DIR", str(runs))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MARKET_FEED", "manual")
    monkeypatch.setenv("HELIOS_ENV_FILE", "")
    return runs


def run(**parameters: object) -> tuple[str, list[str]]:
    """Run the notebook: its printed text and the plain text of what it displayed (a table's
    ``repr``), and the MIME types displayed."""
    return run_notebook("replay_sweep", parameters, html=False)


def library_rows(hx: helios.Helios, names: list[str]) -> list[tuple[dict[str, float], dict]]:
    """The stored runs as the library reads them: (the swept limits, figures_document), in the
    grid's order (the first limit varying slowest), from hx.replay.runs()."""
    runs = hx.replay.runs()
    assert all(r.complete for r in runs), [(r.id, r.error) for r in runs]
    rows = []
    for r in runs:
        limits = r.spec["rules"]["limits"]
        combo = {name: float(limits[name]) for name in names}
        rows.append((combo, figures_document(hx.replay.get(r.id), hx.replay.rejections(r.id))))
    return sorted(rows, key=lambda row: tuple(row[0].values()))


def test_the_sweep_notebook_shows_the_library_figures(
    kernel_env: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = new_sqlite_url(sqlite_template, tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    btc = write_candles(tmp_path / "btc.csv", 1_000_000.0, 0.0)
    eth = write_candles(tmp_path / "eth.csv", 50_000.0, 1.5)
    text, kinds = run(
        candles=[f"BTCZAR={btc}", f"ETHZAR={eth}"],
        strategy="ema-cross",
        rules="freqtrade",
        start="2024-03-04T20:00",
        end="2024-03-06T02:00",
        sweep=SWEEP,
        workers=2,
        name="test sweep",
    )
    with helios.connect(
        url, market_feed="manual", reconcile=False, replay_dir=str(kernel_env)
    ) as hx:
        rows = library_rows(hx, ["max_drawdown_pct", "max_leverage"])
        assert len(rows) == 4
        stored = {doc["run"]: hx.replay.get(doc["run"]).figures for _c, doc in rows}
        points = {doc["run"]: len(hx.replay.equity(doc["run"])) for _c, doc in rows}
    assert [combo for combo, _d in rows] == [
        {"max_drawdown_pct": d, "max_leverage": lev} for d in (0.10, 0.15) for lev in (1.0, 2.0)
    ]
    assert "Sweep: 4 combination(s) of max_drawdown_pct, max_leverage" in text
    # the one table: exactly the library's table of the stored runs, in the grid's order
    with pd.option_context("display.max_columns", None, "display.width", 250):
        assert repr(sweep_table(rows)) in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()[:1]}
    for _combo, doc in rows:
        figures = stored[doc["run"]]
        assert figures is not None and figures["closed_positions"] > 0
        row = lines[doc["run"]].split()
        assert row[3:6] == [
            "COMPLETE",
            str(figures["closed_positions"]),
            f"{float(figures['realized_pnl']):.2f}",
        ]
        assert "\n".join(figures_lines(doc)) in text  # each run, as `helios replay --show`
    # each run's curve: its first snapshot, one per day roll, its last (the same period: as many)
    assert len(set(points.values())) == 1 and min(points.values()) >= 3
    assert "no equity snapshot" not in text
    assert kinds.count("image/png") == 1  # the equity curves, on one chart


def test_the_defaults_sweep_the_recorded_signals_of_the_last_week(
    kernel_env: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    book = seed_book(new_sqlite_url(sqlite_template, tmp_path))  # 3 signals, 1m candles, now
    monkeypatch.setenv("DATABASE_URL", book.url)
    text, kinds = run()
    assert "Signals: recorded" in text and "Prices: the stored 1m candles" in text
    with helios.connect(
        book.url, market_feed="manual", reconcile=False, replay_dir=str(kernel_env)
    ) as hx:
        rows = library_rows(hx, ["max_drawdown_pct"])
        points = {doc["run"]: len(hx.replay.equity(doc["run"])) for _c, doc in rows}
    assert [combo["max_drawdown_pct"] for combo, _d in rows] == [0.10, 0.15, 0.20]
    with pd.option_context("display.max_columns", None, "display.width", 250):
        assert repr(sweep_table(rows)) in text
    for _combo, doc in rows:  # the refused SOLZAR signal refused again, by the same limit
        assert doc["rejections"] == {"max_single_position_pct": 1}
    assert "rejected max_single_position_pct" in text
    for run_id, count in points.items():  # minutes of candles: a day roll only near midnight
        assert (f"Run {run_id}: no equity snapshot" in text) == (count == 0)
    assert kinds.count("image/png") == (1 if any(points.values()) else 0)


def test_the_defaults_on_a_fresh_database_say_there_is_nothing_to_sweep(
    kernel_env: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", new_sqlite_url(sqlite_template, tmp_path))
    text, kinds = run(workers=1)
    assert "Nothing to sweep: period '" in text
    assert "a period with stored 1m candles (none of BTCZAR" in text
    assert "No run." in text and kinds.count("image/png") == 0
    assert not kernel_env.exists() or not list(kernel_env.glob("*.sqlite"))


def test_candle_files_without_the_period_fail_the_notebook_naming_them(
    kernel_env: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", new_sqlite_url(sqlite_template, tmp_path))
    btc = write_candles(tmp_path / "btc.csv", 1_000_000.0, 0.0)
    with pytest.raises(notebooks.NotebookFailed) as failed:  # raised in a worker process
        run(
            candles=[f"BTCZAR={btc}"],
            strategy="ema-cross",
            start="2024-04-01",
            end="2024-04-02",
            sweep=["max_leverage=1,2"],
            workers=2,
        )
    assert "InvalidInput" in str(failed.value) and "btc.csv period (BTCZAR)" in str(failed.value)
    assert "BrokenProcessPool" not in str(failed.value)
    assert not list(kernel_env.glob("*.sqlite"))  # no run, complete or not


def test_invalid_input_survives_the_trip_from_a_worker_process():
    for error in (
        InvalidInput("period", "2024-04-01", "a period with bars"),
        StrategyFailed("strategy", "mine.py", "raised ZeroDivisionError: division by zero"),
        SignalRejected(InvalidInput("confidence", 1.5, "a number > 0 and <= 1"), 7),
    ):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert (back.field, back.value, back.allowed) == (error.field, error.value, error.allowed)
    assert pickle.loads(pickle.dumps(error)).signal_id == 7


def test_stored_candles_keep_their_interval_with_one_bar_or_gaps():
    one = pd.DataFrame(
        {"timestamp": [T0 + timedelta(minutes=7)], "open": [1.0], "high": [1.0], "low": [1.0]}
        | {"close": [1.0], "volume": [0.0]}
    )
    with pytest.raises(InvalidInput, match="86400 s grid"):  # inferred: one bar reads as a day
        from_frame("BTCZAR", one, source="stored 1m")
    assert from_frame("BTCZAR", one, source="stored 1m", interval=60).interval == 60
    gappy = pd.concat([one, one.assign(timestamp=T0 + timedelta(minutes=9))])
    filled = from_frame("BTCZAR", gappy, source="stored 1m", interval=60)
    assert (filled.interval, len(filled), filled.filled.tolist()) == (60, 3, [False, True, False])
    with pytest.raises(InvalidInput, match="stored 1m interval"):
        from_frame("BTCZAR", one, source="stored 1m", interval=7)
