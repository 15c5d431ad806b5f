"""The market's pure rules, table-driven, without a database: a bar's open time on the UTC grid
(``bar_time``), no price stamped ahead of the clock, what a candle write observed
(``write_plan.new_prices``) and close-to-close returns (``series``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest

from helios.clock import MAX_CLOCK_SKEW
from helios.errors import InvalidInput
from helios.market.bar_time import MINUTE, floor_time, not_ahead
from helios.market.candles import DAY, CandleRow
from helios.market.series import close_returns
from helios.market.write_plan import new_prices

T = datetime(2026, 11, 26, 8, 7, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "seconds", "expected"),
    [
        (T, MINUTE, datetime(2026, 11, 26, 8, 7, tzinfo=UTC)),
        (T, 300, datetime(2026, 11, 26, 8, 5, tzinfo=UTC)),
        (T, 3600, datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        (T, DAY, datetime(2026, 11, 26, tzinfo=UTC)),
        (
            datetime(2026, 11, 26, 8, 7, tzinfo=UTC),
            MINUTE,
            datetime(2026, 11, 26, 8, 7, tzinfo=UTC),
        ),
        # naive is UTC; another zone is the same instant on the UTC grid
        (datetime(2026, 11, 26, 0, 30), DAY, datetime(2026, 11, 26, tzinfo=UTC)),
        (
            datetime(2026, 11, 26, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            DAY,
            datetime(2026, 11, 25, tzinfo=UTC),
        ),
    ],
)
def test_floor_time(when: datetime, seconds: int, expected: datetime) -> None:
    assert floor_time(when, seconds) == expected


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [
        (timedelta(0), False),
        (-timedelta(days=1), False),
        (MAX_CLOCK_SKEW, False),
        (MAX_CLOCK_SKEW + timedelta(seconds=1), True),
        (timedelta(hours=2), True),
    ],
)
def test_not_ahead(ahead: timedelta, refused: bool) -> None:
    if refused:
        with pytest.raises(InvalidInput) as caught:
            not_ahead(T + ahead, T, "ts")
        assert caught.value.field == "ts"
    else:
        not_ahead(T + ahead, T, "ts")


D = Decimal


@pytest.mark.parametrize(
    ("row", "high", "low", "seen"),
    [
        # a new bar: its whole range and its close
        ((D(10), D(12), D(9), D(11)), None, None, [D(12), D(9), D(11)]),
        # a stored bar: only a new high, a new low, and the close
        ((D(10), D(12), D(9), D(11)), D(12), D(9), [D(11)]),
        ((D(10), D(13), D(9), D(11)), D(12), D(9), [D(13), D(11)]),
        ((D(10), D(12), D(8), D(8)), D(12), D(9), [D(8)]),  # each price once
        ((D(10), D(10), D(10), D(10)), None, None, [D(10)]),
    ],
)
def test_new_prices(
    row: tuple[Decimal, ...], high: Decimal | None, low: Decimal | None, seen: list[Decimal]
) -> None:
    candle = CandleRow(T, row[0], row[1], row[2], row[3], D(0))
    assert new_prices(candle, high, low) == seen


def _frame(closes: list[float]) -> pd.DataFrame:
    stamps = pd.date_range("2026-11-01", periods=len(closes), freq="D", tz="UTC")
    return pd.DataFrame({"timestamp": stamps, "close": closes})


@pytest.mark.parametrize(
    ("closes", "kind", "expected"),
    [
        ([100.0, 110.0, 99.0], "simple", [0.10, -0.10]),
        ([100.0, 110.0, 99.0], "log", [math.log(1.1), math.log(0.9)]),
        ([100.0], "log", []),
        ([], "simple", []),
    ],
)
def test_close_returns(closes: list[float], kind: str, expected: list[float]) -> None:
    series = close_returns(_frame(closes), kind, "BTCZAR")
    assert series.name == "BTCZAR"
    assert list(series) == pytest.approx(expected)
    assert list(series.index) == list(_frame(closes)["timestamp"][1:])
