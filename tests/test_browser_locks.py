"""Pair locks in a real browser (Debian's Chromium, Playwright) against a running
``helios dashboard`` on SQLite: a pair locked from the Controls page at 1400 px refuses the
Trade preview and a signal, naming the lock, until the lock's end passes (a lock of 0.02 h, 72
s, judged by the clock, no job), then the same trade passes; at 390 px (a phone) a lock is made,
listed with its ID and pair in view, and lifted with the Lift button. Screenshots under
``tests/screenshots/locks/``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import helios
from helios.db.models import Signal
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    WAIT_MS,
    Dashboard,
    alert,
    enter,
    exceptions,
    expect,
    grid_rows,
    require_browser,
    settle,
    shoot,
    sync_playwright,
    title,
)
from tests.factories import PRICES, SEED_TRADE, give_market

pytestmark = pytest.mark.slow
FOLDER = "locks"
WIDTHS = {"wide": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def browser() -> Iterator[Any]:
    require_browser()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[helios.Helios, Dashboard]]:
    with helios.connect(database_url, market_feed="manual") as hx:
        give_market(hx)
        dashboard = Dashboard(database_url, tmp_path / "dashboard.log")
        try:
            yield hx, dashboard
        finally:
            dashboard.stop()


def fresh_prices(hx: helios.Helios) -> None:
    for pair, value in PRICES.items():
        hx.market.set_price(pair, value)


def new_page(browser: Any, width: str) -> Any:
    context = browser.new_context(viewport=WIDTHS[width], reduced_motion="reduce")
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def lock_on_the_page(page: Any, pair: str, hours: str, reason: str) -> None:
    """Fill the Locks section's form as a person does and submit it (a form sends its values
    with the submit: nothing runs while it is filled)."""
    enter(page.get_by_role("textbox", name="Your name", exact=True).nth(1), "thandi")
    form = page.get_by_test_id("stForm")
    if form.get_by_role("combobox", name="Pair", exact=True).input_value() != pair:
        box = form.get_by_role("combobox", name="Pair", exact=True)
        box.click()
        page.keyboard.type(pair)  # the select filters as one types; Enter takes the match
        page.keyboard.press("Enter")
        expect(box).to_have_value(pair)
    form.get_by_role("spinbutton", name="Hours").fill(hours)
    form.get_by_role("textbox", name="Reason", exact=True).fill(reason)
    try:
        form.get_by_role("button", name=re.compile("Lock pair")).click()
        expect(alert(page, re.compile(rf"{pair} locked until .* SAST by thandi"))).to_be_visible()
    except AssertionError:
        shoot(page, FOLDER, "failed-lock")
        raise
    settle(page)


def signal(hx: helios.Helios, pair: str) -> Signal:
    receipt = hx.signals.submit(pair, "BUY", 0.8, True, trade_params=dict(SEED_TRADE))
    hx.signals.process_pending()
    with hx.db.read() as session:
        row = session.scalars(select(Signal).where(Signal.id == receipt["signal_id"])).one()
    return row


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lock_refuses_the_preview_and_a_signal_until_it_ends(
    site: tuple[helios.Helios, Dashboard], browser: Any
) -> None:
    hx, dashboard = site
    page = new_page(browser, "wide")
    page.goto(dashboard.url("/controls"))
    expect(title(page, "Controls")).to_be_visible()
    settle(page)
    expect(page.get_by_text("No pair is locked.")).to_be_visible()
    lock_on_the_page(page, "BTCZAR", "0.020", "browser lock")
    [lock] = hx.locks.active()
    assert (lock["pair"], lock["by"], lock["reason"]) == ("BTCZAR", "thandi", "browser lock")
    assert abs((lock["ends_at"] - lock["starts_at"]).total_seconds() - 72) < 0.01
    header, *rows = grid_rows(page.get_by_test_id("stDataFrame").filter(has_text="browser lock"))
    assert header[:2] == ["ID", "Pair"] and rows[0][:2] == [str(lock["id"]), "BTCZAR"]
    assert exceptions(page) == []
    shoot(page, FOLDER, "1400-controls-locked")

    fresh_prices(hx)
    refused = signal(hx, "BTCZAR")
    assert refused.status == "REJECTED"
    assert refused.status_reason.startswith("Pair BTCZAR is locked until ")
    assert refused.status_reason.endswith(f"(lock {lock['id']}, by thandi): browser lock")
    page.goto(dashboard.url("/preview"))
    expect(title(page, "Trade preview")).to_be_visible()
    settle(page)
    verdict = page.get_by_test_id("stAlert").filter(has_text=re.compile("checks pass|Refused"))
    expect(verdict).to_contain_text("Pair BTCZAR is locked until")
    expect(verdict).to_contain_text(f"(lock {lock['id']}, by thandi): browser lock")
    shoot(page, FOLDER, "1400-preview-refused-by-lock")
    assert hx.locks.active() != []  # the refusal above was seen while the lock held

    wait = (lock["ends_at"] - hx.clock.now()).total_seconds()
    time.sleep(max(0.0, wait) + 0.5)  # the lock ends by itself: no job, the clock judges it
    assert hx.locks.active() == []
    fresh_prices(hx)
    page.reload()
    expect(title(page, "Trade preview")).to_be_visible()
    settle(page)
    expect(verdict).to_contain_text("All 7 checks pass")
    shoot(page, FOLDER, "1400-preview-passes-after-expiry")
    assert signal(hx, "BTCZAR").status == "EXECUTED"
    assert exceptions(page) == []
    page.context.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_a_phone_a_lock_is_listed_and_lifted(
    site: tuple[helios.Helios, Dashboard], browser: Any
) -> None:
    hx, dashboard = site
    page = new_page(browser, "phone")
    page.goto(dashboard.url("/controls"))
    expect(title(page, "Controls")).to_be_visible()
    settle(page)
    if page.get_by_test_id("stSidebar").is_visible():  # the sidebar may cover a phone's page
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
    lock_on_the_page(page, "ETHZAR", "6", "phone lock with a long reason to read in full")
    [lock] = hx.locks.active()
    table = page.get_by_test_id("stDataFrame").first  # the locks (above the alerts and log)
    header, *rows = grid_rows(table)
    assert header[:2] == ["ID", "Pair"] and rows[0][:2] == [str(lock["id"]), "ETHZAR"]
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1
    shoot(page, FOLDER, "390-controls-locked")

    fresh_prices(hx)
    assert "ETHZAR is locked until" in hx.risk.preview("ETHZAR", "BUY", SEED_TRADE).result.reason
    page.get_by_role("button", name=re.compile("Lift lock")).click()
    expect(alert(page, f"Lock {lock['id']} on ETHZAR lifted by thandi.")).to_be_visible()
    settle(page)
    expect(page.get_by_text("No pair is locked.")).to_be_visible()
    [lifted] = hx.locks.history()
    assert (lifted["status"], lifted["lifted_by"]) == ("lifted", "thandi")
    fresh_prices(hx)
    assert hx.risk.preview("ETHZAR", "BUY", SEED_TRADE).result.passed is True
    assert exceptions(page) == []
    shoot(page, FOLDER, "390-controls-lifted")
    page.context.close()
