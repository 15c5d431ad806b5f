"""The closed trades list and the event log in a real browser (Debian's Chromium, Playwright)
against a running ``helios dashboard`` on a seeded SQLite file, at 1400 px and on a 390 px phone:
the filters and the CSV download of the closed list, the key columns' text fitting their pinned
columns, the event log's search and paging, and its "What" never cut off. Screenshots under
``tests/screenshots/trades/``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import helios
from helios.events import record_event
from tests.browser_support import (
    WAIT_MS,
    Dashboard,
    choose,
    enter,
    exceptions,
    expect,
    grid_rows,
    settle,
    shoot,
    title,
)
from tests.test_trade_queries import closed
from ui.trades import KEY_WIDTHS

pytestmark = pytest.mark.slow
WIDTHS = {"desktop": 1400, "phone": 390}
LONG = "The watchdog halted trading: " + "a long explanation of why, " * 10 + "END-OF-TEXT"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    """A seeded SQLite copy (12 closed trades, 80 events, one of them long) and its dashboard."""
    import shutil

    folder = tmp_path_factory.mktemp("browser-trades")
    shutil.copyfile(sqlite_template, folder / "helios.db")
    url = f"sqlite:///{folder / 'helios.db'}"
    with helios.connect(url, market_feed="manual") as hx:
        now = hx.clock.now()
        for i in range(12):
            pair, status, trigger = [
                ("BTCZAR", "STOPPED_OUT", "99"),
                ("ETHZAR", "TAKE_PROFIT", "103"),
                ("SOLZAR", "CLOSED", None),
            ][i % 3]
            closed(hx, pair, status, now - timedelta(hours=5 * i + 1), "-1234567.89", trigger)
        with hx.db.write() as session:
            for i in range(79):
                record_event(
                    session, ts=now, kind="NOTE_TEST", message=f"note {i} on BTCZAR", actor="tester"
                )
            record_event(
                session, ts=now, kind="HALT", severity="CRITICAL", actor="watchdog", message=LONG
            )
        dashboard = Dashboard(url, folder / "dashboard.log")
        try:
            yield dashboard
        finally:
            dashboard.stop()


@pytest.fixture(params=list(WIDTHS))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": WIDTHS[request.param], "height": 900},
        reduced_motion="reduce",
        accept_downloads=True,
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.device = request.param  # the screenshots' name
    try:
        yield tab
    finally:
        context.close()


def visit(page: Any, site: Dashboard, path: str, heading: str) -> None:
    page.goto(site.url(path))
    expect(title(page, heading)).to_be_visible()
    settle(page)
    if page.viewport_size["width"] < 600:  # the phone: the sidebar closed, as a person does
        close = page.get_by_test_id("stSidebarCollapseButton").locator("button")
        if close.count() and close.first.is_visible():
            close.first.click()
    assert exceptions(page) == []


def text_width(grid: Any, text: str) -> float:
    """The width of ``text`` in the grid's font (Glide draws 14px of the theme's font)."""
    return float(
        grid.evaluate(
            """(el, text) => { const c = document.createElement('canvas').getContext('2d');
                c.font = '14px ' + getComputedStyle(el).fontFamily;
                return c.measureText(text).width; }""",
            text,
        )
    )


def test_the_closed_list_filters_fits_its_key_columns_and_downloads(
    site: Dashboard, page: Any
) -> None:
    visit(page, site, "/positions", "Positions")
    grid = page.get_by_test_id("stDataFrame").filter(has=page.locator("text=Net P&L")).first
    expect(grid).to_be_visible()
    rows = grid_rows(grid)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["ID", "Pair", "Net P&L"]  # the pinned key columns come first
    assert len(body) == 12
    # every key cell's text fits its pinned column (cell padding 8 px a side)
    for row in body:
        for column, value in zip(header[:3], row[:3], strict=True):
            assert text_width(grid, value) + 16 <= KEY_WIDTHS[column], (column, value)
    # the pinned columns are all in view, on the phone too
    box = grid.bounding_box()
    assert sum(KEY_WIDTHS.values()) < box["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1

    choose(page, "Pair", "ETHZAR")
    expect(page.get_by_text("Trades 1-4 of 4", exact=False)).to_be_visible()
    settle(page)
    grid.scroll_into_view_if_needed()  # Glide redraws (and retells) only what is in view
    page.wait_for_timeout(300)
    body = grid_rows(grid)[1:]
    assert len(body) == 4 and {r[1] for r in body} == {"ETHZAR"}
    shoot(page, "trades", f"closed-ethzar-{page.device}")

    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download CSV").click()
    download = waiting.value
    assert download.suggested_filename.startswith("helios-trades-")
    text = Path(download.path()).read_text()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 4 and {r["pair"] for r in parsed} == {"ETHZAR"}
    assert {r["net_pnl_zar"] for r in parsed} == {"-1234567.89"}
    assert {r["exit_reason"] for r in parsed} == {"Take profit"}


def test_a_deep_link_opens_the_story(site: Dashboard, page: Any) -> None:
    visit(page, site, "/positions?position=2", "Positions")
    expect(page.get_by_text("BUY ETHZAR, TAKE_PROFIT", exact=False).first).to_be_visible()
    visit(page, site, "/positions?position=nope", "Positions")
    expect(page.get_by_text("which is not a position id").first).to_be_visible()


def cut_off_cells(page: Any, column: int) -> list[str]:
    """The event table's cells in ``column`` (1-based) whose text overflows its cell or the
    window (cut off, or off to the right of the screen)."""
    found: Any = page.evaluate(
        """(column) => { const width = window.innerWidth;
            return Array.from(document.querySelectorAll(
                `[data-testid='stTable'] tbody tr td:nth-of-type(${column})`))
            .filter(td => td.scrollWidth > td.clientWidth + 1
                || td.getBoundingClientRect().right > width + 1)
            .map(td => td.innerText.slice(0, 60)); }""",
        column,
    )
    return [str(x) for x in found]


def test_the_event_log_searches_pages_and_shows_what_whole(site: Dashboard, page: Any) -> None:
    visit(page, site, "/controls", "Controls")
    table = page.get_by_test_id("stTable").last
    expect(table).to_be_visible()
    headers = table.locator("thead th").all_inner_texts()
    what = [h.strip() for h in headers].index("What") + 1
    expect(page.get_by_text("Events 1-50 of", exact=False)).to_be_visible()
    first = table.locator(f"tbody tr:first-child td:nth-of-type({what})")
    assert first.inner_text().strip().endswith("END-OF-TEXT")  # the whole text
    assert cut_off_cells(page, what) == []
    shoot(page, "trades", f"event-log-{page.device}")

    enter(page.get_by_role("textbox", name="Search", exact=True), "note 1")
    expect(page.get_by_text("Events 1-11 of 11", exact=False)).to_be_visible()
    assert table.locator("tbody tr").count() == 11
    enter(page.get_by_role("textbox", name="Search", exact=True), "")
    enter(page.get_by_role("spinbutton", name="Page", exact=True), "2")
    expect(page.get_by_text("Events 51-", exact=False)).to_be_visible()
    expect(page.get_by_text("(page 2 of 2)", exact=False)).to_be_visible()
    assert cut_off_cells(page, what) == []
    shoot(page, "trades", f"event-log-page-2-{page.device}")
