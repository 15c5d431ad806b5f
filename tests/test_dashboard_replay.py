"""The Replay page, rendered headless with Streamlit's AppTest on a real SQLite database.

Real runs first (``hx.replay.run``: the EMA-cross strategy over a day of synthetic 5m candles
written to a CSV, and a replay of signals recorded in the database), then the page: the list
shows them, the side-by-side table shows each run's own figures (``hx.replay.get(id).figures``),
a run that failed part way is INCOMPLETE and not offered for comparison, a recorded-signal run
shows what actually happened beside what would have, the form starts a run, and bad input (a
limit out of range, an unknown limit, a strategy that raises) names the field and starts
nothing. The pure tables are also checked directly (``helios.replay.comparison``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import helios
from helios.clock import ManualClock
from helios.money import fmt_zar
from helios.replay.comparison import (
    ACTUAL,
    Column,
    actual_vs_replay,
    breakdown,
    equity_curve,
    figures_of,
    side_by_side,
)
from helios.replay.service import RECORDED, ReplayRequest
from tests.dashboard_support import click, open_page, table_with

PAGE = "app_pages/replay.py"
START = datetime(2023, 1, 1, tzinfo=UTC)
BARS = 12 * 24  # a day of 5m bars


def write_candles(path: Path, base: float, wave: float) -> str:
    """A day of 5m bars oscillating around ``base`` (the EMAs cross a few times)."""
    n = np.arange(BARS)
    close = base * (1 + 0.03 * np.sin(n / wave))
    opens = np.r_[close[0], close[:-1]]
    frame = pd.DataFrame(
        {
            "timestamp": [(START + timedelta(minutes=5 * i)).isoformat() for i in range(BARS)],
            "open": opens,
            "high": np.maximum(opens, close) * 1.002,
            "low": np.minimum(opens, close) * 0.998,
            "close": close,
            "volume": 1.0,
        }
    )
    frame.to_csv(path, index=False)
    return str(path)


@dataclass
class Book:
    hx: helios.Helios
    folder: Path
    btc: str
    eth: str

    def request(self, **kw: object) -> ReplayRequest:
        base: dict[str, object] = {
            "start": START,
            "end": START + timedelta(days=1),
            "candles": (f"BTCZAR={self.btc}", f"ETHZAR={self.eth}"),
            "strategy": "ema-cross",
            "profile": "freqtrade",
        }
        base.update(kw)
        return ReplayRequest(**base)  # type: ignore[arg-type]


@pytest.fixture
def book(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Book]:
    """An operator database (SQLite in tmp_path) that the page opens from the environment, its
    runs in tmp_path/runs, and a day of candles for two pairs."""
    import streamlit as st

    database = tmp_path / "helios.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    runs = tmp_path / "runs"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MARKET_FEED", "manual")
    monkeypatch.setenv("REPLAY_DIR", str(runs))
    st.cache_resource.clear()
    btc = write_candles(tmp_path / "btc.csv", 1_000_000, 15.0)
    eth = write_candles(tmp_path / "eth.csv", 50_000, 11.0)
    with helios.connect(url, market_feed="manual", replay_dir=str(runs)) as hx:
        yield Book(hx, tmp_path, btc, eth)
    st.cache_resource.clear()


def failed_run(book: Book) -> str:
    """A run that fails part way (its progress callback raises after the first step): its
    file is left FAILED, as when the page is closed mid-run."""
    calls: list[int] = []

    def stop(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) > 1:
            raise RuntimeError("stopped part way")

    with pytest.raises(RuntimeError):
        book.hx.replay.run(book.request(name="broken"), stop)
    (failed,) = [r for r in book.hx.replay.runs() if not r.complete]
    assert failed.status == "FAILED" and "stopped part way" in (failed.error or "")
    return failed.id


def test_no_runs_yet(book: Book):
    at = open_page(PAGE)
    assert any("No replay yet" in i.value for i in at.info)
    assert not at.error


def test_runs_are_listed_and_compared_with_their_own_figures(book: Book):
    hx = book.hx
    first = hx.replay.run(book.request(name="wide stop"))
    second = hx.replay.run(book.request(name="tight stop", trade_params={"stop_loss_pct": 0.005}))
    broken = failed_run(book)
    assert first.complete and second.complete
    at = open_page(PAGE)
    listed = {row["Run"]: row for row in table_with(at, "Candles/s").to_dict("records")}
    assert set(listed) == {first.id, second.id, broken}
    assert listed[first.id]["Status"] == "COMPLETE"
    assert listed[first.id]["Name"] == "wide stop"
    assert listed[first.id]["Candles"] == f"{2 * BARS:,}"
    assert listed[broken]["Status"] == "INCOMPLETE (FAILED)"
    assert "stopped part way" in listed[broken]["Error"]
    # the failed run is not offered for comparison; the two complete ones are compared
    compare = at.multiselect(key="replay_compare")
    assert set(compare.value) == {first.id, second.id}
    assert broken not in compare.options and not any(broken in o for o in compare.options)
    figures = table_with(at, "Figure").set_index("Figure")
    for run in (first, second):
        stored = hx.replay.get(run.id).figures
        assert stored is not None
        column = figures[run.name]
        assert column["Trades"] == f"{stored['closed_positions']:,}"
        assert column["Realized P&L"] == fmt_zar(Decimal(stored["realized_pnl"]))
        assert column["Win rate"] == (
            "n/a" if stored["win_rate"] is None else f"{stored['win_rate']:.2%}"
        )
        assert column["Max drawdown"] == f"{stored['max_drawdown']:.2%}"
        assert column["Stop-loss rate"] == f"{stored['hit_rates']['STOPPED_OUT']:.2%}"
        assert column["Timeout rate"] == f"{stored['hit_rates']['TIMEOUT']:.2%}"
        rejected = hx.replay.rejections(run.id)
        assert column["Rejected (all)"] == f"{sum(rejected.values()):,}"
    # the tighter stop stops out more, and the table says so
    tight = hx.replay.get(second.id).figures or {}
    wide = hx.replay.get(first.id).figures or {}
    assert wide["closed_positions"] > 0 and tight["closed_positions"] > 0
    assert tight["exits"]["STOPPED_OUT"] > wide["exits"]["STOPPED_OUT"]
    by_pair = table_with(at, "Pair").set_index("Pair")
    assert set(by_pair.index) <= {"BTCZAR", "ETHZAR"} and len(by_pair.index) >= 1
    for pair, row in (wide["pnl_by_pair"] or {}).items():
        expected = f"{fmt_zar(Decimal(row['realized_pnl']))} ({row['positions']})"
        assert by_pair.loc[pair, "wide stop"] == expected
    (chart,) = at.get("plotly_chart")
    traces = {t["name"]: t for t in json.loads(chart.proto.spec)["data"]}
    assert set(traces) == {"wide stop", "tight stop"}
    for run_name, stored in (("wide stop", wide), ("tight stop", tight)):
        assert traces[run_name]["y"][0] == 100000  # the capital at the start
        assert traces[run_name]["y"][-1] == float(100000 + Decimal(stored["realized_pnl"]))
    # asked for, the incomplete run is offered too
    at.checkbox(key="replay_include_incomplete").check().run()
    assert broken in at.multiselect(key="replay_compare").options or any(
        broken in o for o in at.multiselect(key="replay_compare").options
    )


def test_a_recorded_signal_replay_shows_what_actually_happened(book: Book):
    url = book.hx.settings.database_url
    clock = ManualClock(START + timedelta(hours=1))
    with helios.connect(url, clock=clock, market_feed="manual") as recorder:
        for pair in ("BTCZAR", "ETHZAR", "BTCZAR"):
            recorder.signals.submit(pair, "BUY", 0.8, True)
            clock.advance(hours=3)
    run = book.hx.replay.run(book.request(strategy="", signals=RECORDED, name="what if", limits={}))
    assert run.complete and run.spec["signals"] == RECORDED
    outcomes = book.hx.replay.signal_outcomes(run.id)
    assert sum(outcomes.values()) == 3 and outcomes.get("EXECUTED", 0) >= 1
    at = open_page(PAGE)
    actual = table_with(at, ACTUAL).set_index("Figure")
    assert actual.loc["Signals PENDING", ACTUAL] == "3"  # never processed in this database
    assert actual.loc["Trades", ACTUAL] == "0"
    for status, count in outcomes.items():
        assert actual.loc[f"Signals {status}", "what if"] == str(count)
    stored = book.hx.replay.get(run.id).figures or {}
    assert actual.loc["Trades", "what if"] == str(stored["closed_positions"])
    assert actual.loc["Realized P&L", "Difference"] == fmt_zar(Decimal(stored["realized_pnl"]))


def fill_form(at, **values: object):  # type: ignore[no-untyped-def]
    at.selectbox(key="replay_source").set_value(values.get("source", "strategy"))
    at.text_input(key="replay_source_text").input(str(values.get("source_text", "ema-cross")))
    at.selectbox(key="replay_candles").set_value("files")
    at.text_area(key="replay_candle_files").input(str(values["files"]))
    at.date_input(key="replay_from").set_value(date(2023, 1, 1))
    at.date_input(key="replay_to").set_value(date(2023, 1, 1))
    at.radio(key="replay_profile").set_value("freqtrade")
    at.text_area(key="replay_limits").input(str(values.get("limits", "")))
    at.text_input(key="replay_name").input(str(values.get("name", "from the form")))
    return at


def test_the_form_starts_a_run_that_is_listed(book: Book):
    at = fill_form(open_page(PAGE), files=f"BTCZAR={book.btc}", limits="max_drawdown_pct=12.5")
    click(at, "replay_run")
    assert not at.error, [e.value for e in at.error]
    assert any("is complete" in s.value for s in at.success)
    (run,) = book.hx.replay.runs()
    assert run.complete and run.name == "from the form"
    assert run.spec["rules"]["limits"]["max_drawdown_pct"] == 0.125  # 12.5% typed, exactly
    listed = table_with(at, "Candles/s")
    assert list(listed["Run"]) == [run.id]
    assert at.multiselect(key="replay_compare").value == [run.id]


@pytest.mark.parametrize(
    ("limits", "field"),
    [("max_drawdown_pct=150", "max_drawdown_pct"), ("max_fun=3", "limits")],
)
def test_a_bad_limit_names_the_field_and_starts_nothing(book: Book, limits: str, field: str):
    at = fill_form(open_page(PAGE), files=f"BTCZAR={book.btc}", limits=limits)
    click(at, "replay_run")
    (error,) = at.error
    assert f"**{field}**" in error.value and "Nothing was started" in error.value
    assert book.hx.replay.runs() == []


def test_a_strategy_that_raises_starts_nothing(book: Book):
    bad = book.folder / "bad.py"
    bad.write_text("def signals(pair, candles):\n    raise ZeroDivisionError('oops')\n")
    at = fill_form(open_page(PAGE), files=f"BTCZAR={book.btc}", source_text=str(bad))
    click(at, "replay_run")
    (error,) = at.error
    assert "**strategy**" in error.value and "ZeroDivisionError" in error.value
    assert not [r for r in book.hx.replay.runs() if r.complete]


# --- the pure tables --------------------------------------------------------------------------


REVIEW = {
    "closed_positions": 4,
    "realized_pnl": "120.50",
    "win_rate": 0.5,
    "sharpe": None,
    "sortino": 1.234,
    "max_drawdown": 0.0125,
    "hit_rates": {"STOPPED_OUT": 0.5, "TAKE_PROFIT": 0.25, "TIMEOUT": 0.25},
    "exits": {"STOPPED_OUT": 2, "TAKE_PROFIT": 1, "TIMEOUT": 1},
    "automatic_halts": 1,
    "pnl_by_pair": {"BTCZAR": {"positions": 4, "realized_pnl": "120.50", "wins": 2}},
    "pnl_by_exit": {"STOPPED_OUT": {"positions": 2, "realized_pnl": "-40", "wins": 0}},
}


def test_the_side_by_side_table():
    live = dict(REVIEW, realized_pnl=Decimal("120.50"))
    a = Column("a", figures_of(REVIEW), {"max_drawdown_pct": 3, "pair_full": 1})
    b = Column("b", figures_of(live), {})
    c = Column("c (incomplete)", None, None)
    table = side_by_side([a, b, c])
    assert table.columns == ("Figure", "a", "b", "c (incomplete)")
    assert table.row("Trades") == ("4", "4", "-")
    assert table.row("Realized P&L") == ("R120.50", "R120.50", "-")
    assert table.row("Sharpe") == ("n/a", "n/a", "-")
    assert table.row("Sortino") == ("1.23", "1.23", "-")
    assert table.row("Max drawdown") == ("1.25%", "1.25%", "-")
    assert table.row("Stop-loss rate") == ("50.00%", "50.00%", "-")
    assert table.row("Rejected (all)") == ("4", "0", "-")
    assert table.row("Rejected: Max drawdown from peak") == ("3", "0", "-")
    assert table.row("Rejected: a position already open on the pair") == ("1", "0", "-")
    pairs = breakdown([a, c], "pair")
    assert pairs.records() == [{"Pair": "BTCZAR", "a": "R120.50 (4)", "c (incomplete)": "-"}]
    none = figures_of({})
    assert side_by_side([Column("x", none, {})]).row("Stop-loss rate") == ("n/a",)


def test_actual_beside_would_have():
    actual = figures_of(dict(REVIEW, realized_pnl="100", closed_positions=5))
    table = actual_vs_replay(
        actual,
        Column("run", figures_of(REVIEW), {}),
        {"EXECUTED": 5},
        {"EXECUTED": 4, "REJECTED": 1},
    )
    assert table.columns == ("Figure", ACTUAL, "run", "Difference")
    assert table.row("Trades") == ("5", "4", "-1")
    assert table.row("Realized P&L") == ("R100.00", "R120.50", "R20.50")
    assert table.row("Signals REJECTED") == ("0", "1", "+1")
    assert table.row("Win rate")[2] == ""
    assert table.row("Rejected (all)")[0] == "-"


def test_the_equity_curve_starts_at_the_capital_and_ends_realized():
    start = datetime(2023, 1, 1, tzinfo=UTC)
    spec = {"start": start.isoformat(), "initial_capital": "100000"}
    figures = {"end": (start + timedelta(days=2)).isoformat(), "realized_pnl": "-250.5"}
    day = start + timedelta(hours=22)
    curve = equity_curve(spec, figures, [(day, 99900.0)])
    assert curve.ts == (start, day, start + timedelta(days=2))
    assert curve.equity == (100000.0, 99900.0, 99749.5)
    assert equity_curve(spec, None, []).equity == (100000.0,)  # incomplete: no end point
