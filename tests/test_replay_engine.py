"""Replay and live agree (issue 19), to the cent: the same signals and 1m prices stepped bar by
bar through the live calls the scheduler makes (``tests/replay_support.py``'s ``LiveLoop``, on a
ManualClock), and through ``hx.replay.run`` skipping ahead and stepping every bar, give the same
signals, decisions, positions, fills, snapshots, cash and equity. Markets are synthetic 1m candles
with 2-decimal prices (exact through float64 and back), every database a real SQLite file under
``tmp_path``. The other must-show tests (a tighter drawdown limit, sweeps, bad input, the CLI)
are in ``tests/test_replay_runs.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from replay_support import (
    Book,
    assert_same,
    book,
    replay_live,
    run_live,
)

from helios.money import price as to_price

# --- 1. replay and live agree --------------------------------------------------------------------

MINUTES = 240  # 4 hours of 1m bars on 3 pairs: see ``live_run``; a week: test_replay_week.py
SIGNALS = 200


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Book]:
    """200 signals on 3 pairs and 4 hours of 1m prices (a day roll at 03:00 UTC, a gap of 20% at
    03:25 that halts on the daily loss and closes everything), stepped bar by bar through the
    live calls (``LiveLoop``) on the operator's database. Dense: a signal a minute or so, so
    positions overlap, pairs are locked and limits refuse; ``tests/test_replay_week.py`` runs
    the issue's week of 1m bars with the same 200 signals spread over it."""
    folder = tmp_path_factory.mktemp("live")
    return folder, run_live(folder, MINUTES, SIGNALS)


def _replay_live(folder: Path, *, step_every_bar: bool) -> Any:
    return replay_live(folder, MINUTES, step_every_bar=step_every_bar)


def test_the_live_run_has_every_case(live_run: tuple[Path, Book]) -> None:
    """What the comparison needs happened: every exit (a trailing stop among the stops),
    rejections by a check and by a pair lock, the day roll, the daily-loss halt (its close-out
    finds what the gap bar's close left open: the stops act at that close first)."""
    _folder, live = live_run
    assert len(live.signals) == SIGNALS
    statuses = Counter(p.status for p in live.positions)
    for status in ("STOPPED_OUT", "TAKE_PROFIT", "TIMEOUT"):
        assert statuses[status] >= 1, statuses
    trailed = [
        p
        for p in live.positions
        if p.status == "STOPPED_OUT"
        and p.trailing_activation_pct is not None
        and p.entry_price is not None
        and p.stop_loss_price is not None
        and (
            p.stop_loss_price > to_price(p.entry_price * (1 - p.stop_loss_pct))
            if p.side == "BUY"
            else p.stop_loss_price < to_price(p.entry_price * (1 + p.stop_loss_pct))
        )
    ]
    assert trailed, "no trailing stop moved and was hit"
    limits = Counter(name for d in live.decisions if not d.passed for name in d.violated_limits)
    assert limits["max_single_position_pct"] >= 1, limits
    assert any("locked" in d.reason for d in live.decisions if not d.passed)
    assert any("daily loss" in s.status_reason for s in live.signals if s.status == "REJECTED")
    assert any(s.halted for s in live.snapshots) or statuses["EMERGENCY_CLOSE"]
    assert len(live.snapshots) >= 1  # the day roll's
    assert live.open_positions == 0


def test_replay_skipping_ahead_agrees_with_live(live_run: tuple[Path, Book]) -> None:
    """The recorded signals replayed over the stored candles (skipping ahead, the default) give
    the same decisions, positions, fills, snapshots, cash and equity, exactly."""
    folder, live = live_run
    run = _replay_live(folder, step_every_bar=False)
    assert run.status == "COMPLETE", run.error
    assert run.steps < MINUTES + 1  # it did skip
    assert run.light_steps > 0  # and some steps were the signals' alone
    # and some refusals were decided from the book in memory, their records written behind
    assert run.spec["refusals_in_memory"] > 0, run.spec
    assert_same(live, book(run.path))


def test_a_book_held_in_memory_gives_the_decisions_the_inputs_they_stored(
    live_run: tuple[Path, Book],
) -> None:
    """Step 2 of docs/replay.md: every decision the book in memory can know gets from it,
    through the same pure ``inputs_of``, the ``Inputs`` the live decision stored, field by
    field; a disagreement would fail the run. The run is still the live run, exactly. This
    run is dense (most steps are full: the book is read again after them), so few decisions
    are the book's to know; the parity run's are nearly all (tests/test_replay_parity.py)."""
    folder, live = live_run
    run = replay_live(folder, MINUTES, step_every_bar=False, verify_book=True)
    assert run.status == "COMPLETE", run.error
    checked = run.spec["book_check"]
    assert checked["compared"] + checked["unknown"] == len(live.decisions)
    assert checked["compared"] >= 5, checked
    assert_same(live, book(run.path))


def test_replay_stepping_every_bar_agrees_with_live(live_run: tuple[Path, Book]) -> None:
    folder, live = live_run
    run = _replay_live(folder, step_every_bar=True)
    assert run.status == "COMPLETE", run.error
    assert run.steps == MINUTES + 1
    assert run.light_steps == 0
    assert_same(live, book(run.path))
