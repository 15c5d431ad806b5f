"""The signed session in a real browser (issue 18, item 8; item 13's tab-close traceback):
Debian's Chromium against a real ``helios dashboard`` with DASHBOARD_PASSWORD_HASH set, at
1400 px and at a 390 px phone.

A sign-in survives a reload, a new tab and a bookmark (the HttpOnly ``helios_session`` cookie);
a forged or an expired cookie shows the form again and is recorded; "Sign out" shows the form
and a reload still does. Closing tabs leaves no traceback in the dashboard's output.
Screenshots go to tests/screenshots/login/.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import helios
from helios import session_key, session_token
from helios.auth import hash_password
from tests.browser_support import (
    WAIT_MS,
    Dashboard,
    enter,
    exceptions,
    expect,
    settle,
    shoot,
    title,
)
from tests.factories import give_market

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)
WIDTHS = pytest.mark.parametrize("width", [1400, 390])
COOKIE = "helios_session"


@dataclass
class Gated:
    dashboard: Dashboard
    hx: helios.Helios
    key_file: Path

    def key(self) -> bytes:
        return session_token.derive_key(session_key.load_or_create(self.key_file), PASSWORD_HASH)


@pytest.fixture(scope="module")
def gated(
    browser: Any, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gated]:
    folder = tmp_path_factory.mktemp("browser-login")
    shutil.copyfile(sqlite_template, folder / "helios.db")
    url = f"sqlite:///{folder / 'helios.db'}"
    hx = helios.connect(url, market_feed="manual")
    give_market(hx)
    hx.ledger.take_snapshot()
    key_file = folder / "session.key"
    dashboard = Dashboard(
        url,
        folder / "dashboard.log",
        DASHBOARD_PASSWORD_HASH=PASSWORD_HASH,
        DASHBOARD_SESSION_KEY_FILE=str(key_file),
        DASHBOARD_SESSION_HOURS="12",
    )
    try:
        yield Gated(dashboard, hx, key_file)
    finally:
        dashboard.stop()
        hx.close()


@pytest.fixture
def context(browser: Any, width: int) -> Iterator[Any]:
    """A fresh browser profile (no cookie) at ``width``."""
    profile = browser.new_context(
        viewport={"width": width, "height": 900 if width > 500 else 844}, reduced_motion="reduce"
    )
    profile.set_default_timeout(WAIT_MS)
    yield profile
    profile.close()


@pytest.fixture(autouse=True)
def no_server_traceback(gated: Gated) -> Iterator[None]:
    offset = len(gated.dashboard.output())
    yield
    logged = gated.dashboard.tracebacks_since(offset)
    assert not logged, f"the dashboard logged a traceback:\n{logged}"


def shows_form(page: Any) -> None:
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    settle(page)
    assert page.get_by_test_id("stMetric").count() == 0
    assert exceptions(page) == []


def shows_page(page: Any, name: str) -> None:
    expect(title(page, name)).to_be_visible()
    settle(page)
    assert page.get_by_role("button", name="Sign in", exact=True).count() == 0
    assert exceptions(page) == []


def sign_in(page: Any, who: str) -> None:
    enter(page.get_by_role("textbox", name="Your name", exact=True), who)
    enter(page.get_by_label("Password", exact=True), PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def session_cookie(context: Any) -> dict[str, Any] | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def sign_out(page: Any, width: int) -> None:
    """As a person does it: on a phone the sidebar starts closed (it is only moved off-screen,
    so its button counts as "visible"), so tap the header's open-sidebar button first; then
    "Sign out" is on the screen (scrolled to within the sidebar when needed) and is tapped."""
    sidebar = page.get_by_test_id("stSidebar")
    if width < 640:
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        page.get_by_test_id("stExpandSidebarButton").click()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    button = sidebar.get_by_role("button", name="Sign out", exact=True)
    button.scroll_into_view_if_needed()
    expect(button).to_be_in_viewport(ratio=1)
    settle(page)
    shoot(page, "login", f"sign-out-{width}")
    button.click()


def events(gated: Gated, kind: str) -> list[dict[str, Any]]:
    return [e for e in gated.hx.controls.event_log(limit=500) if e["kind"] == kind]


@WIDTHS
def test_a_sign_in_survives_a_reload_and_a_new_tab_until_sign_out(
    gated: Gated, context: Any, width: int
) -> None:
    who = f"thandi{width}"
    page = context.new_page()
    page.goto(gated.dashboard.url("/positions"))  # a bookmark
    shows_form(page)
    shoot(page, "login", f"form-{width}")
    sign_in(page, who)
    shows_page(page, "Positions")
    deadline = time.monotonic() + 10
    while session_cookie(context) is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    cookie = session_cookie(context)
    assert cookie is not None, "the sign-in set no session cookie"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert 11.9 * 3600 < cookie["expires"] - time.time() <= 12 * 3600
    assert page.evaluate("document.cookie").find(COOKIE) == -1  # no script can read it

    page.reload()
    shows_page(page, "Positions")
    shoot(page, "login", f"reloaded-{width}")

    tab = context.new_page()
    tab.goto(gated.dashboard.url("/"))
    shows_page(tab, "Summary")
    shoot(tab, "login", f"new-tab-{width}")
    tab.close()

    sign_out(page, width)
    shows_form(page)
    deadline = time.monotonic() + 10
    while session_cookie(context) is not None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert session_cookie(context) is None, "sign-out left the cookie"
    page.reload()
    shows_form(page)
    shoot(page, "login", f"signed-out-{width}")
    assert any(e["actor"] == who for e in events(gated, "LOGOUT"))
    # the token is never written anywhere in the database's event log
    assert all(cookie["value"] not in str(e) for e in gated.hx.controls.event_log(limit=500))


def set_cookie(context: Any, gated: Gated, value: str) -> None:
    context.add_cookies(
        [
            {
                "name": COOKIE,
                "value": value,
                "url": gated.dashboard.url("/"),
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )


@WIDTHS
def test_a_forged_or_expired_cookie_shows_the_form(gated: Gated, context: Any, width: int) -> None:
    real = session_token.issue("sipho", time.time(), 12, gated.key())
    version, _name, expires, signature = real.split(".")
    admin = session_token.issue("admin", time.time(), 12, b"k" * 32).split(".")[1]
    forged = f"{version}.{admin}.{expires}.{signature}"
    expired = session_token.issue("sipho", time.time() - 13 * 3600, 12, gated.key())
    for value, reason, name_seen in (
        (forged, "forged", "(session cookie)"),
        (expired, "expired", "sipho"),
    ):
        before = len(events(gated, "LOGIN_REFUSED"))
        set_cookie(context, gated, value)
        page = context.new_page()
        page.goto(gated.dashboard.url("/positions"))
        shows_form(page)
        shoot(page, "login", f"{reason}-{width}")
        refused = events(gated, "LOGIN_REFUSED")[: len(events(gated, "LOGIN_REFUSED")) - before]
        assert [(e["actor"], reason in e["message"]) for e in refused] == [(name_seen, True)]
        assert value not in str(refused)
        page.close()
    # the real token, for contrast, signs in
    set_cookie(context, gated, real)
    page = context.new_page()
    page.goto(gated.dashboard.url("/positions"))
    shows_page(page, "Positions")


@pytest.mark.parametrize("width", [1400])
def test_closing_tabs_leaves_no_traceback(gated: Gated, context: Any, width: int) -> None:
    """Tabs closed at every stage (loading, mid-run, settled, signed in) and a whole browser
    profile closed: the dashboard's output gets no traceback (the autouse fixture and here)."""
    offset = len(gated.dashboard.output())
    for delay in (0, 200, 1000):
        page = context.new_page()
        page.goto(gated.dashboard.url("/"), wait_until="commit")
        page.wait_for_timeout(delay)
        page.close(run_before_unload=True)
    page = context.new_page()
    page.goto(gated.dashboard.url("/"))
    shows_form(page)
    sign_in(page, "closer")
    shows_page(page, "Summary")
    page.wait_for_timeout(6000)  # the sidebar's fragment has rerun
    page.close()
    time.sleep(2)  # the server notices the closed sockets
    assert gated.dashboard.tracebacks_since(offset) == ""
    assert "Exception in ASGI application" not in gated.dashboard.output()[offset:]
