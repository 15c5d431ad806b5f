"""The dashboard, rendered headless with Streamlit's AppTest on SQLite and PostgreSQL.

The app connects itself (``helios.connect()`` reading ``DATABASE_URL`` from the environment), as
it does when started with ``streamlit run app.py``; the tests seed the same database through the
library and read what the page shows.
"""

from __future__ import annotations

import ast
import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import helios
from helios.heartbeat import beat
from helios.settings_store import MODE_KEY, put_setting

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PRICES = {"BTCZAR": "1200000", "ETHZAR": "60000", "SOLZAR": "2500"}


def run_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> tuple[str, str]:
    found = [(m.value, m.delta) for m in at.metric if m.label == label]
    assert found, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return found[0]


def markdown(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def captions(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def _values(data: object) -> list[float]:
    """Plotly 6+ sends arrays as {"dtype", "bdata"} (base64); older ones as lists."""
    if isinstance(data, dict):
        raw = base64.b64decode(data["bdata"])
        return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).tolist()
    assert isinstance(data, list)
    return [float(value) for value in data]


def price_rows(at: AppTest) -> dict[str, dict[str, str]]:
    assert len(at.dataframe) == 1
    frame = at.dataframe[0].value
    return {row["Pair"]: row for row in frame.to_dict("records")}


def test_summary_shows_the_r100k_book_its_limits_and_the_latest_prices(
    seeded: helios.Helios,
) -> None:
    for pair, value in PRICES.items():
        seeded.market.set_price(pair, value)
    seeded.ledger.take_snapshot()
    seeded.ledger.take_snapshot()

    at = run_app()

    assert [t.value for t in at.title] == ["Summary"]
    assert metric(at, "Equity") == ("R100,000.00", "")
    assert metric(at, "Cash") == ("R100,000.00", "")
    assert metric(at, "Margin in use") == ("R0.00", "")
    assert metric(at, "Unrealized P&L") == ("R0.00", "")
    assert metric(at, "Daily P&L") == ("R0.00", "")
    assert metric(at, "Drawdown") == ("0.00%", "limit 15.00%")
    assert metric(at, "Daily loss") == ("0.00%", "limit 5.00%")
    assert metric(at, "Leverage") == ("0.00x", "limit 3.00x")
    assert metric(at, "Open positions") == ("0", "")

    rows = price_rows(at)
    assert list(rows) == ["BTCZAR", "ETHZAR", "SOLZAR"]
    assert rows["BTCZAR"]["Price"] == "R1,200,000.00"
    assert rows["ETHZAR"]["Price"] == "R60,000.00"
    assert rows["SOLZAR"]["Price"] == "R2,500.00"
    for row in rows.values():
        assert row["Source"] == "manual"
        assert re.fullmatch(r"\d+ s", row["Age"]), row["Age"]
        assert int(row["Age"].split()[0]) < 30

    charts = at.get("plotly_chart")
    assert len(charts) == 2  # equity, then drawdown
    traces = {trace["name"]: trace for trace in json.loads(charts[0].proto.spec)["data"]}
    assert set(traces) == {"Equity", "Peak equity"}
    assert _values(traces["Equity"]["y"]) == [100000.0, 100000.0]
    [drawdown] = json.loads(charts[1].proto.spec)["data"]
    assert drawdown["name"] == "Drawdown" and _values(drawdown["y"]) == [0.0, 0.0]
    assert "No snapshots yet" not in "\n".join(str(i.value) for i in at.info)


def test_paper_mode_is_shown_in_the_sidebar_and_on_the_page(seeded: helios.Helios) -> None:
    at = run_app()

    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert ":blue-badge[:material/science: PAPER TRADING]" in sidebar
    assert str(at.main.info[0].value) == "**PAPER TRADING**"
    assert not at.error
    assert "LIVE" not in markdown(at)


def test_live_mode_badge_is_red(seeded: helios.Helios) -> None:
    # LIVE switching arrives with issue #8; write the stored mode directly to see the badge.
    with seeded.db.write() as session:
        put_setting(session, MODE_KEY, "LIVE", seeded.clock.now(), "tester")

    at = run_app()

    assert ":red-badge[:material/bolt: LIVE TRADING]" in markdown(at)
    assert [str(e.value) for e in at.main.error] == ["**LIVE TRADING**"]
    assert "PAPER" not in markdown(at)
    assert not [i for i in at.info if "PAPER" in str(i.value)]


def test_without_snapshots_the_page_says_to_start_the_scheduler(seeded: helios.Helios) -> None:
    at = run_app()

    assert "No snapshots yet: start the scheduler." in [str(i.value) for i in at.info]
    assert not at.get("plotly_chart")
    assert not at.dataframe  # no table of dashes: the prices' empty state says why
    assert any("No prices yet for BTCZAR, ETHZAR, SOLZAR" in str(i.value) for i in at.info)
    assert metric(at, "Equity") == ("R100,000.00", "")


def test_a_single_snapshot_is_reported_until_there_is_a_curve(seeded: helios.Helios) -> None:
    snapshot = seeded.ledger.take_snapshot()

    at = run_app()

    infos = [
        str(i.value)
        for i in at.info
        if "PAPER TRADING" not in str(i.value) and "No prices yet" not in str(i.value)
    ]
    assert len(infos) == 1 and infos[0].startswith("One snapshot so far (R100,000.00 at "), infos
    shown_at = snapshot.ts.astimezone(ZoneInfo("Africa/Johannesburg"))
    assert f"{shown_at:%Y-%m-%d %H:%M:%S} SAST" in infos[0]
    assert not at.get("plotly_chart")


def test_a_halt_shows_its_reason_who_and_when(seeded: helios.Helios) -> None:
    assert not [e.value for e in run_app().error]
    state = seeded.controls.halt("test halt", by="tester")
    assert state.since is not None

    at = run_app()

    errors = [str(e.value) for e in at.error]
    banner = [text for text in errors if "Trading halted: test halt" in text]
    assert banner, errors
    shown_at = state.since.astimezone(ZoneInfo("Africa/Johannesburg"))
    assert f"Halted by tester at {shown_at:%Y-%m-%d %H:%M:%S} SAST" in banner[0], banner[0]
    assert any("test halt" in str(e.value) for e in at.sidebar.error)
    assert ":green[:material/check_circle:] **Trading active**" not in markdown(at)


def test_scheduler_heartbeat_missing_stale_and_fresh(seeded: helios.Helios) -> None:
    at = run_app()
    assert "**Scheduler not running**" in markdown(at)
    assert "No heartbeat recorded yet." in captions(at)

    now = datetime.now(UTC)
    stale = now - timedelta(hours=1)
    beat(seeded.db, "scheduler", stale, stale)
    at = run_app()
    assert "**Scheduler not running**" in markdown(at)
    assert "Last heartbeat 1 h 00 min ago." in captions(at)

    beat(seeded.db, "scheduler", datetime.now(UTC), stale)
    at = run_app()
    assert "**Scheduler running**" in markdown(at)
    assert "not running" not in markdown(at)
    age = re.search(r"Heartbeat (\d+) s ago\.", captions(at))
    assert age is not None, captions(at)
    assert int(age.group(1)) <= 3 * seeded.settings.heartbeat_interval_seconds


def test_bad_configuration_is_reported_by_key_instead_of_crashing(
    seeded: helios.Helios, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_LEVERAGE", "50")

    at = run_app()

    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert "Invalid configuration" in errors[0]
    assert "`MAX_LEVERAGE` = `'50'`: " in errors[0]
    assert "<= 10.0" in errors[0]
    assert not at.metric  # the page did not run


def test_a_bad_database_url_is_reported_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://trader:s3cret-pw@db.example/helios")
    st.cache_resource.clear()

    at = run_app()

    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert "DATABASE_URL" in errors[0]
    assert "trader:***@db.example" in errors[0]
    assert "s3cret-pw" not in errors[0]


def test_the_sidebar_shows_the_database_without_its_password(seeded: helios.Helios) -> None:
    at = run_app()

    text = captions(at)
    assert f"Database: `{seeded.db.display_url}`" in text
    assert "Market feed: `manual`" in text


# --- the dashboard stays a thin shell ---------------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _dashboard_files() -> list[Path]:
    pages = sorted((ROOT / "app_pages").glob("*.py"))
    assert len(pages) == 9  # the folder the pages live in (not "pages/": see ui/navigation.py)
    files = [APP, *pages, *sorted((ROOT / "ui").glob("*.py"))]
    return files


@pytest.mark.parametrize("path", _dashboard_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dashboard_files_do_not_touch_the_database_or_compute_money(path: Path) -> None:
    assert "sqlalchemy" not in _imports(path)
    source = path.read_text()
    assert "Decimal(" not in source, f"{path.name} builds Decimals: money arithmetic is helios'"
    if path.parent.name == "app_pages" or path == APP:
        assert "decimal" not in _imports(path)


def test_helios_never_imports_streamlit_or_apscheduler() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & {"streamlit", "apscheduler"})
        for path in (ROOT / "helios").rglob("*.py")
        if _imports(path) & {"streamlit", "apscheduler"}
    }
    assert offenders == {}


def test_the_limits_shown_are_the_version_in_force(seeded: helios.Helios) -> None:
    seeded.risk.update_limits({"max_drawdown_pct": 0.10}, changed_by="tester")
    at = run_app()
    drawdown = next(m for m in at.metric if m.label == "Drawdown")
    assert drawdown.delta == "limit 10.00%"


def test_the_summary_plots_each_size_against_the_volatility_it_was_sized_with(
    seeded: helios.Helios,
) -> None:
    """With positions sized on a volatility estimate, the Summary draws one point per position
    (margin against its pair's daily volatility at entry, from ``hx.metrics``)."""
    from tests.factories import give_market

    give_market(seeded)
    opened = seeded.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 900.0})
    assert opened["success"], opened
    at = run_app()
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    # the chart's title is page text above it (a plotly title was cut off); its x axis names it
    [chart] = [s for s in specs if "volatility" in str(s["layout"].get("xaxis", {}).get("title"))]
    [trace] = chart["data"]
    sized = seeded.metrics.sizes_and_volatility(seeded.clock.now() - timedelta(days=1))
    assert trace["name"] == "BTCZAR"
    assert _values(trace["y"]) == [900.0]
    assert _values(trace["x"]) == [sized["daily_vol"].iloc[0] * 100]
