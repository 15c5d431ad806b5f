"""The dashboard on a wide screen (1400 px) and on a phone (390 px), in Debian's Chromium driven
by Playwright, against a real ``helios dashboard`` process on a seeded SQLite file; and the Trade
preview's two-step Execute.

Every page of ``ui.navigation.PAGE_FILES`` (the tuple itself: a page added later is covered too)
is opened at both widths, running and halted, and must: raise nothing; show the mode badge and the
halt state (the banner when halted, "Trading active" otherwise) within the first screen; at
390 px start with the sidebar collapsed, not covering the page; draw no character from the emoji
and dingbat ranges (Debian's Chromium has no font for them and draws empty boxes). Pictures go
under ``tests/screenshots/phone/`` (git-ignored), as the other browser tests' do.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import helios
from tests.browser_support import (
    SCREENSHOTS,
    WAIT_MS,
    Dashboard,
    alert,
    enter,
    exceptions,
    expect,
    settle,
    shoot,
    title,
)
from tests.factories import SEED_REASONING, SEED_TRADE, give_market
from ui.navigation import PAGE_FILES

pytestmark = pytest.mark.slow

WIDTHS = {"wide": (1400, 1000), "phone": (390, 844)}
FOLDER = "phone"
WHO = "thandi"
# Characters Debian's Chromium draws as empty boxes: misc symbols and dingbats (U+2600-U+27BF),
# the pictographs and emoji blocks (U+1F300-U+1FAFF), the enclosed/mahjong/cards blocks
# (U+1F000-U+1F2FF), misc symbols and arrows' emoji (U+2B00-U+2BFF) and the emoji variation
# selector (U+FE0F).
NO_GLYPH = re.compile(
    "[\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001f2ff\U0001f300-\U0001faff]"
)


def page_path(number: int, file: str) -> str:
    """The address Streamlit gives a page: / for the default (first), else its file's stem."""
    return "/" if number == 0 else "/" + Path(file).stem


class Site:
    def __init__(self, hx: helios.Helios, dashboard: Dashboard) -> None:
        self.hx, self.dashboard = hx, dashboard

    def url(self, path: str) -> str:
        return self.dashboard.url(path)


@pytest.fixture(scope="module")
def site(
    browser: Any, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A seeded SQLite copy of conftest's migrated template (prices, history, two open and one
    closed position, two snapshots) and one dashboard serving it."""
    folder = tmp_path_factory.mktemp("browser-phone")
    shutil.rmtree(SCREENSHOTS / FOLDER, ignore_errors=True)
    shutil.copyfile(sqlite_template, folder / "helios.db")
    url = f"sqlite:///{folder / 'helios.db'}"
    hx = helios.connect(url, market_feed="manual")
    dashboard: Dashboard | None = None
    try:
        give_market(hx)
        hx.ledger.take_snapshot()
        for pair in ("BTCZAR", "ETHZAR", "SOLZAR"):
            assert hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)["success"]
        last = hx.positions.get_open_positions()[-1]["position_id"]
        assert hx.positions.close_position(last, "CLOSED", actor="seed")["success"]
        hx.market.set_price("BTCZAR", "1212000")
        hx.ledger.take_snapshot()
        dashboard = Dashboard(url, folder / "dashboard.log")
        yield Site(hx, dashboard)
    finally:
        if dashboard is not None:
            dashboard.stop()
        hx.close()


@pytest.fixture(autouse=True)
def no_server_traceback(site: Site) -> Iterator[None]:
    offset = len(site.dashboard.output())
    yield
    logged = site.dashboard.tracebacks_since(offset)
    assert not logged, f"the dashboard logged a traceback:\n{logged}"


@pytest.fixture
def tab(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new browser profile at the width the test asks for (``width`` param, default wide)."""
    width, height = WIDTHS[getattr(request, "param", "wide")]
    profile = browser.new_context(viewport={"width": width, "height": height})
    profile.set_default_timeout(WAIT_MS)
    page = profile.new_page()
    yield page
    profile.close()


def in_first_screen(page: Any, locator: Any) -> bool:
    """The element is drawn and lies wholly within the first screen (no scrolling)."""
    box = locator.bounding_box()
    window = page.viewport_size
    return bool(
        box
        and box["y"] >= 0
        and box["y"] + box["height"] <= window["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= window["width"] + 1
    )


def uncovered(page: Any, locator: Any) -> bool:
    """What the browser shows at the element's centre belongs to the main area (not to a sidebar
    lying over it)."""
    box = locator.bounding_box()
    assert box is not None
    found: Any = page.evaluate(
        """([x, y]) => { const hit = document.elementFromPoint(x, y);
            return !!(hit && hit.closest("[data-testid='stMain']")); }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    return bool(found)


def missing_glyphs(page: Any) -> list[str]:
    """Characters of the page's text that no font here draws (emoji, dingbats)."""
    shown = str(page.evaluate("() => document.body.innerText"))
    return sorted({f"U+{ord(c):04X} {c!r}" for c in NO_GLYPH.findall(shown)})


def check_page(page: Any, site: Site, number: int, file: str, label: str, halted: bool) -> None:
    width = page.viewport_size["width"]
    page.goto(site.url(page_path(number, file)))
    heading = title(page, label)
    expect(heading).to_be_visible()
    settle(page)
    where = f"{label} at {width} px{' halted' if halted else ''}"
    assert exceptions(page) == [], f"{where}: {exceptions(page)}"
    main = page.get_by_test_id("stMain")
    badge = main.get_by_test_id("stAlert").filter(has_text=re.compile("PAPER TRADING|LIVE TRADING"))
    expect(badge.first).to_be_visible()
    assert in_first_screen(page, badge.first), f"{where}: the mode badge is below the first screen"
    if halted:
        state = main.get_by_test_id("stAlert").filter(has_text="Trading halted:").first
    else:
        state = main.get_by_test_id("stMarkdownContainer").filter(has_text="Trading active").first
    expect(state).to_be_visible()
    assert in_first_screen(page, state), f"{where}: the halt state is below the first screen"
    sidebar = page.get_by_test_id("stSidebar")
    if width < 640:  # a phone: the sidebar starts collapsed and covers nothing
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        for seen in (heading, badge.first, state):
            assert uncovered(page, seen), f"{where}: the sidebar covers the page"
    else:
        expect(sidebar).to_have_attribute("data-collapsed", "false")
    assert missing_glyphs(page) == [], f"{where}: {missing_glyphs(page)}"
    if file.endswith("controls.py"):  # EMERGENCY STOP is the one red button
        stop = main.get_by_role("button", name="EMERGENCY STOP", exact=True)
        assert stop.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(198, 40, 40)"
        other = main.get_by_role("button", name="Close all positions", exact=True)
        assert other.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(198, 40, 40)"
    name = f"{'halted' if halted else 'running'}-{width}-{number + 1:02d}-{Path(file).stem}"
    shoot(page, FOLDER, name)


@pytest.mark.parametrize("tab", ["wide", "phone"], indirect=True)
@pytest.mark.parametrize("halted", [False, True], ids=["running", "halted"])
def test_every_page_shows_mode_and_halt_on_top_with_no_missing_glyph(
    site: Site, tab: Any, halted: bool
) -> None:
    if halted:
        site.hx.controls.halt("phone drill", "browser-tests")
    elif site.hx.controls.halt_state().halted:
        site.hx.controls.resume(by="browser-tests", note="phone test")
    try:
        for number, (file, label, _icon) in enumerate(PAGE_FILES):
            check_page(tab, site, number, file, label, halted)
    finally:
        if site.hx.controls.halt_state().halted:
            site.hx.controls.resume(by="browser-tests", note="after the phone test")


@pytest.mark.parametrize("tab", ["wide", "phone"], indirect=True)
def test_execute_asks_to_confirm_the_named_trade_and_opens_exactly_one(
    site: Site, tab: Any
) -> None:
    """Execute names the trade and opens nothing; Confirm opens exactly one position; the
    outcome stays (no fading toast) with a link to the story; the preview drawn after it says
    in a neutral note that it counts the new position (no red refusal beside the success)."""
    hx = site.hx
    if hx.controls.halt_state().halted:
        hx.controls.resume(by="browser-tests", note="execute test")
    hx.controls.close_all("browser-tests", "a clean book for the preview")
    for pair, value in hx.market.latest_prices().items():
        hx.market.set_price(pair, value)  # fresh prices
    page = tab
    page.goto(site.url("/preview"))
    expect(title(page, "Trade preview")).to_be_visible()
    settle(page)
    main = page.get_by_test_id("stMain")
    expect(alert(page, re.compile("All 7 checks pass"))).to_be_visible()
    enter(page.get_by_role("textbox", name="Your name", exact=True), WHO)
    before = {p["position_id"] for p in hx.positions.get_open_positions()}
    assert before == set()
    main.get_by_role("button", name="Execute", exact=True).click()
    ask = main.get_by_test_id("stAlert").filter(
        has_text=re.compile(r"Buy [0-9.]+ BTCZAR at ~R1,21\d,\d{3}\.\d\d \(R903\.00\), stop R")
    )
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("target R")
    expect(ask).to_contain_text("confirm?")
    settle(page)
    assert hx.positions.get_open_positions() == []  # armed, not done
    shoot(page, FOLDER, f"execute-confirm-{page.viewport_size['width']}")

    main.get_by_role("button", name="Confirm", exact=True).click()
    done = alert(page, re.compile(r"^Position \d+ opened at R"))
    expect(done).to_be_visible()
    settle(page)
    [opened] = hx.positions.get_open_positions()  # exactly one
    pid = opened["position_id"]
    expect(done).to_contain_text(f"Position {pid} opened at")
    link = main.get_by_role("link", name=f"Open position {pid}'s story")
    expect(link).to_be_visible()
    assert link.evaluate("a => a.href") == site.url(f"/positions?position={pid}")
    expect(alert(page, re.compile("now counts the position just opened"))).to_be_visible()
    expect(main.get_by_test_id("stAlert").filter(has_text=re.compile(r"Refused\b"))).to_have_count(
        0
    )
    expect(page.get_by_test_id("stToast")).to_have_count(0)
    expect(main.get_by_role("button", name="Confirm", exact=True)).to_have_count(0)
    page.wait_for_timeout(5000)  # a toast would have faded by now: the message stays
    expect(done).to_be_visible()
    assert len(hx.positions.get_open_positions()) == 1
    assert exceptions(page) == []
    shoot(page, FOLDER, f"execute-done-{page.viewport_size['width']}")
