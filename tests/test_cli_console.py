"""The CLI as a second console (issue 18), for real: ``python -m helios.cli`` as a child process
on the test database (SQLite and PostgreSQL). ``helios positions``, ``close``, ``limits`` and
``limits set`` with ``--json`` parsed against what the database holds; bad input exits 2 naming
the key, the value and the range, and changes nothing; a loosening needs ``--confirm``;
``helios --help`` lists the commands; a closed pipe ends ``helios status`` without a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import helios
from helios.limit_rules import LIMIT_NAMES, LIMIT_RULES
from tests.factories import SEED_TRADE, give_market
from tests.test_cli_controls import HELIOS, ROOT, Cli

SAST = "+02:00"  # the trading-day zone's offset (Africa/Johannesburg has no summer time)


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


@pytest.fixture
def book(database_url: str) -> Iterator[helios.Helios]:
    with helios.connect(database_url, market_feed="manual", paper_slippage_pct="0") as hx:
        give_market(hx)
        yield hx


def versions(hx: helios.Helios) -> list[int | None]:
    return [limits.version for limits in hx.risk.limit_history()]


def test_positions_lists_the_open_ones_with_pnl_and_distances(cli: Cli, book: helios.Helios):
    empty = cli("positions", "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout)["positions"] == []
    assert cli("positions").stdout.strip() == "no open positions"

    opened = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "cli console")
    assert opened["success"], opened
    book.market.set_price("BTCZAR", "1212000")  # +1% from the 1,200,000 entry
    done = cli("positions", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    [row] = document["positions"]
    [expected] = book.positions.get_open_positions()
    assert document["count"] == 1 and document["as_of"].endswith(SAST)
    assert row["position_id"] == opened["position_id"] and row["status"] == "OPEN"
    assert (row["pair"], row["side"]) == ("BTCZAR", "BUY")
    assert datetime.fromisoformat(row["opened_at"]) == expected["opened_at"]
    assert row["opened_at"].endswith(SAST)
    assert Decimal(row["position_size_zar"]) == Decimal("903")
    assert Decimal(row["entry_price"]) == expected["entry_price"] == Decimal("1200000")
    assert Decimal(row["price"]) == Decimal("1212000")
    # the P&L as money text, exact: 0.0007525 BTC x R12,000
    assert row["unrealized_pnl_zar"] == "9.03"
    assert Decimal(row["unrealized_pnl_zar"]) == expected["unrealized_pnl"]
    assert row["unrealized_pnl_pct"] == pytest.approx(1.0)  # percent, not a fraction
    stop, target = expected["stop_loss_price"], expected["take_profit_price"]
    assert row["distance_to_stop_pct"] == pytest.approx(float((1212000 - stop) / 1212000 * 100))
    assert row["distance_to_target_pct"] == pytest.approx(float((target - 1212000) / 1212000 * 100))

    table = cli("positions")
    assert table.returncode == 0, table.stderr
    header, line = table.stdout.splitlines()[:2]
    for column in ("Opened", "Pair", "Entry", "Price", "Unrealised P&L", "To stop", "To target"):
        assert column in header
    assert "BTCZAR" in line and "R9.03" in line and "+1.00%" in line and "SAST" in line


def test_close_closes_that_position_and_refuses_others(cli: Cli, book: helios.Helios):
    first = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, "cli console")
    second = book.positions.open_position("ETHZAR", "BUY", SEED_TRADE, "cli console")
    assert first["success"] and second["success"]
    done = cli("close", str(first["position_id"]), "--by", "thandi", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["closed"] is True and answer["status"] == "CLOSED"
    assert answer["by"] == "thandi" and Decimal(answer["realized_pnl_zar"]) <= 0  # the fees
    story = book.positions.position_history(first["position_id"])
    assert story["position"]["status"] == "CLOSED"
    assert any(e["kind"] == "CLOSE_REQUESTED" and "thandi" in e["message"] for e in story["events"])
    assert [r["position_id"] for r in book.positions.get_open_positions()] == [
        second["position_id"]
    ]

    again = cli("close", str(first["position_id"]), "--by", "thandi")
    assert again.returncode == 1 and again.stdout == ""
    assert f"position {first['position_id']} not closed" in again.stderr
    assert "CLOSED" in again.stderr
    unknown = cli("close", "999", "--by", "thandi", "--json")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "position_id=999" in unknown.stderr and "existing position" in unknown.stderr
    assert "Traceback" not in unknown.stderr + again.stderr
    nobody = cli("close", str(second["position_id"]))
    assert nobody.returncode == 2 and "--by" in nobody.stderr
    assert [r["position_id"] for r in book.positions.get_open_positions()] == [
        second["position_id"]
    ]


def test_limits_shows_the_version_in_force_with_labels_in_percent(cli: Cli, book: helios.Helios):
    shown = cli("limits", "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    limits = book.risk.get_limits()
    assert document["version"] == limits.version and document["changed_by"] == limits.changed_by
    assert datetime.fromisoformat(document["changed_at"]) == limits.changed_at
    assert document["changed_at"].endswith(SAST)
    assert list(document["limits"]) == list(LIMIT_NAMES)
    assert document["limits"]["max_portfolio_risk_exposure_pct"] == 15.0  # 0.15 in percent
    assert document["limits"]["max_leverage"] == 3.0
    assert document["limits"]["max_correlation_threshold"] == 0.9
    assert document["labels"]["max_portfolio_risk_exposure_pct"] == "Max portfolio risk exposure"

    table = cli("limits")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"limits version {limits.version}, set by {limits.changed_by} at")
    assert "SAST" in lines[0]
    row = next(line for line in lines if "max_portfolio_risk_exposure_pct" in line)
    assert row.startswith("Max portfolio risk exposure") and row.endswith("15.00%")
    assert next(line for line in lines if "max_leverage" in line).endswith("3.00x")


def test_limits_set_takes_percent_and_records_who(cli: Cli, book: helios.Helios):
    before = versions(book)
    tighter = cli("limits", "set", "max_portfolio_risk_exposure_pct", "12.5", "--by", "sipho")
    assert tighter.returncode == 0, tighter.stderr
    assert "Max portfolio risk exposure (max_portfolio_risk_exposure_pct): 15.00% -> 12.50%" in (
        tighter.stdout
    )
    limits = book.risk.get_limits()
    assert limits.max_portfolio_risk_exposure_pct == 0.125  # exactly the fraction
    assert limits.changed_by == "sipho" and versions(book) == [limits.version, *before]

    seven = cli("limits", "set", "max_drawdown_pct", "7", "--by", "sipho", "--json")
    assert seven.returncode == 0, seven.stderr
    answer = json.loads(seven.stdout)
    assert book.risk.get_limits().max_drawdown_pct == 0.07
    assert answer["limits"]["max_drawdown_pct"] == 7.0  # not 7.000000000000001 (0.07 * 100)
    assert answer["changed"] == {"max_drawdown_pct": {"from": 15.0, "to": 7.0}}
    assert answer["loosened"] == [] and answer["changed_by"] == "sipho"


def test_loosening_a_limit_needs_confirm(cli: Cli, book: helios.Helios):
    before = versions(book)
    refused = cli("limits", "set", "max_leverage", "5", "--by", "thandi")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "LOOSENS Max leverage (max_leverage) from 3.00x to 5.00x" in refused.stderr
    assert "--confirm" in refused.stderr
    assert book.risk.get_limits().max_leverage == 3.0 and versions(book) == before

    done = cli("limits", "set", "max_leverage", "5", "--by", "thandi", "--confirm", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["loosened"] == ["max_leverage"] and answer["limits"]["max_leverage"] == 5.0
    limits = book.risk.get_limits()
    assert (limits.max_leverage, limits.changed_by) == (5.0, "thandi")
    assert answer["version"] == limits.version


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["max_drawdown_pct", "150"], ["max_drawdown_pct='150'", "> 0 and <= 100", "in %"]),
        (["max_drawdown_pct", "0"], ["max_drawdown_pct='0'", "> 0 and <= 100"]),
        (["max_drawdown_pct", "ten"], ["max_drawdown_pct='ten'", "a percentage"]),
        (["max_drawdown_pct", "nan"], ["max_drawdown_pct='nan'", "a percentage"]),
        (["max_leverage", "11"], ["max_leverage='11'", ">= 1 and <= 10"]),
        (["max_correlation_threshold", "90"], ["max_correlation_threshold='90'", "<= 1"]),
        (["no_such_limit", "5"], ["KEY='no_such_limit'", "max_drawdown_pct", "max_leverage"]),
    ],
)
def test_bad_limit_input_exits_2_naming_key_value_and_range(
    cli: Cli, book: helios.Helios, args: list[str], named: list[str]
):
    before = (book.risk.get_limits(), versions(book))
    bad = cli("limits", "set", *args, "--by", "thandi", "--confirm", "--json")
    assert bad.returncode == 2, bad.stderr
    assert bad.stdout == "" and "Traceback" not in bad.stderr
    for text in named:
        assert text in bad.stderr
    assert (book.risk.get_limits(), versions(book)) == before  # nothing changed


def test_limits_set_without_by_changes_nothing(cli: Cli, book: helios.Helios):
    before = versions(book)
    missing = cli("limits", "set", "max_leverage", "2")
    assert missing.returncode == 2 and "--by" in missing.stderr
    assert versions(book) == before


def test_config_says_the_limits_in_force_live_in_the_database(cli: Cli, book: helios.Helios):
    book.risk.update_limits({"max_single_position_pct": 0.1}, changed_by="lerato")
    shown = cli("config")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "MAX_SINGLE_POSITION_PCT=0.2" in text  # the first-start value
    assert "The risk limits in force live in the database" in text
    version = book.risk.get_limits().version
    assert f"# In force: version {version}, set by lerato at" in text
    line = next(x for x in text.splitlines() if x.startswith("#   max_single_position_pct"))
    assert "10.00%" in line and LIMIT_RULES["max_single_position_pct"].label in line


def test_help_lists_every_command():
    shown = subprocess.run(
        [*HELIOS, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "The ``helios`` command." in shown.stdout
    for command in ("helios positions", "helios status", "limits [set KEY", "helios report"):
        assert command in shown.stdout
    listed = shown.stdout.split("positional arguments:")[1]
    for command in ("up", "status", "config", "positions", "close", "limits", "hash-password"):
        assert re.search(rf"\n    {command}\s+\S", listed), command
    limits_help = subprocess.run(
        [*HELIOS, "limits", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "15 means 15%" in limits_help.stdout and "--confirm" in limits_help.stdout


def test_a_closed_pipe_ends_status_quietly(cli: Cli, book: helios.Helios):
    """The reader gone before anything is written: every write fails with EPIPE. Exit as a
    Unix tool does (141), no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*HELIOS, "status"],
            env=cli.env,
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.stderr == ""


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head")
def test_status_piped_to_head_prints_one_line_and_no_traceback(cli: Cli, book: helios.Helios):
    command = " ".join([sys.executable, "-m", "helios.cli", "status"]) + " | head -1"
    done = subprocess.run(  # the pipe is the point
        command, shell=True, env=cli.env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert done.stdout.startswith("database ") and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
