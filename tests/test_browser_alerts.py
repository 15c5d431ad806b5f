"""The Controls page's "Send a test alert" in a real browser (Debian's Chromium, Playwright)
against a running ``helios dashboard`` whose ``ALERT_URLS`` is a real HTTP receiver on
127.0.0.1: the click reaches the receiver, the outcome shows at the top of the page, and neither
the channel's password nor its token is anywhere in the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import helios
from tests.alert_support import channel_url, leaks, masked
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    WAIT_MS,
    Dashboard,
    alert,
    enter,
    exceptions,
    expect,
    require_browser,
    settle,
    shoot,
    sync_playwright,
    title,
)
from tests.fakes.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def page() -> Iterator[Any]:
    require_browser()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_send_a_test_alert_from_the_controls_page(
    database_url: str, tmp_path: Path, receiver: Receiver, page: Any
) -> None:
    url = channel_url(receiver)
    dashboard = Dashboard(database_url, tmp_path / "dashboard.log", ALERT_URLS=url)
    try:
        page.goto(dashboard.url("/controls"))
        expect(title(page, "Controls")).to_be_visible()
        settle(page)
        expect(page.get_by_text("Recent alerts")).to_be_visible()
        button = page.get_by_role("button", name="Send a test alert", exact=True)
        expect(button).to_be_enabled()
        enter(page.get_by_role("textbox", name="Your name", exact=True).first, "thandi")
        button.click()
        [message] = receiver.wait_for(1)
        assert message.title == "[INFO] Helios test alert from thandi"
        expect(
            alert(page, f"Test alert delivered to 1 channel(s): {masked(receiver)}.")
        ).to_be_visible()
        settle(page)
        assert exceptions(page) == []
        shoot(page, "alerts", "controls-test-alert")
        assert leaks(page.content()) == []
        assert leaks(dashboard.output()) == []
        assert "Traceback" not in dashboard.output()
        with helios.connect(database_url, market_feed="manual") as hx:
            [event] = hx.controls.event_log(kind="ALERT_TEST")
            assert event["actor"] == "thandi" and "delivered" in event["message"]
    finally:
        dashboard.stop()
