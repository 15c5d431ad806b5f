"""The review's statistics as pure functions (``helios.metrics_stats``), table-driven, no database.

Each row's expected value is worked out by hand in its comment; ``hx.metrics.review`` runs the
same functions on the database's rows (tests/test_metrics.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from helios.metrics_stats import (
    EXIT_KINDS,
    TARGET_AT_A_LOSS,
    DayRange,
    closed_summary,
    daily_returns,
    exit_kind,
    exit_slippage,
    max_drawdown,
    max_drawdown_by_day,
    pnl_breakdown,
    sharpe,
    slippage_by_exit,
    sortino,
)

D = Decimal
SQRT2 = math.sqrt(2)


def closed(**fields: Any) -> SimpleNamespace:
    """A closed position with the attributes the review reads (a long R100 at 1x by default)."""
    base: dict[str, Any] = {
        "pair": "BTCZAR",
        "status": "CLOSED",
        "realized_pnl": D("0"),
        "position_size_zar": D("100"),
        "side": "BUY",
        "entry_price": None,
        "exit_price": None,
        "exit_trigger_price": None,
        "quantity": None,
    }
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(
    ("returns", "rf_daily", "periods", "expected"),
    [
        ([], 0.0, 365, None),  # no returns
        ([0.01], 0.0, 365, None),  # one return: no standard deviation
        ([0.01, 0.01], 0.0, 365, None),  # no dispersion: never a division by zero
        ([0.01, 0.03], 0.0, 1, SQRT2),  # mean 0.02 / std sqrt(0.0002) = sqrt(2)
        ([0.01, 0.03], 0.0, 4, 2 * SQRT2),  # x sqrt(4)
        ([0.01, 0.03], 0.01, 1, SQRT2 / 2),  # excess mean 0.01 / the same std
        ([0.03, 0.01, -0.01], 0.0, 1, 0.5),  # mean 0.01 / std sqrt(0.0008 / 2) = 0.02
    ],
)
def test_sharpe(returns: list[float], rf_daily: float, periods: int, expected: float | None):
    got = sharpe(pd.Series(returns, dtype=float), rf_daily, periods)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("returns", "rf_daily", "periods", "expected"),
    [
        ([0.01], 0.0, 365, None),  # one return
        ([0.01, 0.03], 0.0, 365, None),  # no return below the risk-free rate: no downside
        ([-0.02, 0.04], 0.0, 1, SQRT2 / 2),  # mean 0.01 / sqrt((0.0004 + 0) / 2)
        ([-0.02, 0.04], 0.0, 4, SQRT2),  # x sqrt(4)
        ([0.01, 0.03], 0.02, 1, 0.0),  # excess -0.01, +0.01: mean 0 over downside sqrt(0.00005)
    ],
)
def test_sortino(returns: list[float], rf_daily: float, periods: int, expected: float | None):
    got = sortino(pd.Series(returns, dtype=float), rf_daily, periods)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("equity", "expected"),
    [
        ([], 0.0),  # nothing: no drawdown
        ([100.0], 0.0),
        ([100.0, 110.0, 120.0], 0.0),  # only new peaks
        ([100.0, 90.0, 80.0], 0.2),  # 1 - 80 / 100
        ([100.0, 120.0, 90.0, 130.0], 0.25),  # 1 - 90 / 120, recovered after
        ([100.0, 50.0, 200.0, 150.0], 0.5),  # the deepest of two falls (50% and 25%)
    ],
)
def test_max_drawdown(equity: list[float], expected: float):
    assert max_drawdown(equity) == pytest.approx(expected)


def at(day: int, hour: int) -> datetime:
    return pd.Timestamp(2026, 11, 20 + day, hour, tz="UTC").to_pydatetime()


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], []),  # no snapshots
        ([(0, 8, 100.0), (0, 23, 110.0)], []),  # one day: no return yet
        ([(0, 8, 100.0), (1, 12, 110.0)], [0.1]),  # 110 / 100 - 1
        ([(0, 23, 110.0), (0, 8, 100.0), (1, 1, 99.0)], [-0.1]),  # the day's last by time: 110
        ([(0, 8, 100.0), (3, 8, 50.0)], [-0.5]),  # days without a snapshot are skipped
    ],
)
def test_daily_returns_take_each_utc_days_last_equity(
    points: list[tuple[int, int, float]], expected: list[float]
):
    returns = daily_returns([at(d, h) for d, h, _ in points], [e for _, _, e in points])
    assert list(returns.round(12)) == expected


def ranges(by_day: Sequence[Sequence[float]]) -> list[DayRange]:
    first = date(2026, 11, 20)
    return [
        DayRange(first + timedelta(days=i), min(v), max(v), v[-1]) for i, v in enumerate(by_day)
    ]


@pytest.mark.parametrize(
    ("by_day", "days_read"),
    [
        ([], 0),  # no days: 0.0, nothing read
        ([[100.0, 90.0, 95.0]], 1),  # one day
        (
            [[100.0, 120.0], [119.0, 121.0], [80.0, 90.0], [95.0, 130.0]],
            1,
        ),  # only day 3 can hold it
        ([[100.0], [50.0], [200.0], [150.0]], 1),  # 50% on day 2 beats 25% on day 4
        ([[100.0, 99.0], [98.0, 97.0], [96.0, 95.0]], 1),  # one long fall: its last day from 100
        ([[100.0], [100.0, 80.0, 81.0], [81.0, 80.0]], 2),  # two days reach 20%: read as a run
        ([[100.0], [0.0], [50.0]], 3),  # zero equity: no bound holds, everything is read
    ],
)
def test_the_drawdown_by_day_equals_the_drawdown_of_every_value(
    by_day: list[list[float]], days_read: int
):
    days = ranges(by_day)
    read_days: list[date] = []

    def read(first: date, last: date) -> list[float]:
        chosen = [(d, v) for d, v in zip(days, by_day, strict=True) if first <= d.day <= last]
        read_days.extend(d.day for d, _ in chosen)
        return [x for _, values in chosen for x in values]

    everything = [x for values in by_day for x in values]
    assert max_drawdown_by_day(days, read) == max_drawdown(everything)  # to the bit
    assert len(read_days) == days_read


@pytest.mark.parametrize(
    ("position", "kind"),
    [
        (closed(status="STOPPED_OUT"), "STOPPED_OUT"),
        (closed(status="TIMEOUT", realized_pnl=D("-5")), "TIMEOUT"),  # a loss is still a timeout
        (  # filled above a long's entry with a profit: a take-profit hit
            closed(status="TAKE_PROFIT", entry_price=D("100"), exit_price=D("110")),
            "TAKE_PROFIT",
        ),
        (  # a long filled below its entry: target touched, closed below entry
            closed(status="TAKE_PROFIT", entry_price=D("100"), exit_price=D("99")),
            TARGET_AT_A_LOSS,
        ),
        (  # a short filled above its entry
            closed(status="TAKE_PROFIT", side="SELL", entry_price=D("100"), exit_price=D("101")),
            TARGET_AT_A_LOSS,
        ),
        (  # above the entry but too close to it to pay the fees
            closed(
                status="TAKE_PROFIT",
                entry_price=D("100"),
                exit_price=D("100.1"),
                realized_pnl=D("-0.5"),
            ),
            TARGET_AT_A_LOSS,
        ),
        (closed(status="TAKE_PROFIT", realized_pnl=None), "TAKE_PROFIT"),  # no fill recorded
    ],
)
def test_exit_kind(position: SimpleNamespace, kind: str):
    assert exit_kind(position) == kind


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (  # a long's stop gapped through: R1 a unit worse on 2 units, 1% of the level
            closed(side="BUY", exit_trigger_price=D("100"), exit_price=D("99"), quantity=D("2")),
            (D("-2"), -0.01),
        ),
        (  # a short's fill below its level is in its favour
            closed(side="SELL", exit_trigger_price=D("100"), exit_price=D("99"), quantity=D("2")),
            (D("2"), 0.01),
        ),
        (closed(exit_price=D("99"), quantity=D("1")), None),  # no trigger: a manual close
        (closed(exit_trigger_price=D("100"), quantity=D("1")), None),  # no fill
        (closed(exit_trigger_price=D("0"), exit_price=D("1"), quantity=D("1")), None),  # no level
        (closed(exit_trigger_price=D("100"), exit_price=D("99")), None),  # no quantity
    ],
)
def test_exit_slippage(position: SimpleNamespace, expected: tuple[Decimal, float] | None):
    got = exit_slippage(position)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == expected[0]
        assert got[1] == pytest.approx(expected[1])


def test_slippage_by_exit_totals_exactly_and_leaves_out_exits_without_a_level():
    positions = [
        # -R1 (-1%) and -R2 on half a unit = -R1 (-2%)
        closed(status="STOPPED_OUT", exit_trigger_price=D("100"), exit_price=D("99"), quantity=1),
        closed(
            status="STOPPED_OUT",
            exit_trigger_price=D("200"),
            exit_price=D("196"),
            quantity=D("0.5"),
        ),
        closed(
            status="TAKE_PROFIT", exit_trigger_price=D("50"), exit_price=D("51"), quantity=D("3")
        ),
        closed(status="CLOSED", exit_price=D("10"), quantity=D("1")),  # manual: no level
    ]
    table = slippage_by_exit(positions)
    assert list(table) == ["STOPPED_OUT", "TAKE_PROFIT"]  # sorted, no CLOSED
    stop = table["STOPPED_OUT"]
    assert stop["positions"] == 2
    assert stop["slippage_zar"] == D("-3.00000000")
    assert stop["mean_pct"] == pytest.approx(-0.015)
    assert stop["worst_pct"] == pytest.approx(-0.02)
    target = table["TAKE_PROFIT"]
    assert (target["positions"], target["slippage_zar"]) == (1, D("3.00000000"))
    assert target["mean_pct"] == target["worst_pct"] == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("positions", "key", "expected"),
    [
        ([], "pair", {}),
        (
            [
                closed(pair="ETHZAR", realized_pnl=D("5")),
                closed(pair="BTCZAR", realized_pnl=D("-2.5")),
                closed(pair="ETHZAR", realized_pnl=None),  # no P&L recorded counts as zero
            ],
            "pair",
            {
                "BTCZAR": {"positions": 1, "realized_pnl": D("-2.5"), "wins": 0},
                "ETHZAR": {"positions": 2, "realized_pnl": D("5"), "wins": 1},
            },
        ),
        (
            [closed(status="TIMEOUT", realized_pnl=D("1")), closed(status="TIMEOUT")],
            "status",
            {"TIMEOUT": {"positions": 2, "realized_pnl": D("1"), "wins": 1}},
        ),
    ],
)
def test_pnl_breakdown(positions: list[SimpleNamespace], key: str, expected: dict[str, Any]):
    assert pnl_breakdown(positions, key) == expected


def test_a_period_without_closed_positions_has_no_rates():
    summary = closed_summary([])
    assert summary["closed_positions"] == 0
    assert summary["exits"] == dict.fromkeys(EXIT_KINDS, 0)
    assert set(summary["hit_rates"].values()) == {None}
    assert summary["win_rate"] is None
    assert summary["realized_pnl"] == D("0")
    assert summary["average_position_size_zar"] is None
    assert summary["average_position_size_by_pair"] == {}


def test_the_closed_positions_summary():
    positions = [
        closed(status="STOPPED_OUT", realized_pnl=D("-10"), position_size_zar=D("100")),
        closed(
            status="TAKE_PROFIT",
            realized_pnl=D("20"),
            position_size_zar=D("300"),
            entry_price=D("100"),
            exit_price=D("110"),
        ),
        closed(  # a target filled below the entry
            status="TAKE_PROFIT",
            pair="ETHZAR",
            realized_pnl=D("-1"),
            position_size_zar=D("200"),
            entry_price=D("100"),
            exit_price=D("99"),
        ),
        closed(status="TIMEOUT", pair="ETHZAR", realized_pnl=D("3"), position_size_zar=D("400")),
    ]
    summary = closed_summary(positions)
    assert summary["closed_positions"] == 4
    assert summary["exits"] == {
        **dict.fromkeys(EXIT_KINDS, 0),
        "STOPPED_OUT": 1,
        "TAKE_PROFIT": 1,
        TARGET_AT_A_LOSS: 1,
        "TIMEOUT": 1,
    }
    assert summary["hit_rates"]["TAKE_PROFIT"] == 0.25
    assert summary["hit_rates"]["EMERGENCY_CLOSE"] == 0.0
    assert summary["win_rate"] == 0.5  # +20 and +3
    assert summary["realized_pnl"] == D("12")
    assert summary["pnl_by_pair"]["ETHZAR"] == {"positions": 2, "realized_pnl": D("2"), "wins": 1}
    assert summary["pnl_by_exit"]["TAKE_PROFIT"]["positions"] == 2  # by status, as stored
    assert summary["average_position_size_zar"] == D("250")
    assert summary["average_position_size_by_pair"] == {"BTCZAR": D("200"), "ETHZAR": D("300")}
    assert summary["slippage_by_exit"] == {}  # no trigger levels recorded
