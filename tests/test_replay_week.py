"""Replay and live agree over the issue's week (issue 19, "Must show"): the same 200 signals and
a week of 1m prices on 3 pairs (10,080 bars each), stepped bar by bar through the live calls the
scheduler makes (``replay_support.LiveLoop`` on a ManualClock: prices, the trading loop, the stop
monitor, the watchdog, the day roll), and through ``hx.replay.run`` (skipping ahead, as users run
it), give the same signals, decisions, positions, fills, snapshots, cash and equity, to the cent.

The signals are the 4-hour test's (``tests/test_replay_engine.py``) spread over seven days: one
every 50 minutes or so, so this run is about the long stretch (seven day rolls, positions held
across hours, the skip over days with nothing to do) where that one is about density (pair
locks, overlapping positions, the daily-loss halt: the week's 20% gap, 35 minutes before the
end, finds nothing open, so the watchdog judges every step and never halts). About 2.5 minutes
on SQLite, the live run most of it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from replay_support import Book, assert_same, book, replay_live, run_live

pytestmark = pytest.mark.slow

WEEK = 7 * 24 * 60  # minutes
SIGNALS = 200


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Book]:
    folder = tmp_path_factory.mktemp("week")
    return folder, run_live(folder, WEEK, SIGNALS)


def test_a_week_of_live_trading_has_what_the_comparison_needs(week: tuple[Path, Book]) -> None:
    _folder, live = week
    assert len(live.signals) == SIGNALS
    statuses = Counter(p.status for p in live.positions)
    for status in ("STOPPED_OUT", "TAKE_PROFIT", "TIMEOUT"):
        assert statuses[status] >= 1, statuses
    refused = Counter(name for d in live.decisions if not d.passed for name in d.violated_limits)
    assert refused["max_single_position_pct"] >= 1, refused
    rolled = {s.ts.date() for s in live.snapshots if s.ts is not None}
    # the first day's, the 7 day rolls' (03:00 UTC, Monday to Sunday) and the end's (Monday 9)
    assert len(rolled) == 8, sorted(rolled)
    assert live.open_positions == 0


def test_a_week_replayed_agrees_with_live_to_the_cent(week: tuple[Path, Book]) -> None:
    folder, live = week
    run = replay_live(folder, WEEK, step_every_bar=False)
    assert run.status == "COMPLETE", run.error
    assert run.steps < WEEK // 10  # it skipped the bars where nothing could happen
    assert run.spec["refusals_in_memory"] > 0, run.spec  # some decided from the book in memory
    assert_same(live, book(run.path))
