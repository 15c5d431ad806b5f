"""The Chart page, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL, over a
trading morning made through the library (``tests/chart_support.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import helios
from helios.clock import ManualClock
from tests.chart_support import Morning, morning_start, trade_morning
from tests.dashboard_support import open_page

PAGE = "app_pages/chart.py"


@pytest.fixture
def morning(seeded: helios.Helios, database_url: str) -> Iterator[Morning]:
    """The morning's trades, ending about three hours ago (the page reads with the real
    clock): made on a hand-moved clock on the page's database."""
    clock = ManualClock(morning_start(seeded.clock.now()))
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        yield trade_morning(hx, clock)


def figure(at: Any) -> dict[str, Any]:
    """The figure the page sent (the Plotly chart's JSON spec)."""
    [chart] = [e for e in at.main if getattr(e, "type", "") == "plotly_chart"] or [
        at.get("plotly_chart")[0]
    ]
    return json.loads(chart.proto.spec)


def markers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in spec["data"] if t.get("type") == "scatter" and t.get("mode") == "markers"]


def test_the_chart_marks_every_position_in_range(morning: Morning) -> None:
    at = open_page(PAGE)
    at.selectbox(key="chart_range").set_value("Last 24 hours").run()
    assert not at.exception, [e.value for e in at.exception]
    spec = figure(at)
    [candles] = [t for t in spec["data"] if t["type"] == "candlestick"]
    assert candles["name"] == "BTCZAR 1h"
    assert 20 <= len(candles["x"]) <= 25  # the last 24 hours of hourly bars
    drawn = markers(spec)
    entries = next(t for t in drawn if t["name"] == "Entry")
    assert sorted(c[0] for c in entries["customdata"]) == sorted(morning.btc)
    exits = {t["name"]: [c[0] for c in t["customdata"]] for t in drawn if t["name"] != "Entry"}
    assert exits == {
        "Exit: Stop loss": [morning.ids["stop_loss"]],
        "Exit: Trailing stop": [morning.ids["trailing_stop"]],
        "Exit: Take profit": [morning.ids["take_profit"]],
        "Exit: Timeout": [morning.ids["timeout"]],
        "Exit: Manual close": [morning.ids["manual"]],
        "Exit: Emergency close": [morning.ids["emergency"]],
    }
    lines = {t["name"] for t in spec["data"] if t.get("mode") == "lines"}
    assert lines == {"Stop (open positions)", "Target (open positions)"}
    assert any("8 positions in range (6 closed, 2 open): 14 markers" in c.value for c in at.caption)
    [table] = [d.value for d in at.dataframe if "Why" in d.value.columns]
    assert set(table["ID"]) == {f"/positions?position={pid}" for pid in morning.btc}


def test_another_pair_and_interval_redraw(morning: Morning) -> None:
    at = open_page(PAGE)
    at.selectbox(key="chart_range").set_value("Last 24 hours").run()
    at.selectbox(key="chart_interval").set_value("15m").run()
    spec = figure(at)
    [candles] = [t for t in spec["data"] if t["type"] == "candlestick"]
    assert candles["name"] == "BTCZAR 15m" and len(candles["x"]) > 30  # 5 h of history + trades
    at.selectbox(key="chart_pair").set_value("ETHZAR").run()
    assert not at.exception
    spec = figure(at)
    [entries] = [t for t in markers(spec) if t["name"] == "Entry"]
    assert [c[0] for c in entries["customdata"]] == [morning.ids["eth"]]
    # dates before any minute candle: the page says where older candles are
    at.selectbox(key="chart_range").set_value("Dates").run()
    today = morning.ended.date()
    at.date_input[0].set_value(today - timedelta(days=30))
    at.date_input[1].set_value(today - timedelta(days=20)).run()
    assert not at.exception
    assert any("No candles stored for ETHZAR" in i.value for i in at.info)
    at.selectbox(key="chart_interval").set_value("1d").run()  # the stored daily candles
    [candles] = [t for t in figure(at)["data"] if t["type"] == "candlestick"]
    # 11 days from 00:00 SAST (22:00 UTC) touch 12 UTC days: daily bars are UTC days
    assert len(candles["x"]) == 12
    assert not any("No candles stored" in i.value for i in at.info)


def test_too_many_bars_is_refused_on_the_page(morning: Morning) -> None:
    at = open_page(PAGE)
    at.selectbox(key="chart_range").set_value("Last year").run()
    at.selectbox(key="chart_interval").set_value("5m").run()
    assert not at.exception
    [error] = at.error
    assert "interval" in error.value and "choose 1h or 4h or 1d" in error.value
