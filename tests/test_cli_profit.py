"""``helios profit [--daily|--weekly|--monthly] [--count N] [--json]`` for real: ``python -m
helios.cli`` as a child process on the test database (the real clock), after positions closed
today and eight days ago; the ``--json`` document parsed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import helios
from helios.clock import trading_day
from tests.test_cli_controls import Cli
from tests.test_dashboard_review import close_two_today_and_one_eight_days_ago

ZONE = "Africa/Johannesburg"


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    with helios.connect(database_url, market_feed="manual") as hx:
        close_two_today_and_one_eight_days_ago(hx)  # -R18.06 and R54.18 now, R100 8 days ago
    return Cli(database_url, tmp_path)


def test_the_daily_table_as_json(cli: Cli):
    done = cli("profit", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # one document, nothing else on stdout
    assert (document["period"], document["zone"], document["count"]) == ("daily", ZONE, 7)
    assert Decimal(document["total_pnl"]) == Decimal("36.12")  # 8 days ago is out of range
    today = document["rows"][0]
    assert today["start"] == trading_day(datetime.now(UTC), ZONE).isoformat()
    assert today["starts_at"] == f"{today['start']}T00:00:00+02:00"
    assert Decimal(today["pnl"]) == Decimal("36.12") and isinstance(today["pnl"], str)
    assert Decimal(today["starting_equity"]) == Decimal("100000")
    assert today["pnl_pct"] == pytest.approx(36.12 / 1000)
    assert (today["trades"], today["wins"], today["win_rate_pct"]) == (2, 1, 50.0)
    assert [row["trades"] for row in document["rows"][1:]] == [0] * 6
    assert document["rows"][1]["win_rate_pct"] is None


def test_weeks_and_months_with_a_count(cli: Cli):
    weekly = json.loads(cli("profit", "--weekly", "--count", "3", "--json").stdout)
    assert len(weekly["rows"]) == 3 and weekly["trades"] == 3
    assert Decimal(weekly["total_pnl"]) == Decimal("136.12")
    monday = datetime.fromisoformat(weekly["rows"][0]["start"]).date()
    assert monday.weekday() == 0
    monthly = json.loads(cli("profit", "--monthly", "--count", "2", "--json").stdout)
    assert [row["start"][-2:] for row in monthly["rows"]] == ["01", "01"]
    assert sum(row["trades"] for row in monthly["rows"]) == 3


def test_the_readable_table(cli: Cli):
    done = cli("profit", "--count", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Daily profit, newest first (periods in {ZONE})"
    assert lines[1].split() == ["Day", "P&L", "%", "of", "start", "Trades", "Win", "rate"]
    assert lines[2].split()[1:] == ["(so", "far)", "R36.12", "0.04%", "2", "50.00%"]
    assert lines[3].split()[1:] == ["R0.00", "0.00%", "0", "-"]
    assert lines[4] == "Total R36.12 over 2 closed position(s)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "helios: --count 0 is not allowed: a whole number from 1 to 366"),
        (
            ["--weekly", "--count", "367"],
            "--count 367 is not allowed: a whole number from 1 to 366",
        ),
        (["--daily", "--monthly"], "argument --monthly: not allowed with argument --daily"),
        (["--count", "many"], "argument --count: invalid int value: 'many'"),
    ],
)
def test_bad_input_exits_2_naming_it(cli: Cli, args: list[str], message: str):
    done = cli("profit", *args, "--json")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
