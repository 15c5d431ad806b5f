"""The profit-table rule (``helios.profit_periods``), table by table: the trading-day zone's
boundaries, ISO weeks from Monday, calendar months, the share of the period's starting equity,
empty periods as rows of zeros, and bad requests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from helios.errors import InvalidInput
from helios.profit_periods import (
    ClosedTrade,
    EquityPoint,
    check_request,
    period_label,
    period_starts,
    profit_table,
    starting_equity,
)

SAST = "Africa/Johannesburg"
D = Decimal
CAPITAL = D("100000")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def trade(when: datetime, pnl: str) -> ClosedTrade:
    return ClosedTrade(when, D(pnl))


def rows(period: str, count: int, now: datetime, trades, equity=(), capital=CAPITAL):
    return profit_table(period, count, now, SAST, trades, list(equity), capital).rows


def test_a_trade_at_23_30_utc_belongs_to_the_next_sast_day():
    # Wednesday 2026-03-04 23:30 UTC is Thursday 01:30 SAST
    now = at(2026, 3, 5, 10)
    table = rows(
        "daily", 3, now, [trade(at(2026, 3, 4, 23, 30), "50"), trade(at(2026, 3, 4, 21, 59), "-20")]
    )
    assert [(r.start, r.pnl, r.trades) for r in table] == [
        (date(2026, 3, 5), D("50"), 1),
        (date(2026, 3, 4), D("-20"), 1),  # 21:59 UTC is 23:59 SAST: still the 4th
        (date(2026, 3, 3), D("0"), 0),
    ]
    assert table[0].starts_at == at(2026, 3, 4, 22)  # 00:00 SAST


def test_weeks_start_on_monday_in_the_zone():
    now = at(2026, 3, 11, 12)  # Wednesday
    trades = [
        trade(at(2026, 3, 8, 21, 59), "10"),  # Sunday 23:59 SAST: the week of 2 March
        trade(at(2026, 3, 8, 22, 0), "7"),  # Monday 00:00 SAST: the week of 9 March
        trade(at(2026, 3, 2, 0, 0), "-3"),  # Monday 02:00 SAST: the week of 2 March
    ]
    table = rows("weekly", 3, now, trades)
    assert [(r.start, r.end, r.pnl, r.trades, r.wins) for r in table] == [
        (date(2026, 3, 9), date(2026, 3, 15), D("7"), 1, 1),
        (date(2026, 3, 2), date(2026, 3, 8), D("7"), 2, 1),
        (date(2026, 2, 23), date(2026, 3, 1), D("0"), 0, 0),
    ]
    assert table[1].win_rate == 0.5
    assert table[2].win_rate is None


def test_months_are_calendar_months_in_the_zone_across_a_year_end():
    now = at(2026, 2, 10)
    trades = [
        trade(at(2026, 1, 31, 22, 30), "100"),  # 1 February 00:30 SAST
        trade(at(2025, 12, 31, 21, 0), "-40"),  # 31 December 23:00 SAST
        trade(at(2025, 12, 31, 22, 0), "15"),  # 1 January 00:00 SAST
        trade(at(2025, 10, 15), "999"),  # before the range: ignored
    ]
    table = rows("monthly", 3, now, trades)
    assert [(r.start, r.end, r.pnl, r.trades) for r in table] == [
        (date(2026, 2, 1), date(2026, 2, 28), D("100"), 1),
        (date(2026, 1, 1), date(2026, 1, 31), D("15"), 1),
        (date(2025, 12, 1), date(2025, 12, 31), D("-40"), 1),
    ]


def test_the_percentage_is_of_the_equity_at_the_period_start():
    now = at(2026, 3, 5, 12)
    start_5th, start_4th = at(2026, 3, 4, 22), at(2026, 3, 3, 22)
    equity = [
        EquityPoint(at(2026, 3, 3, 21), D("90000")),  # before the 4th starts
        EquityPoint(start_4th, D("80000")),  # exactly at the 4th's start: counts
        EquityPoint(at(2026, 3, 4, 12), D("70000")),  # inside the 4th
        EquityPoint(at(2026, 3, 4, 22, 0, 1), D("60000")),  # one second after the 5th starts
    ]
    table = rows(
        "daily",
        2,
        now,
        [trade(at(2026, 3, 5, 8), "700"), trade(at(2026, 3, 4, 8), "-400")],
        equity,
    )
    assert table[0].starting_equity == D("70000")  # the last at or before 00:00 SAST on the 5th
    assert table[0].pnl_pct == pytest.approx(0.01)
    assert table[1].starting_equity == D("80000")
    assert table[1].pnl_pct == pytest.approx(-0.005)
    assert starting_equity(start_5th, equity, CAPITAL) == D("70000")


def test_before_the_first_snapshot_the_start_is_the_initial_capital():
    now = at(2026, 3, 5, 12)
    equity = [EquityPoint(at(2026, 3, 5, 6), D("50000"))]  # first snapshot inside today
    table = rows("daily", 2, now, [trade(at(2026, 3, 5, 8), "250")], equity, D("25000"))
    assert table[0].starting_equity == D("25000")
    assert table[0].pnl_pct == pytest.approx(0.01)
    assert table[1].pnl_pct == 0.0


def test_an_empty_history_gives_rows_of_zeros_for_every_period():
    table = rows("daily", 7, at(2026, 3, 5, 12), [])
    assert len(table) == 7
    assert [r.start.day for r in table] == [5, 4, 3, 2, 1, 28, 27]
    assert all(r.pnl == 0 and r.trades == 0 and r.wins == 0 for r in table)
    assert all(r.win_rate is None and r.pnl_pct == 0.0 for r in table)


def test_no_percentage_of_nothing():
    equity = [EquityPoint(at(2026, 3, 1), D("0"))]
    table = rows("daily", 1, at(2026, 3, 5, 12), [trade(at(2026, 3, 5, 8), "-5")], equity)
    assert table[0].pnl_pct is None


def test_a_break_even_trade_is_not_a_win_and_pnl_stays_exact():
    trades = [
        trade(at(2026, 3, 5, 8), "0"),
        trade(at(2026, 3, 5, 9), "0.10"),
        trade(at(2026, 3, 5, 9), "0.20"),
    ]
    table = profit_table("daily", 1, at(2026, 3, 5, 12), SAST, trades, [], CAPITAL)
    assert table.rows[0].pnl == D("0.30")  # not 0.30000000000000004
    assert (table.rows[0].wins, table.rows[0].trades) == (2, 3)
    assert table.total_pnl == D("0.30") and table.trades == 3


def test_the_period_starts_are_the_local_midnights_newest_first():
    assert period_starts("monthly", 2, at(2026, 3, 5), SAST) == [
        at(2026, 2, 28, 22),
        at(2026, 1, 31, 22),
    ]


@pytest.mark.parametrize(
    ("period", "count", "field", "allowed"),
    [
        ("yearly", 3, "period", "one of daily, weekly, monthly"),
        (None, 3, "period", "one of daily, weekly, monthly"),
        ("daily", 0, "count", "a whole number from 1 to 366"),
        ("daily", 367, "count", "a whole number from 1 to 366"),
        ("weekly", 2.5, "count", "a whole number from 1 to 366"),
        ("weekly", True, "count", "a whole number from 1 to 366"),
    ],
)
def test_bad_requests_name_the_field_the_value_and_the_range(period, count, field, allowed):
    with pytest.raises(InvalidInput) as raised:
        profit_table(period, count, at(2026, 3, 5), SAST, [], [], CAPITAL)
    assert raised.value.field == field
    assert raised.value.value == (period if field == "period" else count)
    assert raised.value.allowed == allowed


def test_the_default_counts_are_freqtrades():
    assert check_request("daily", None) == ("daily", 7)
    assert check_request("weekly", None) == ("weekly", 8)
    assert check_request("monthly", None) == ("monthly", 6)


def test_the_labels_are_short_enough_for_a_pinned_column():
    table = profit_table("weekly", 1, at(2026, 3, 5), SAST, [], [], CAPITAL)
    assert period_label("weekly", table.rows[0]) == "2026-03-02"  # the week's Monday
    month = profit_table("monthly", 1, at(2026, 3, 5), SAST, [], [], CAPITAL).rows[0]
    assert period_label("monthly", month) == "2026-03"
    assert period_label("daily", month) == "2026-03-01"
