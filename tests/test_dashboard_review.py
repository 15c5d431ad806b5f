"""The Review page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL.

Every figure on it is ``hx.metrics.review``'s or ``hx.metrics.profit``'s (tested against
hand-worked numbers in ``test_metrics.py`` and ``test_profit_*.py``); here the page shows them
R-formatted, switches the profit tables between days, weeks and months, explains an empty period
and refuses a period that ends before it starts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import update
from streamlit.testing.v1 import AppTest

import helios
from helios.clock import trading_day
from helios.db.models import Position
from tests.dashboard_support import APP, metric, open_page, table_with
from tests.factories import PRICES, booked_position

PAGE = "app_pages/review.py"


def test_an_empty_week_explains_itself(seeded: helios.Helios):
    at = open_page(PAGE)
    assert metric(at, "Closed positions") == "0"
    assert metric(at, "Risk-limit violations") == "0"
    assert metric(at, "Sharpe") == "n/a"
    assert metric(at, "Stop-loss hit rate") == "n/a"
    assert any("No position closed in this period" in i.value for i in at.info)


def test_the_week_shows_hit_rates_pnl_and_the_breakdowns(seeded: helios.Helios):
    hx = seeded
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    ids = [booked_position(hx, pair, "BUY", "903", "1") for pair in ("BTCZAR", "ETHZAR")]
    for pid, status, pnl in zip(
        ids, ("STOPPED_OUT", "TAKE_PROFIT"), ("-18.06", "54.18"), strict=True
    ):
        with hx.db.write() as session:
            session.execute(
                update(Position)
                .where(Position.id == pid)
                .values(
                    status=status,
                    realized_pnl=Decimal(pnl),
                    closed_at=hx.clock.now() - timedelta(hours=1),
                )
            )
    hx.controls.emergency_stop("thandi", "drill")
    at = open_page(PAGE)
    assert metric(at, "Closed positions") == "2"
    assert metric(at, "Stop-loss hit rate") == "50.00%"
    assert metric(at, "Take-profit hit rate") == "50.00%"
    assert metric(at, "Emergency stops") == "1"
    assert metric(at, "Realized P&L") == "R36.12"
    assert metric(at, "Win rate") == "50.00%"
    by_pair = {row["Pair"]: row for row in table_with(at, "Pair").to_dict("records")}
    assert by_pair["BTCZAR"]["Realized P&L"] == "-R18.06"  # R-formatted, not -18.06
    assert by_pair["ETHZAR"]["Realized P&L"] == "R54.18"
    by_exit = {row["Reason"]: row for row in table_with(at, "Reason").to_dict("records")}
    assert by_exit["TAKE_PROFIT"]["Wins"] == 1


def test_a_period_that_ends_before_it_starts_is_refused(seeded: helios.Helios):
    at = open_page(PAGE)
    at.date_input[0].set_value(at.date_input[1].value + timedelta(days=1))
    at.date_input[0].set_value(at.date_input[1].value)  # max_value is today: same day is fine
    at.run()
    assert not at.error
    at.date_input[1].set_value(at.date_input[0].value - timedelta(days=1)).run()
    assert any("start is after its end" in e.value for e in at.error)


def test_the_summary_shows_the_last_7_days_win_rate_and_size_by_pair(seeded: helios.Helios):
    from tests.factories import give_market

    hx = seeded
    give_market(hx)  # volatility estimates for the size-by-pair table
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    ids = [booked_position(hx, pair, "BUY", "903", "1") for pair in ("BTCZAR", "ETHZAR")]
    for pid, pnl in zip(ids, ("-18.06", "54.18"), strict=True):
        with hx.db.write() as session:
            session.execute(
                update(Position)
                .where(Position.id == pid)
                .values(status="TAKE_PROFIT", realized_pnl=Decimal(pnl), closed_at=hx.clock.now())
            )
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert metric(at, "Win rate") == "50.00%"
    assert metric(at, "Average position size") == "R903.00"
    table = [df.value for df in at.dataframe if "Daily volatility now" in df.value.columns]
    assert table and list(table[0]["Pair"]) == ["BTCZAR", "ETHZAR"]
    assert all(v.endswith("%") for v in table[0]["Daily volatility now"])


def close_two_today_and_one_eight_days_ago(hx: helios.Helios) -> None:
    """-R18.06 and R54.18 closed now, R100 closed 8 days ago (another week, the same few
    months)."""
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)
    now = hx.clock.now()
    closes = (("-18.06", now), ("54.18", now), ("100", now - timedelta(days=8)))
    ids = [booked_position(hx, pair, "BUY", "903", "1") for pair in ("BTCZAR", "ETHZAR", "SOLZAR")]
    for pid, (pnl, when) in zip(ids, closes, strict=True):  # the ledger is not told: the
        with hx.db.write() as session:  # page reads the positions' own figures
            session.execute(
                update(Position)
                .where(Position.id == pid)
                .values(status="CLOSED", realized_pnl=Decimal(pnl), closed_at=when)
            )


def test_the_profit_tables_switch_between_days_weeks_and_months(seeded: helios.Helios):
    close_two_today_and_one_eight_days_ago(seeded)
    at = open_page(PAGE)
    daily = table_with(at, "% of start")
    assert len(daily) == 7  # a row for each of the last 7 days, quiet days too
    today = daily.iloc[0]
    assert today["Day"] == trading_day(seeded.clock.now(), "Africa/Johannesburg").isoformat()
    assert (today["P&L"], today["Trades"], today["Win rate"]) == ("R36.12", 2, "50.00%")
    assert today["% of start"] == "0.04%"  # of the initial R100,000 (no snapshot yet)
    assert list(daily["P&L"][1:]) == ["R0.00"] * 6
    assert at.get("plotly_chart")  # the bar chart is drawn

    at.segmented_control(key="profit_period").set_value("Weekly").run()
    assert not at.exception
    weekly = table_with(at, "% of start")
    assert len(weekly) == 8
    assert weekly["Trades"].sum() == 3
    assert weekly.iloc[0]["P&L"] == "R36.12"
    assert date.fromisoformat(weekly.iloc[0]["Week of"]).weekday() == 0  # a Monday
    assert "R100.00" in list(weekly["P&L"])

    at.segmented_control(key="profit_period").set_value("Monthly").run()
    at.number_input(key="profit_count_monthly").set_value(2).run()
    assert not at.exception
    monthly = table_with(at, "% of start")
    assert len(monthly) == 2
    assert all(len(month) == 7 for month in monthly["Month"])  # 2026-11
    assert monthly["Trades"].sum() == 3
    assert sum(float(v.replace("R", "").replace(",", "")) for v in monthly["P&L"]) == 136.12
