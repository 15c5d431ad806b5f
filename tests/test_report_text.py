"""The reports' text (``helios.reports.text``, pure): frozen figures in, lines out.

Table-driven, no database: each case is a set of figures and the lines the report must (and
must not) hold. Limits are over only strictly above them, as the halts judge them; a figure not
recorded is said to be missing, never shown as zero.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from helios.errors import InvalidInput
from helios.reports.figures import (
    Close,
    DailyFigures,
    DayState,
    Holding,
    Limits,
    Sizing,
    Trades,
    checked_day,
    period_of,
    sizing_by_pair,
    weekly_figures,
)
from helios.reports.text import daily_text, daily_title, weekly_text, weekly_title

D = Decimal
ZONE = "Africa/Johannesburg"
DAY = date(2026, 11, 26)  # a Thursday
AFTER = datetime(2026, 11, 27, 0, 0, 5, tzinfo=UTC)  # the day has ended
LIMITS = Limits(daily_loss=0.05, drawdown=0.15, leverage=3.0)
NO_TRADES = Trades(0, 0, D(0))


def state(**changes: object) -> DayState:
    base = DayState(
        ts=datetime(2026, 11, 26, 21, 59, tzinfo=UTC),
        mode="PAPER",
        equity=D("101000"),
        start_of_day_equity=D("100000"),
        daily_pnl=D("1000"),
        daily_loss=D("0"),
        drawdown=D("0.021"),
        gross_exposure=D("12000"),
        leverage=D("0.1188"),
        open_positions=1,
        halted=False,
        snapshots=1440,
        worst_daily_loss=0.008,
        worst_drawdown=0.025,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def daily(**changes: object) -> DailyFigures:
    base = DailyFigures(
        period=period_of(DAY, DAY, ZONE, AFTER),
        limits=LIMITS,
        state=state(),
        closes=(
            Close(date(2026, 11, 24), D("100000")),
            Close(date(2026, 11, 25), D("99500")),
            Close(DAY, D("101000")),
        ),
        holdings=(Holding(7, "BTCZAR", "BUY", D("903"), D("9030")),),
        today=Trades(2, 1, D("36.12")),
        trend=Trades(5, 3, D("120")),
        sizing=(Sizing("BTCZAR", 1, D("903"), D("9030"), 0.04),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


DAILY_CASES = [
    pytest.param(
        daily(),
        [
            "Checks: every limit held (daily loss, drawdown, leverage).",
            "Trading day Thu 26 Nov 2026 (Africa/Johannesburg), complete, PAPER",
            "Portfolio value: R101,000.00",
            "Trend: up R1,000.00 (+1.00%) since Tue 24 Nov's close",
            "  Wed 25 Nov: R99,500.00",
            "Daily P&L: +R1,000.00 (+1.00% of the day's start, R100,000.00)",
            "  worst daily loss in the day: 0.80% against the 5.00% daily loss limit (16% of it), "
            "within",
            "Drawdown: 2.10% at the close",
            "  deepest in the day: 2.50% against the 15.00% max drawdown limit (17% of it), within",
            "Open positions: 1, exposure R12,000.00, leverage 0.12x against the 3.00x limit",
            "  BTCZAR BUY #7: margin R903.00, notional at entry R9,030.00",
            "Win rate: 50.00% today (1 of 2 closed won, realized +R36.12); 60.00% over 7 days "
            "(3 of 5)",
            "  BTCZAR: 1 opened, average margin R903.00, notional R9,030.00, at 4.00% daily "
            "volatility",
        ],
        ["OVER", "HALTED", "n/a"],
        id="a quiet day: every limit held",
    ),
    pytest.param(
        daily(state=state(worst_daily_loss=0.062, daily_pnl=D("-6200"), equity=D("93800"))),
        [
            "Checks: OVER THE LIMIT: daily loss.",
            "Daily P&L: -R6,200.00 (-6.20% of the day's start, R100,000.00)",
            "  worst daily loss in the day: 6.20% against the 5.00% daily loss limit (124% of it), "
            "OVER THE LIMIT",
        ],
        ["every limit held"],
        id="the daily loss limit breached",
    ),
    pytest.param(
        daily(state=state(worst_daily_loss=0.05, worst_drawdown=0.15)),
        [
            "Checks: every limit held (daily loss, drawdown, leverage).",
            "  worst daily loss in the day: 5.00% against the 5.00% daily loss limit (100% of it), "
            "within",
            "  deepest in the day: 15.00% against the 15.00% max drawdown limit (100% of it), "
            "within",
        ],
        ["OVER"],
        id="exactly at the limits is not over",
    ),
    pytest.param(
        daily(state=state(worst_drawdown=0.162, drawdown=D("0.162"), halted=True)),
        [
            "Checks: OVER THE LIMIT: drawdown.",
            "Drawdown: 16.20% at the close",
            "  deepest in the day: 16.20% against the 15.00% max drawdown limit (108% of it), "
            "OVER THE LIMIT",
            "Trading was HALTED at the last snapshot (see the Controls page).",
        ],
        [],
        id="the drawdown limit breached and halted",
    ),
    pytest.param(
        daily(state=state(leverage=D("3.5"))),
        [
            "Checks: OVER THE LIMIT: leverage.",
            "Open positions: 1, exposure R12,000.00, leverage 3.50x against the 3.00x limit, "
            "OVER THE LIMIT",
        ],
        [],
        id="leverage over",
    ),
    pytest.param(
        daily(today=NO_TRADES, trend=NO_TRADES, sizing=(), holdings=()),
        [
            "Win rate: n/a today (no position closed); none closed over 7 days",
            "Open positions: 0, exposure R12,000.00, leverage 0.12x against the 3.00x limit",
            "  no position opened in the day",
        ],
        ["  BTCZAR"],
        id="no trades",
    ),
    pytest.param(
        daily(state=None, closes=(), today=NO_TRADES, trend=NO_TRADES, sizing=()),
        [
            "Checks: no snapshot in the day, nothing to judge.",
            "Trading day Thu 26 Nov 2026 (Africa/Johannesburg), complete",
            "No portfolio snapshot in this period: the value, P&L, drawdown and exposure come "
            "from the scheduler's snapshots (every SNAPSHOT_INTERVAL_SECONDS while it runs).",
            "Open positions: 1",
            "  BTCZAR BUY #7: margin R903.00, notional at entry R9,030.00",
        ],
        ["Portfolio value", "R0.00", "Drawdown", "within"],
        id="no snapshots: nothing invented",
    ),
    pytest.param(
        daily(closes=(Close(DAY, D("101000")),)),
        ["Trend: only this day has a snapshot in the last 7 days"],
        ["since"],
        id="a trend of one day",
    ),
    pytest.param(
        daily(closes=(Close(date(2026, 11, 25), D("101000")), Close(DAY, D("101000")))),
        ["Trend: unchanged since Wed 25 Nov's close"],
        [],
        id="an unchanged trend",
    ),
    pytest.param(
        daily(sizing=(Sizing("SOLZAR", 2, D("500"), D("1500"), None),)),
        [
            "  SOLZAR: 2 opened, average margin R500.00, notional R1,500.00, at no volatility "
            "estimate"
        ],
        [],
        id="sizing without a volatility estimate",
    ),
    pytest.param(
        daily(period=period_of(DAY, DAY, ZONE, datetime(2026, 11, 26, 8, 0, tzinfo=UTC))),
        ["Trading day Thu 26 Nov 2026 (Africa/Johannesburg), so far, at 10:00 local time, PAPER"],
        ["complete"],
        id="today so far",
    ),
]


@pytest.mark.parametrize(("figures", "present", "absent"), DAILY_CASES)
def test_the_daily_text(figures: DailyFigures, present: list[str], absent: list[str]):
    lines = daily_text(figures).splitlines()
    for line in present:
        assert line in lines, f"{line!r} not in\n" + "\n".join(lines)
    text = "\n".join(lines)
    for fragment in absent:
        assert fragment not in text, f"{fragment!r} in\n{text}"
    assert daily_title(figures) == "Helios daily report Thu 26 Nov 2026"


def review(**changes: object) -> dict[str, object]:
    """A ``hx.metrics.review`` answer (the keys the report reads)."""
    base: dict[str, object] = {
        "closed_positions": 4,
        "exits": {
            "STOPPED_OUT": 1,
            "TAKE_PROFIT": 2,
            "TIMEOUT": 1,
            "EMERGENCY_CLOSE": 0,
            "CLOSED": 0,
            "TAKE_PROFIT_AT_A_LOSS": 0,
        },
        "realized_pnl": D("52.62"),
        "pnl_by_pair": {
            "BTCZAR": {"positions": 2, "realized_pnl": D("36.12"), "wins": 1},
            "ETHZAR": {"positions": 1, "realized_pnl": D("20.00"), "wins": 1},
            "SOLZAR": {"positions": 1, "realized_pnl": D("-3.50"), "wins": 0},
        },
        "risk_limit_violations": {
            "max_drawdown_pct": 0,
            "daily_loss_limit_pct": 0,
            "max_leverage": 0,
        },
        "emergency_stops": 1,
        "automatic_halts": 0,
        "daily_returns": 6,
        "sharpe": 1.2345,
        "sortino": None,
        "max_drawdown": 0.01,
    }
    base.update(changes)
    return base


WEEK = period_of(date(2026, 11, 23), date(2026, 11, 29), ZONE, datetime(2026, 11, 30, tzinfo=UTC))
WEEKLY_CASES = [
    pytest.param(
        weekly_figures(WEEK, LIMITS, review(), D("100000"), D("103000")),
        [
            "Checks: no risk-limit violation.",
            "Mon 23 Nov to Sun 29 Nov 2026 (Africa/Johannesburg), complete",
            "Equity: R100,000.00 -> R103,000.00, up R3,000.00 (+3.00%)",
            "Risk-limit violations: 0 (should be zero)",
            "Emergency stops: 1 (should be rare); automatic halts: 0",
            "Exits (4 closed position(s)):",
            "  Stop loss: 1 (25.00%)",
            "  Take profit: 2 (50.00%)",
            "  Target touched, closed at a loss: 0 (0.00%)",
            "  Timeout: 1 (25.00%)",
            "Win rate: 50.00%; realized P&L +R52.62",
            "Sharpe: 1.23; Sortino: n/a (from 6 daily return(s); n/a below 2 or when they never "
            "vary)",
            "Max drawdown: 1.00% against the 15.00% max drawdown limit (7% of it), within",
            "  BTCZAR: 2 closed, 1 won, +R36.12",
            "  SOLZAR: 1 closed, 0 won, -R3.50",
        ],
        ["VIOLATED", "OVER"],
        id="a week within the limits",
    ),
    pytest.param(
        weekly_figures(
            WEEK,
            LIMITS,
            review(
                risk_limit_violations={
                    "max_drawdown_pct": 2,
                    "daily_loss_limit_pct": 3,
                    "max_leverage": 0,
                },
                max_drawdown=0.162,
                automatic_halts=1,
            ),
            D("100000"),
            D("84000"),
        ),
        [
            "Checks: LIMITS VIOLATED: drawdown, daily loss (5 snapshot(s)).",
            "Equity: R100,000.00 -> R84,000.00, down R16,000.00 (-16.00%)",
            "Risk-limit violations: 5 (should be zero)",
            "  drawdown over 15.00%: 2 snapshot(s)",
            "  daily loss over 5.00%: 3 snapshot(s)",
            "Emergency stops: 1 (should be rare); automatic halts: 1",
            "Max drawdown: 16.20% against the 15.00% max drawdown limit (108% of it), "
            "OVER THE LIMIT",
        ],
        ["leverage over", "no risk-limit violation"],
        id="limits violated",
    ),
    pytest.param(
        weekly_figures(
            WEEK,
            LIMITS,
            review(
                closed_positions=0,
                exits=dict.fromkeys(review()["exits"], 0),  # type: ignore[arg-type]
                realized_pnl=D(0),
                pnl_by_pair={},
                emergency_stops=0,
                daily_returns=0,
                sharpe=None,
                max_drawdown=0.0,
            ),
            None,
            None,
        ),
        [
            "Checks: no snapshot in the period, nothing to judge.",
            "Exits (0 closed position(s)):",
            "  Stop loss: 0 (n/a)",
            "Win rate: n/a (none closed); realized P&L R0.00",
            "Sharpe: n/a; Sortino: n/a (from 0 daily return(s); n/a below 2 or when they never "
            "vary)",
            "Max drawdown: n/a (no snapshot)",
            "  no position closed in the period",
        ],
        ["Equity:", "within"],
        id="no snapshots and no trades",
    ),
]


@pytest.mark.parametrize(("figures", "present", "absent"), WEEKLY_CASES)
def test_the_weekly_text(figures, present: list[str], absent: list[str]):
    lines = weekly_text(figures).splitlines()
    for line in present:
        assert line in lines, f"{line!r} not in\n" + "\n".join(lines)
    text = "\n".join(lines)
    for fragment in absent:
        assert fragment not in text, f"{fragment!r} in\n{text}"
    assert weekly_title(figures) == "Helios weekly report 2026-11-23 to 2026-11-29"


def test_a_period_other_than_seven_days_is_a_review():
    figures = weekly_figures(
        period_of(date(2026, 11, 19), date(2026, 11, 26), ZONE, AFTER), LIMITS, review(), None, None
    )
    assert weekly_title(figures) == "Helios review (8 days) 2026-11-19 to 2026-11-26"


def test_periods_are_trading_days_in_the_zone():
    period = period_of(DAY, DAY, ZONE, AFTER)
    assert period.start == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 00:00 in Johannesburg
    assert period.end == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    assert period.complete and period.as_of == period.end and period.label == "2026-11-26"
    running = period_of(DAY, DAY, ZONE, datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    assert not running.complete and running.as_of == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert running.end > running.as_of  # a snapshot taken at this instant is in
    assert WEEK.label == "2026-11-23_2026-11-29" and WEEK.days == 7


def test_sizing_by_pair_averages_and_skips_missing_volatility():
    rows = [
        {
            "pair": "BTCZAR",
            "position_size_zar": D("900"),
            "notional_zar": D("9000"),
            "daily_vol": 0.04,
        },
        {
            "pair": "BTCZAR",
            "position_size_zar": D("600"),
            "notional_zar": D("6000"),
            "daily_vol": 0.06,
        },
        {
            "pair": "ETHZAR",
            "position_size_zar": D("100"),
            "notional_zar": None,
            "daily_vol": float("nan"),
        },
    ]
    btc, eth = sizing_by_pair(rows)
    assert btc == Sizing("BTCZAR", 2, D("750"), D("7500"), pytest.approx(0.05))
    assert eth.average_daily_vol is None and eth.average_notional == 0


@pytest.mark.parametrize(
    ("value", "earliest", "accepted"),
    [
        (date(2026, 11, 26), date(2026, 11, 20), True),
        ("2026-11-20", date(2026, 11, 20), True),  # the first snapshot's day
        ("2026-11-19", date(2026, 11, 20), False),  # before anything was recorded
        ("2026-11-27", date(2026, 11, 20), False),  # the future
        ("26/11/2026", date(2026, 11, 20), False),
        (datetime(2026, 11, 26, tzinfo=UTC), date(2026, 11, 20), False),
        (20261126, date(2026, 11, 20), False),
        (date(2026, 11, 26), None, True),  # no snapshot yet: today only
        (date(2026, 11, 25), None, False),
    ],
)
def test_a_report_day_is_between_the_first_snapshot_and_today(value, earliest, accepted):
    today = date(2026, 11, 26)
    if accepted:
        assert checked_day(value, "day", earliest, today) <= today
        return
    with pytest.raises(InvalidInput) as caught:
        checked_day(value, "day", earliest, today)
    assert caught.value.field == "day" and caught.value.value == value
    assert "YYYY-MM-DD" in caught.value.allowed and "2026-11-26 (today)" in caught.value.allowed
