"""``helios report daily|weekly [--date] [--png]`` for real: ``python -m helios.cli`` as a child
process on the test database (the real clock), after a week of snapshots the ledger took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

import helios
from helios.clock import ManualClock, trading_day, trading_day_start
from helios.money import fmt_zar
from tests.test_cli_controls import Cli
from tests.test_report_chart import PNG_MAGIC

ZONE = "Africa/Johannesburg"


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


@pytest.fixture
def week(database_url: str) -> dict[str, object]:
    """Snapshots at 12:00 local on each of the eight days before today, equity rising R100 a day
    (BTC's price set before each one, a BTC position open all along)."""
    today = trading_day(datetime.now(UTC), ZONE)
    first = today - timedelta(days=8)
    clock = ManualClock(trading_day_start(first, ZONE) + timedelta(hours=12))
    closes = {}
    with helios.connect(database_url, clock=clock, market_feed="manual") as hx:
        for offset in range(8):
            day = first + timedelta(days=offset)
            clock.set(trading_day_start(day, ZONE) + timedelta(hours=12))
            hx.market.set_price("BTCZAR", 1_200_000 + 1000 * offset)
            closes[day] = hx.take_snapshot().equity
    return {"today": today, "first": first, "closes": closes}


def test_the_weekly_report_and_its_chart(cli: Cli, week: dict, tmp_path: Path):
    last = week["today"] - timedelta(days=1)
    chart = tmp_path / "equity.png"
    done = cli("report", "weekly", "--date", str(last), "--png", str(chart))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Helios weekly report {last - timedelta(days=6)} to {last}"
    assert "Checks: no risk-limit violation." in lines
    assert "Risk-limit violations: 0 (should be zero)" in lines
    assert f"chart written to {chart} ({chart.stat().st_size:,} bytes)" in lines
    png = chart.read_bytes()
    assert png.startswith(PNG_MAGIC) and Image.open(chart).size == (800, 360)


def test_the_daily_report_of_a_day(cli: Cli, week: dict):
    day = week["first"] + timedelta(days=3)
    done = cli("report", "daily", "--date", str(day))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Helios daily report {day:%a} {day.day} {day:%b} {day.year}"
    assert f"Portfolio value: {fmt_zar(week['closes'][day])}" in lines
    assert f"  {day:%a} {day.day} {day:%b}: {fmt_zar(week['closes'][day])}" in lines


@pytest.mark.parametrize(
    "bad",
    ["2025-02-30", "future", "before"],
)
def test_a_bad_date_is_refused_with_the_range(cli: Cli, week: dict, tmp_path: Path, bad: str):
    today, first = week["today"], week["first"]
    value = {
        "future": str(today + timedelta(days=1)),
        "before": str(first - timedelta(days=1)),
    }.get(bad, bad)
    chart = tmp_path / "never.png"
    done = cli("report", "weekly", "--date", value, "--png", str(chart))
    assert done.returncode == 2, done.stdout
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"helios: --date {value!r} is not allowed: a date YYYY-MM-DD from {first} (the first "
        f"snapshot's trading day) to {today} (today)"
    )
    assert not chart.exists()


def test_a_chart_path_that_cannot_be_written(cli: Cli, week: dict, tmp_path: Path):
    target = tmp_path / "no-such-folder" / "equity.png"
    done = cli("report", "weekly", "--png", str(target))
    assert done.returncode == 2
    assert f"helios: --png '{target}': cannot write the chart there" in done.stderr
