"""The replay's other must-show tests (issue 19): a recorded-signal replay under a tighter
drawdown limit, sweeps equal the runs one by one, bad input named and never a complete-looking
partial run, the CLI. (Replay and live agree: ``tests/test_replay_engine.py``.)
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from replay_support import (
    PAIRS,
    SETTINGS,
    START,
    Book,
    LiveLoop,
    book,
    make_signals,
    minute_bars,
    operator,
    operator_again,
    recorded_request,
    sqlite_url,
    write_csv,
)

import helios
from helios.clock import ManualClock
from helios.errors import InvalidInput
from helios.replay.candles import load_candle_file
from helios.replay.service import ReplayRequest
from helios.replay.spec import parse_sweep

# --- 2. a recorded-signal replay under a tighter drawdown limit ---------------------------------

SMALL_MINUTES = 120
SMALL_SIGNALS = 40


def traded_operator(folder: Path) -> tuple[list[tuple[datetime, float]], Book]:
    """An operator's database that traded 2 hours of a falling market (losses: a drawdown)
    through the live loop under the default limits; returns the drawdown the watchdog saw at
    each instant and the book."""
    hx, clock = operator(folder, {})
    bars = {
        pair: minute_bars(pair, START, SMALL_MINUTES, first, seed=20 + i, drift=-0.0002)
        for i, (pair, first) in enumerate(PAIRS.items())
    }
    signals = make_signals(list(PAIRS), START, SMALL_MINUTES, SMALL_SIGNALS, seed=3)
    seen: list[tuple[datetime, float]] = []

    def observe(t: datetime) -> None:
        v = hx.ledger.valuation()
        peak = max(v.peak_equity, v.equity)
        seen.append((t, float(1 - v.equity / peak)))

    LiveLoop(hx, clock, bars, observe).run(START, SMALL_MINUTES, signals)
    hx.close()
    return seen, book(folder / "operator.db")


def _recorded(limits: dict[str, float]) -> ReplayRequest:
    return recorded_request(SMALL_MINUTES, limits)


def test_recorded_replay_under_a_tighter_drawdown_limit(tmp_path: Path) -> None:
    seen, original = traded_operator(tmp_path)
    worst = max(dd for _t, dd in seen)
    assert worst > 0.001, worst  # the market fell on open positions
    tighter = round(worst * 0.6, 6)
    crossed = next(t for t, dd in seen if dd > tighter)
    executed = [s for s in original.signals if s.status == "EXECUTED"]
    after = [
        s
        for s in executed
        if s.created_at is not None and s.created_at > crossed - timedelta(minutes=1)
    ]
    assert after, "nothing traded after the drawdown passed the tighter limit"

    hx, _clock = operator_again(tmp_path)
    try:
        same = hx.replay.run(_recorded({}))
        assert same.status == "COMPLETE", same.error
        assert book(same.path).positions == original.positions  # the original limits: as it was

        run = hx.replay.run(_recorded({"max_drawdown_pct": tighter}))
        assert run.status == "COMPLETE", run.error
        replayed = book(run.path)
        rejections = hx.replay.rejections(run.id)
    finally:
        hx.close()
    assert "max_drawdown_pct" in rejections, rejections
    refused = [
        d for d in replayed.decisions if not d.passed and "max_drawdown_pct" in d.violated_limits
    ]
    assert all("drawdown" in d.reason.lower() for d in refused)
    # the signals the tighter limit refused: exactly those the original executed from the first
    # instant at which its drawdown passed the tighter limit
    newly = {
        (s.pair, s.created_at)
        for s, o in zip(replayed.signals, original.signals, strict=True)
        if o.status == "EXECUTED" and s.status == "REJECTED"
    }
    expected = {(s.pair, s.created_at) for s in after}
    assert newly == expected
    for s in replayed.signals:
        if s.status == "REJECTED" and (s.pair, s.created_at) in newly:
            assert "drawdown" in s.status_reason.lower(), s.status_reason


# --- files for the sweeps, the bad input and the CLI ---------------------------------------------

HOURS_BEFORE = 24 * 40  # 40 days of 1h bars before the period: the statistics' daily returns
PERIOD_HOURS = 36
PERIOD = START  # the period: 36 hours from START


def hourly_files(folder: Path) -> tuple[tuple[str, ...], Path]:
    """1h candle CSVs per pair (40 days of history before the period, 36 hours in it) and a CSV
    of 24 signals in the period: the sources of a replay that needs no live run."""
    first_bar = PERIOD - timedelta(hours=HOURS_BEFORE)
    specs = []
    for i, (pair, first) in enumerate(PAIRS.items()):
        frame = minute_bars(
            pair,
            first_bar,
            HOURS_BEFORE + PERIOD_HOURS,
            first,
            seed=40 + i,
            vol=0.008,
            bar_minutes=60,
        )
        path = folder / f"{pair}_1h.csv"
        write_csv(frame, path)
        specs.append(f"{pair}={path}")
    signals = make_signals(list(PAIRS), PERIOD, PERIOD_HOURS * 60, 24, seed=5)
    path = folder / "signals.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "pair", "side", "confidence", "size", "stop", "target"])
        for s in signals:
            p = s.trade_params
            writer.writerow(
                [
                    s.at.isoformat(),
                    s.pair,
                    s.side,
                    s.confidence,
                    p["position_size_zar"],
                    p["stop_loss_pct"] * 2,
                    p["take_profit_pct"] * 2,
                ]
            )
    return tuple(specs), path


def file_request(specs: tuple[str, ...], signals: Path, **extra: Any) -> ReplayRequest:
    return ReplayRequest(
        start=PERIOD,
        end=PERIOD + timedelta(hours=PERIOD_HOURS),
        candles=specs,
        signals=str(signals),
        settings=SETTINGS,
        **extra,
    )


def plain_operator(folder: Path) -> helios.Helios:
    """An operator's database with nothing in it (the replays read files)."""
    return helios.connect(
        sqlite_url(folder / "operator.db"),
        clock=ManualClock(START),
        market_feed="manual",
        pairs=list(PAIRS),
        alert_urls=None,
        replay_dir=str(folder / "runs"),
    )


# --- 3. sweeps ---------------------------------------------------------------------------------


def test_a_sweep_gives_the_answers_of_the_runs_one_by_one(tmp_path: Path) -> None:
    specs, signals = hourly_files(tmp_path)
    grid = parse_sweep(["max_drawdown_pct=0.05,0.5", "max_leverage=1,2"])
    assert grid == [
        {"max_drawdown_pct": 0.05, "max_leverage": 1.0},
        {"max_drawdown_pct": 0.05, "max_leverage": 2.0},
        {"max_drawdown_pct": 0.5, "max_leverage": 1.0},
        {"max_drawdown_pct": 0.5, "max_leverage": 2.0},
    ]
    request = file_request(specs, signals)
    hx = plain_operator(tmp_path)
    try:
        swept = hx.replay.sweep(request, grid, workers=2)
        alone = [hx.replay.run(replace(request, limits=combo)) for combo in grid]
        assert [r.status for r in swept + alone] == ["COMPLETE"] * 8
        for combo, a, b in zip(grid, swept, alone, strict=True):
            assert a.figures == b.figures, combo
            assert a.spec["rules"]["limits"] == {**b.spec["rules"]["limits"]} == combo
            trades_a = hx.replay.trades(a.id).drop(columns=["position_id"])
            trades_b = hx.replay.trades(b.id).drop(columns=["position_id"])
            assert trades_a.equals(trades_b), combo
            assert hx.replay.rejections(a.id) == hx.replay.rejections(b.id)
            assert book(a.path).positions == book(b.path).positions
        # each combination ran under its own limits and traded
        for combo, run in zip(grid, swept, strict=True):
            assert run.spec["rules"]["limits"] == combo
        assert all(len(hx.replay.trades(r.id)) > 0 for r in alone)
    finally:
        hx.close()


# --- 4. bad input ------------------------------------------------------------------------------


def _complete(hx: helios.Helios) -> list[str]:
    return [r.id for r in hx.replay.runs() if r.complete]


def test_a_strategy_that_raises_names_the_file_and_no_run_is_complete(tmp_path: Path) -> None:
    specs, _signals = hourly_files(tmp_path)
    strategy = tmp_path / "broken_strategy.py"
    strategy.write_text("def signals(pair, candles):\n    raise RuntimeError('boom')\n")
    hx = plain_operator(tmp_path)
    try:
        with pytest.raises(InvalidInput) as caught:
            hx.replay.run(
                ReplayRequest(
                    start=PERIOD,
                    end=PERIOD + timedelta(hours=PERIOD_HOURS),
                    candles=specs,
                    strategy=str(strategy),
                )
            )
        assert str(strategy) in str(caught.value.value)
        assert "RuntimeError" in caught.value.allowed and "boom" in caught.value.allowed
        assert _complete(hx) == []
    finally:
        hx.close()


def test_bad_candles_are_named_by_file_and_row(tmp_path: Path) -> None:
    specs, signals = hourly_files(tmp_path)
    source = Path(specs[0].split("=", 1)[1])
    frame = pd.read_csv(source)
    # a hole: 3 bars missing in the period, and fill off
    holed = tmp_path / "holed.csv"
    cut = HOURS_BEFORE + 5
    frame.drop(index=[cut, cut + 1, cut + 2]).to_csv(holed, index=False)
    with pytest.raises(InvalidInput) as caught:
        load_candle_file("BTCZAR", holed, start=PERIOD, fill_gaps=False)
    assert str(holed) in caught.value.field and "BTCZAR" in caught.value.field
    assert "3 bars missing" in str(caught.value.value)
    assert "hole" in caught.value.allowed
    # a high below the low on data row 7
    crossed = tmp_path / "crossed.csv"
    bad = frame.copy()
    bad.loc[6, "high"] = bad.loc[6, "low"] - 1
    bad.to_csv(crossed, index=False)
    hx = plain_operator(tmp_path)
    try:
        with pytest.raises(InvalidInput) as caught:
            hx.replay.run(file_request((f"BTCZAR={crossed}", *specs[1:]), signals))
        assert caught.value.field.startswith(f"{crossed} row 7 ")
        assert caught.value.field.endswith("column high")
        assert caught.value.allowed == "high >= low"
        # a period with no data: the stored candles (none) and a file's
        with pytest.raises(InvalidInput) as caught:
            hx.replay.run(
                ReplayRequest(
                    start=datetime(2020, 1, 1, tzinfo=UTC),
                    end=datetime(2020, 1, 2, tzinfo=UTC),
                    signals="recorded",
                )
            )
        assert caught.value.field == "period"
        assert "2020-01-01 00:00 to 2020-01-02 00:00" in str(caught.value.value)
        with pytest.raises(InvalidInput) as caught:
            hx.replay.run(
                replace(
                    file_request(specs, signals),
                    start=datetime(2020, 1, 1, tzinfo=UTC),
                    end=datetime(2020, 1, 2, tzinfo=UTC),
                )
            )
        assert "period" in caught.value.field and "2020-01-01" in str(caught.value.value)
        assert _complete(hx) == []
        assert hx.replay.runs() == []  # nothing was started
    finally:
        hx.close()


def test_an_unknown_limit_in_a_sweep_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_sweep(["max_leverag=1,2"])
    assert (caught.value.field, caught.value.value) == ("--sweep", "max_leverag")
    assert "max_leverage" in caught.value.allowed
    specs, signals = hourly_files(tmp_path)
    done = _cli(
        tmp_path,
        "--signals",
        str(signals),
        *[a for spec in specs for a in ("--candles", spec)],
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-03",
        "--sweep",
        "max_leverag=1",
    )
    assert done.returncode == 2, done.stderr
    assert "max_leverag" in done.stderr and "--sweep" in done.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.sqlite"))


def test_a_run_that_crashes_midway_is_failed_never_complete(tmp_path: Path) -> None:
    specs, signals = hourly_files(tmp_path)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 5:
            raise RuntimeError("the machine fell over")

    hx = plain_operator(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="fell over"):
            hx.replay.run(file_request(specs, signals), progress)
        runs = hx.replay.runs()
        assert [r.status for r in runs] == ["FAILED"]
        assert "RuntimeError: the machine fell over" in (runs[0].error or "")
        assert runs[0].figures is None
        assert _complete(hx) == []
    finally:
        hx.close()


# --- 5. the CLI --------------------------------------------------------------------------------


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HELIOS_ENV_FILE": "",
        "DATABASE_URL": sqlite_url(folder / "cli.db"),
        "REPLAY_DIR": str(folder / "runs"),
        "MARKET_FEED": "manual",
        "PAIRS": ",".join(PAIRS),
    }
    return subprocess.run(
        # this Python, wherever its environment is (CI's is not the checkout's .venv)
        [sys.executable, "-m", "helios.cli", "replay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_cli_prints_json_writes_the_trades_and_lists_the_runs(tmp_path: Path) -> None:
    specs, signals = hourly_files(tmp_path)
    trades = tmp_path / "trades.csv"
    done = _cli(
        tmp_path,
        "--signals",
        str(signals),
        *[a for spec in specs for a in ("--candles", spec)],
        "--from",
        PERIOD.isoformat(),
        "--to",
        (PERIOD + timedelta(hours=PERIOD_HOURS)).isoformat(),
        "--json",
        "--quiet",
        "--trades-csv",
        str(trades),
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "COMPLETE"
    assert doc["trades"] >= 1
    with trades.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "pair",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "exit_reason",
        "net_pnl",
    ]
    assert len(rows) - 1 >= doc["trades"]
    for row in rows[1:]:
        for text in row[1:3]:
            when = datetime.fromisoformat(text)
            assert when.utcoffset() == timedelta(0) and text.endswith("+00:00"), text
        Decimal(row[3]), Decimal(row[4]), Decimal(row[6])
    listed = _cli(tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr
    assert doc["run"] in listed.stdout and "COMPLETE" in listed.stdout
    as_json = json.loads(_cli(tmp_path, "--list", "--json").stdout)
    assert [r["run"] for r in as_json] == [doc["run"]]
