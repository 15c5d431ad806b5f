"""The Weekly review page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL.

Every figure on it is ``hx.metrics.review``'s (tested against hand-worked numbers in
``test_metrics.py``); here the page shows them, explains an empty period and refuses a period
that ends before it starts.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update
from streamlit.testing.v1 import AppTest

import helios
from helios.db.models import Position
from tests.dashboard_support import APP, metric, open_page
from tests.factories import PRICES, booked_position

PAGE = "app_pages/weekly.py"


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
    tables = [df.value for df in at.dataframe]
    by_pair = {row["Pair"]: row for row in tables[0].to_dict("records")}
    assert by_pair["BTCZAR"]["Realized P&L (ZAR)"] == -18.06
    by_exit = {row["Reason"]: row for row in tables[1].to_dict("records")}
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
