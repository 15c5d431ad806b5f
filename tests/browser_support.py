"""What the real-browser tests (``test_browser.py``) need: Debian's Chromium driven by
Playwright, a real ``helios dashboard`` process on a free port, and waits that follow Streamlit's
own end-to-end suite instead of sleeping.

Chromium is Debian's package (``apt-get install chromium``): Playwright's own browser download
does not work here, so it is launched by path with the flags that keep it off the network. When
it (or the ``playwright`` package) is missing the tests are skipped with the reason, unless
``HELIOS_REQUIRE_POSTGRES=1`` (CI), which turns that into a failure, as for PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Locator, Page, expect, sync_playwright
except ImportError:  # the dev extra brings it; without it the tests skip (or fail in CI)
    PLAYWRIGHT = False
    Locator = Page = expect = sync_playwright = None  # type: ignore[assignment,misc]
    PlaywrightError = Exception  # type: ignore[assignment,misc]
else:
    PLAYWRIGHT = True

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"  # git-ignored
CHROMIUM = "/usr/bin/chromium"
# As root, without a screen, and never reaching for the network (no background networking,
# component updates, sync or QUIC): the machine's closed network refuses all of those. No host
# but this machine resolves either, so nothing a page asks for can leave it (a page's request
# elsewhere fails at once, and the tests see it).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
REQUIRED = os.environ.get("HELIOS_REQUIRE_POSTGRES") == "1"
PG_ENV = "HELIOS_TEST_POSTGRES_URL"  # conftest's: the PostgreSQL server the suite may use
START_SECONDS = 90
WAIT_MS = 30_000  # one Streamlit run on a loaded 2-core machine stays far below this


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not PLAYWRIGHT:
        return "the browser tests need the playwright package (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"the browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install -y --no-install-recommends chromium)"
        )
    return None


def require_browser() -> None:
    """Skip (or, with HELIOS_REQUIRE_POSTGRES=1, fail) when the browser cannot run."""
    reason = browser_missing()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(reason + " and HELIOS_REQUIRE_POSTGRES=1 forbids skipping them")
    pytest.skip(reason)


# --- the dashboard process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """The test process's environment (which conftest cleared of Helios keys) with the test
    database, the manual market feed and no .env file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update(HELIOS_ENV_FILE="", DATABASE_URL=database_url, MARKET_FEED="manual", **extra)
    return env


class Dashboard:
    """``helios dashboard --port N`` (migrations, then ``streamlit run app.py``) as a real
    process in its own process group, its output in ``log``."""

    def __init__(self, database_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log
        self.base = f"http://127.0.0.1:{self.port}"
        self._output = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helios.cli", "dashboard", "--port", str(self.port)],
            env=child_env(database_url, **env),
            cwd=ROOT,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the dashboard exited ({self.process.returncode}):\n{self.output()}")
            try:
                if requests.get(f"{self.base}/_stcore/health", timeout=2).text == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"the dashboard did not answer within {START_SECONDS} s:\n{self.output()}")

    def url(self, path: str = "/") -> str:
        return self.base + path

    def output(self) -> str:
        if not self._output.closed:
            self._output.flush()
        return self.log.read_text(errors="replace")

    def tracebacks_since(self, offset: int) -> str:
        """The server's output after ``offset`` characters if it logged a traceback there (an
        exception in a page or fragment run), else ''."""
        text = self.output()[offset:]
        return text[-4000:] if "Traceback (most recent call last)" in text else ""

    def stop(self) -> None:
        """SIGTERM to the group (Streamlit shuts down cleanly), SIGKILL after 15 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._output.close()


def off_the_machine(url: str) -> list[str]:
    """[url] if a request for it would leave this machine, else []."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about") or parts.hostname in ("127.0.0.1", "localhost"):
        return []
    return [url]


# --- waiting for Streamlit -----------------------------------------------------------------------


def settle(page: Page) -> None:
    """Connected, no script run in progress ("Running..." gone), no skeleton left: the way
    Streamlit's e2e suite waits (e2e_playwright/conftest.py, wait_for_app_run)."""
    app = "[data-testid='stApp']"
    page.wait_for_selector(f"{app}[data-test-connection-state='CONNECTED']", state="attached")
    page.wait_for_selector(f"{app}[data-test-script-state='notRunning']", state="attached")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)


def title(page: Page, text: str) -> Locator:
    """The page's own heading (``ui.page_header`` draws it as the h1)."""
    return page.locator("h1").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def nav_links(page: Page, required: bool = True) -> list[tuple[str, str]]:
    """(label, href) of every page in the sidebar navigation, in order; with ``required``, wait
    for the navigation to be drawn."""
    links = page.get_by_test_id("stSidebarNavLink")
    if required:
        expect(links.first).to_be_visible()
    found = []
    for i in range(links.count()):
        link = links.nth(i)
        label = link.locator("[data-testid='stMarkdownContainer']").inner_text().strip()
        found.append((label, str(link.get_attribute("href"))))
    return found


def alert(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The text of a message box (``st.success``/``st.warning``/``st.error``...) in the main
    area: not the sidebar's, not a toast repeating it."""
    return page.get_by_test_id("stMain").get_by_test_id("stAlert").get_by_text(text)


def cut_off_metrics(page: Page) -> list[str]:
    """The metric labels and values drawn cut off (ending in an ellipsis because their column is
    too narrow), as "label: text"."""
    found: Any = page.evaluate(
        """() => Array.from(document.querySelectorAll("[data-testid='stMetric'] *"))
            .filter(el => el.children.length === 0
                || getComputedStyle(el).textOverflow === 'ellipsis')
            .filter(el => el.scrollWidth > el.clientWidth + 1)
            .map(el => {
                const metric = el.closest("[data-testid='stMetric']");
                const label = metric.querySelector("[data-testid='stMetricLabel']");
                return (label ? label.innerText.trim() : '?') + ': ' + el.innerText.trim();
            })"""
    )
    return [str(item) for item in found]


def exceptions(page: Page) -> list[str]:
    """The text of every exception element Streamlit drew (``stException``)."""
    return page.get_by_test_id("stException").all_inner_texts()


def grid_rows(frame: Locator) -> list[list[str]]:
    """The cells of an ``st.dataframe`` (drawn on a canvas; Glide keeps an accessible table of
    the visible rows beside it), header row first."""
    rows: Any = frame.locator("table").first.evaluate(
        "t => Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent.trim()))"
    )
    return [list(map(str, row)) for row in rows]


def enter(field: Locator, value: str) -> None:
    """Type into a text or number input and apply it with Enter, as a person does, then wait
    for the run it starts to finish (a click during it can land on a button being redrawn: on a
    loaded machine the Resume after a name was typed was lost that way)."""
    field.fill(value)
    field.press("Enter")
    field.page.wait_for_timeout(150)  # the rerun starts
    settle(field.page)


def choose(page: Page, label: str, option: str | re.Pattern[str]) -> None:
    """Pick ``option`` (its whole text, or a pattern) in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    if isinstance(option, str):
        page.get_by_role("option", name=option, exact=True).click()
    else:
        page.get_by_role("option", name=option).click()


def shoot(page: Page, folder: str, name: str) -> Path:
    """A whole-page screenshot under tests/screenshots/<folder>/<name>.png.

    Streamlit scrolls inside its main element, not the document, so a "full page" screenshot
    would stop at the window: the window is stretched to the content's height for the picture.
    """
    path = SCREENSHOTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    window = page.viewport_size
    assert window is not None
    height = int(
        page.evaluate(
            "() => { const main = document.querySelector(\"[data-testid='stMain']\");"
            " return main ? main.scrollHeight : document.body.scrollHeight; }"
        )
    )
    if height > window["height"]:
        page.set_viewport_size({"width": window["width"], "height": height})
    try:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(window)
    return path


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"
