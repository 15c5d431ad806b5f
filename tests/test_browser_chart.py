"""The Chart page in a real browser (Debian's Chromium, Playwright) against a real ``helios
dashboard`` process, on SQLite and PostgreSQL, at 1400 px and at a 390 px phone width: the
candles with one marker per entry and per exit of the positions in range (counted in the DOM
and in the figure's own data), and a click on a marker opening that position's story
(``/positions?position=ID``). Screenshots under ``tests/screenshots/<database>/chart-*.png``."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import helios
from helios.clock import ManualClock
from helios.db.engine import normalise_url
from tests.browser_support import (
    PG_ENV,
    WAIT_MS,
    Dashboard,
    choose,
    exceptions,
    expect,
    settle,
    shoot,
    title,
)
from tests.chart_support import Morning, morning_start, trade_morning

pytestmark = pytest.mark.slow

# the SVG points Plotly draws for the marker traces (the candles are boxes, the lines paths)
POINTS = ".js-plotly-plot .scatterlayer .trace .points path.point"
FIGURE_MARKERS = """() => document.querySelector('.js-plotly-plot').data
    .filter(t => t.type === 'scatter' && t.mode === 'markers')
    .reduce((n, t) => n + t.x.length, 0)"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Dashboard, Morning]]:
    """A database of each kind with the trading morning (ending about three hours ago) and a
    dashboard serving it."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"chart-{kind}")
    drop = admin = None
    if kind == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / "helios.db")
        url = f"sqlite:///{folder / 'helios.db'}"
    else:
        template = request.getfixturevalue("pg_template")
        drop = template.removesuffix("template") + "chart"
        admin = create_engine(normalise_url(os.environ[PG_ENV]), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{drop}" TEMPLATE "{template}"'))
        url = (
            make_url(normalise_url(os.environ[PG_ENV]))
            .set(database=drop)
            .render_as_string(hide_password=False)
        )
    dashboard = None
    try:
        with helios.connect(url, market_feed="manual") as now_hx:
            start = morning_start(now_hx.clock.now())
        clock = ManualClock(start)
        with helios.connect(url, clock=clock, market_feed="manual") as hx:
            morning = trade_morning(hx, clock)
        dashboard = Dashboard(url, Path(folder) / "dashboard.log")
        yield kind, dashboard, morning
    finally:
        if dashboard is not None:
            dashboard.stop()
        if drop is not None and admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
            admin.dispose()


def open_chart(browser: Any, dashboard: Dashboard, width: int) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": 1000 if width > 500 else 844}, reduced_motion="reduce"
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(dashboard.url("/chart"))
    expect(title(page, "Chart")).to_be_visible()
    settle(page)
    if width < 500:  # a phone: the sidebar starts collapsed (app.py), covering nothing
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    choose(page, "Range", "Last 24 hours")
    settle(page)
    expect(page.get_by_text(re.compile(r"8 positions in range"))).to_be_visible()
    return page


@pytest.mark.parametrize("width", [1400, 390])
def test_the_chart_marks_every_position_in_range(
    site: tuple[str, Dashboard, Morning], browser: Any, width: int
) -> None:
    kind, dashboard, morning = site
    page = open_chart(browser, dashboard, width)
    try:
        expected = len(morning.btc) + len(morning.btc) - len(morning.btc_open)  # 8 + 6
        expect(page.locator(POINTS)).to_have_count(expected)
        assert page.evaluate(FIGURE_MARKERS) == expected
        # Streamlit may still hold the chart's previous render for a moment (two legends in
        # the DOM, a strict-mode error on a one-shot read): wait on the first, retrying
        legend = page.locator(".js-plotly-plot .legend").first
        for reason in ("Stop loss", "Trailing stop", "Take profit", "Timeout", "Emergency close"):
            expect(legend).to_contain_text(f"Exit: {reason}")
        assert exceptions(page) == []
        # at 390 px the chart fits the screen: no sideways scroll of the page
        overflow = page.evaluate(
            "() => { const m = document.querySelector(\"[data-testid='stMain']\");"
            " return m.scrollWidth - m.clientWidth; }"
        )
        assert overflow <= 1, f"the page scrolls sideways by {overflow} px at {width} px"
        shoot(page, kind, f"chart-{width}px")
    finally:
        page.context.close()


def hover_until_labelled(page: Any, point: Any, seconds: float = 30) -> dict[str, float]:
    """Move the mouse onto ``point`` until plotly labels it; the point's box is read each try.
    Streamlit may draw the chart again just after it first shows (CI saw a hover land where the
    point had been and no label come): the mouse leaves and comes back to where it is now."""
    label = page.locator(".hoverlayer").get_by_text(re.compile(r"Position \d+")).first
    deadline = time.monotonic() + seconds
    while True:
        box = point.bounding_box()
        assert box is not None
        page.mouse.move(1, 1)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            expect(label).to_be_visible(timeout=3000)
            return box
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


def test_a_click_on_an_exit_marker_opens_that_positions_story(
    site: tuple[str, Dashboard, Morning], browser: Any
) -> None:
    kind, dashboard, morning = site
    page = open_chart(browser, dashboard, 1400)
    try:
        exits = page.locator(".js-plotly-plot .scatterlayer .trace").filter(
            has=page.locator("path.point")
        )
        expect(exits.first).to_be_visible()
        names = page.evaluate(
            "() => document.querySelector('.js-plotly-plot').data.map(t => t.name)"
        )
        index = names.index("Exit: Take profit")  # the trace's place among the traces
        point = (
            page.locator(".js-plotly-plot .scatterlayer .trace")
            .nth(index - 1)
            .locator("path.point")
        )
        expect(point).to_have_count(1)
        story = dashboard.url(f"/positions?position={morning.ids['take_profit']}")
        deadline = time.monotonic() + 45
        while True:  # a click on the labelled point opens the story (again if the chart redrew)
            box = hover_until_labelled(page, point)
            # the label read through a retrying locator: while Streamlit redraws the chart the
            # page holds two plots, so two hover layers (CI saw a one-shot read of
            # ".hoverlayer" fail in strict mode); the one that labels a position is the one
            expect(
                page.locator(".hoverlayer").filter(has_text=re.compile(r"Position \d+")).first
            ).to_contain_text(f"Position {morning.ids['take_profit']}")
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            try:
                expect(page).to_have_url(story, timeout=5000)
                break
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
        expect(title(page, "Positions")).to_be_visible()
        settle(page)
        assert exceptions(page) == []
        shoot(page, kind, "chart-click-opens-story")
    finally:
        page.context.close()
