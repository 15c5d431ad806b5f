"""Refusals decided from the book in memory (``helios.replay.refusals``, step 3 of
``docs/replay.md``) at their edges: one step's signals that mix refusals the book can decide with
a duplicate, a signal sized by the risk manager and one that opens a position. The run that
decides refusals in memory and the run that sends every signal through the live calls
(``verify_book``, which also checks every decision's inputs against the book) leave the same
rows in every table, in the same order, with the same ids.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from replay_support import minute_bars, run_rows, write_csv

import helios
from helios.replay.service import ReplayRequest

START = datetime(2026, 3, 2, tzinfo=UTC)
BIG = 30_000  # 30% of a R100,000 account: refused by max_single_position_pct (20%)


def _signals(path: Path) -> Path:
    """(minutes after the start, side, confidence, size); size None: sized by the risk manager."""
    rows = [
        (12, "BUY", 0.8, BIG),  # refused, alone at its step: from memory
        (32, "BUY", 0.8, BIG),  # refused, from memory
        (32, "BUY", 0.8, BIG),  # the same signal again: a duplicate, for the live intake
        (32, "BUY", 0.7, BIG),  # after the duplicate: the live calls (refused there)
        (52, "BUY", 0.8, BIG),  # refused, from memory
        (52, "BUY", 0.75, None),  # sized by the risk manager: the live calls
        (92, "SELL", 0.9, BIG),  # refused
        (112, "BUY", 0.6, 2_000),  # passes: the live calls open it
        (132, "BUY", 0.65, BIG),  # refused
    ]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["timestamp", "pair", "side", "confidence", "size"])
        for minute, side, confidence, size in rows:
            at = START + timedelta(minutes=minute, seconds=7)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([stamp, "BTCZAR", side, confidence, "" if size is None else size])
    return path


def _request(tmp_path: Path) -> ReplayRequest:
    """Four hours of 5m bars from START, and the signals above."""
    # 30 days before the start too: the market statistics' warm-up (no check fails closed)
    history = 30 * 288
    first = START - timedelta(days=30)
    bars = minute_bars("BTCZAR", first, history + 48, 1_200_000.0, seed=3, bar_minutes=5)
    candles = write_csv(bars, tmp_path / "BTC-5m.csv")
    return ReplayRequest(
        start=START,
        end=START + timedelta(hours=4),
        candles=(f"BTCZAR={candles}",),
        signals=str(_signals(tmp_path / "signals.csv")),
        limits={"max_single_position_pct": 0.2},
    )


def test_a_step_mixing_memory_refusals_and_live_calls_leaves_the_live_rows(tmp_path: Path):
    request = _request(tmp_path)
    url = f"sqlite:///{tmp_path / 'helios.db'}"
    with helios.connect(url, replay_dir=str(tmp_path / "replays"), market_feed="manual") as hx:
        fast = hx.replay.run(request)
        checked = hx.replay.run(request, verify_book=True)
    assert fast.status == checked.status == "COMPLETE", (fast.error, checked.error)
    assert checked.spec["book_check"]["compared"] >= 4, checked.spec
    assert fast.spec["refusals_in_memory"] >= 3, fast.spec
    mine, live = run_rows(fast.path), run_rows(checked.path)
    for table in live:
        assert mine[table] == live[table], table
    with helios.connect(f"sqlite:///{fast.path}", market_feed="manual") as run:
        signals = run.signals.recent(20)
    statuses = Counter(s["status"] for s in signals)
    assert statuses == {"REJECTED": 8, "EXECUTED": 1}, [s["status_reason"] for s in signals]
    assert sum("duplicate of signal" in (s["status_reason"] or "") for s in signals) == 1


def test_a_run_that_fails_while_writes_are_held_writes_them_first(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A light step holds its bars (``helios.replay.behind``); a run that fails there (here: the
    signals' intake raises at the step of 92 minutes, whose signal is known at the bar opening
    at 95) is FAILED, and its file still holds every bar up to that bar's open, with its latest
    prices: the trace of the run up to the failure, as when every step wrote at once."""
    from sqlalchemy import create_engine, text

    from helios.replay.refusals import MemoryRefusals

    failing_at = START + timedelta(minutes=95)
    take = MemoryRefusals.take

    def failing(self: Any, hx: Any, raws: Any, now: datetime, *args: Any, **kwargs: Any) -> Any:
        if now >= failing_at:
            raise RuntimeError("the intake broke")
        return take(self, hx, raws, now, *args, **kwargs)

    monkeypatch.setattr(MemoryRefusals, "take", failing)
    request = _request(tmp_path)
    url = f"sqlite:///{tmp_path / 'helios.db'}"
    with helios.connect(url, replay_dir=str(tmp_path / "replays"), market_feed="manual") as hx:
        with pytest.raises(RuntimeError, match="the intake broke"):
            hx.replay.run(request, run_id="broken")
        run = hx.replay.get("broken")
    assert run.status == "FAILED" and "the intake broke" in (run.error or ""), run.error
    engine = create_engine(f"sqlite:///{run.path}")
    try:
        with engine.connect() as conn:
            newest = conn.execute(
                text("SELECT max(ts) FROM candles WHERE interval_seconds = 300")
            ).scalar_one()
            observed = conn.execute(text("SELECT ts FROM latest_prices")).scalar_one()
    finally:
        engine.dispose()
    stamp = failing_at.replace(tzinfo=None).isoformat(sep=" ")
    assert str(newest).startswith(stamp) and str(observed).startswith(stamp), (newest, observed)
