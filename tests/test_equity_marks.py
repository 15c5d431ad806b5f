"""The pure rules behind the marks and the re-arming (issue 14): ``helios.equity_marks`` and
``helios.rearm``, as tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from helios.equity_marks import EquityMarks, updated_marks
from helios.rearm import rearm

D = Decimal
DAY = date(2026, 11, 26)
STORED = EquityMarks(peak_equity=D("100000"), trading_day=DAY, start_of_day_equity=D("99000"))


@pytest.mark.parametrize(
    ("equity", "priced", "today", "day_start", "expected"),
    [
        # a higher equity, every position priced: the new peak
        ("101000", True, DAY, None, EquityMarks(D("101000"), DAY, D("99000"))),
        # not every position priced: carried at entry, never a peak
        ("101000", False, DAY, None, STORED),
        # lower: nothing changes
        ("90000", True, DAY, None, STORED),
        # a new day with its boundary's equity: rolled (and that equity can be the peak)
        (
            "95000",
            True,
            DAY + timedelta(days=1),
            D("100500"),
            EquityMarks(D("100500"), DAY + timedelta(days=1), D("100500")),
        ),
        # a new day whose start cannot be known: not rolled on a guess
        ("95000", True, DAY + timedelta(days=1), None, STORED),
        # a valuation read before midnight, written after another rolled the day: no roll back
        ("95000", True, DAY - timedelta(days=1), D("98000"), STORED),
    ],
)
def test_the_marks_after_a_valuation(
    equity: str, priced: bool, today: date, day_start: Decimal | None, expected: EquityMarks
):
    assert updated_marks(STORED, D(equity), priced, today, day_start) == expected


T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PERIODS = {"stale_price": timedelta(hours=1), "exchange_errors": timedelta(minutes=1)}


@pytest.mark.parametrize(
    ("acknowledged", "in_force", "later", "kept", "new"),
    [
        # still true within the period: still acknowledged
        ({"stale_price": T0}, {"stale_price"}, timedelta(minutes=59), {"stale_price"}, set()),
        # still true a full period after the resume: a new episode
        ({"stale_price": T0}, {"stale_price"}, timedelta(hours=1), set(), {"stale_price"}),
        # cleared: the trigger is armed again
        ({"stale_price": T0}, set(), timedelta(minutes=1), set(), set()),
        # exchange errors: their window is the period
        (
            {"exchange_errors": T0},
            {"exchange_errors"},
            timedelta(minutes=1),
            set(),
            {"exchange_errors"},
        ),
        # drawdown has no period: acknowledged for as long as it lasts
        ({"drawdown": T0}, {"drawdown"}, timedelta(days=3), {"drawdown"}, set()),
    ],
)
def test_the_rearming_after_a_resume(
    acknowledged: dict[str, datetime],
    in_force: set[str],
    later: timedelta,
    kept: set[str],
    new: set[str],
):
    result = rearm(acknowledged, in_force, T0 + later, PERIODS)
    assert set(result.acknowledged) == kept
    assert set(result.new_episodes) == new
    assert all(result.new_episodes[t] == T0 for t in new)
