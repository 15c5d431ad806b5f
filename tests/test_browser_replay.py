"""The Replay page in a real browser (Debian's Chromium, Playwright) against a running
``helios dashboard`` on a SQLite file, at 1400 px and at a 390 px phone width: the page loads
with one run already made, a run started from the form (the EMA-cross strategy over a few hours
of 5m candles in a CSV) shows its progress bar with the candles per second, then appears in the
list as COMPLETE and on the comparison's equity chart; photographed under
``tests/screenshots/replay/``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import helios
from helios.replay.service import ReplayRequest
from tests.browser_support import (
    SCREENSHOTS,
    WAIT_MS,
    Dashboard,
    choose,
    exceptions,
    expect,
    grid_rows,
    settle,
    shoot,
    title,
)

pytestmark = pytest.mark.slow

WIDTHS = {"wide": 1400, "phone": 390}
FOLDER = "replay"
BARS = 12 * 8  # eight hours of 5m bars, yesterday (inside the form's default period)


def write_candles(path: Path, start: datetime) -> str:
    n = np.arange(BARS)
    close = 1_000_000 * (1 + 0.03 * np.sin(n / 6.0))
    opens = np.r_[close[0], close[:-1]]
    pd.DataFrame(
        {
            "timestamp": [(start + timedelta(minutes=5 * i)).isoformat() for i in range(BARS)],
            "open": opens,
            "high": np.maximum(opens, close) * 1.002,
            "low": np.minimum(opens, close) * 0.998,
            "close": close,
            "volume": 1.0,
        }
    ).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def site(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Dashboard, str]]:
    """A dashboard whose runs go to a folder of their own, with one run already made; and the
    candle file the form replays."""
    folder = tmp_path_factory.mktemp("browser-replay")
    shutil.rmtree(SCREENSHOTS / FOLDER, ignore_errors=True)
    shutil.copyfile(sqlite_template, folder / "helios.db")
    url = f"sqlite:///{folder / 'helios.db'}"
    runs = folder / "runs"
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    candles = write_candles(folder / "btc.csv", yesterday)
    with helios.connect(url, market_feed="manual", replay_dir=str(runs)) as hx:
        made = hx.replay.run(
            ReplayRequest(
                start=yesterday,
                end=yesterday + timedelta(days=1),
                candles=(f"BTCZAR={candles}",),
                strategy="ema-cross",
                profile="freqtrade",
                name="made before",
            )
        )
        assert made.complete
    served = Dashboard(url, folder / "dashboard.log", REPLAY_DIR=str(runs))
    yield served, candles
    served.stop()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_run_from_the_form(site: tuple[Dashboard, str], browser: Any, width: str) -> None:
    dashboard, candles = site
    context = browser.new_context(
        viewport={"width": WIDTHS[width], "height": 900}, reduced_motion="reduce"
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    offset = len(dashboard.output())
    try:
        page.goto(dashboard.url("/replay"))
        expect(title(page, "Replay")).to_be_visible()
        settle(page)
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text("made before").first).to_be_attached()
        shoot(page, FOLDER, f"{width}-before")
        choose(page, "Signals", "A strategy (a name or a .py file)")
        choose(page, "Candles", "Candle files")
        page.get_by_role("textbox", name="Candle files (PAIR=PATH[*FACTOR], one a line)").fill(
            f"BTCZAR={candles}"
        )
        main.get_by_test_id("stRadio").get_by_text("freqtrade", exact=True).click()
        name = f"from the form {width}"
        page.get_by_role("textbox", name="Name", exact=True).fill(name)
        page.get_by_role("button", name="Run the replay").click()
        progress = main.get_by_test_id("stProgress")
        expect(progress).to_be_visible()
        expect(progress).to_contain_text(re.compile(r"[\d,]+/[\d,]+ candles\s+[\d,]+ candles/s"))
        settle(page)
        expect(
            main.get_by_text(re.compile(r"Run \S+ \(" + name + r"\) is complete"))
        ).to_be_visible()
        runs = main.get_by_test_id("stDataFrame").first
        expect(runs).to_be_visible()
        header, *rows = grid_rows(runs)
        assert header[:3] == ["Run", "Status", "Name"], header  # pinned, then the name
        mine = [row for row in rows if name in row]
        assert mine and mine[0][1] == "COMPLETE", rows
        if width == "wide":  # on a phone the grid draws only the columns in view
            assert "Candles/s" in header and f"{BARS:,}" in mine[0], (header, mine[0])
        chart = main.get_by_test_id("stPlotlyChart").first
        expect(chart).to_be_visible()
        expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
        assert chart.locator(".scatterlayer .trace").count() >= 2  # this run and the one before
        expect(main.get_by_text("Figures", exact=True)).to_be_visible()
        assert exceptions(page) == []
        shoot(page, FOLDER, f"{width}-after")
    finally:
        context.close()
    logged = dashboard.tracebacks_since(offset)
    assert not logged, f"the dashboard logged a traceback:\n{logged}"
