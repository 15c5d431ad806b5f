"""The notebooks (notebooks/*.ipynb) executed for real: a kernel of this Python (nbclient, through
``helios.cli.notebooks``) on a seeded SQLite database (``tests.notebook_support``: signals through
the trading loop, a refusal, a close, snapshots), every cell run, no error output, and the figures
they print checked against the library's own (one implementation)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from html import escape
from pathlib import Path

import nbformat
import pytest

from helios.cli import notebooks
from helios.money import fmt_zar
from tests.conftest import new_sqlite_url
from tests.notebook_support import Book, connect_now, run_notebook, seed_book

ROOT = Path(__file__).resolve().parents[1]
TESTED = {
    "daily_check.ipynb",
    "weekly_review.ipynb",
    "why_this_trade.ipynb",
    "replay_sweep.ipynb",  # tests/test_notebook_replay.py
}


@pytest.fixture(scope="module")
def book(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Book:
    return seed_book(new_sqlite_url(sqlite_template, tmp_path_factory.mktemp("notebooks")))


@pytest.fixture
def env(book: Book, monkeypatch: pytest.MonkeyPatch) -> Book:
    """The kernel inherits this environment: the seeded database, no developer's .env, and the
    Agg backend (``import streamlit`` sets MPLBACKEND=Agg: a test process that imported it
    handed it to the kernel, whose plt.show() then drew nothing)."""
    monkeypatch.setenv("DATABASE_URL", book.url)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MARKET_FEED", "manual")
    monkeypatch.setenv("HELIOS_ENV_FILE", "")
    return book


def run(name: str, **parameters: object) -> tuple[str, list[str]]:
    """Run ``notebooks/<name>`` and return its outputs as text and the MIME types displayed."""
    return run_notebook(name, parameters)


def test_the_daily_check_shows_the_library_figures(env: Book):
    text, kinds = run("daily_check", reconcile=False, date=str(env.day))  # today, bar midnight
    with connect_now(env.url) as hx:
        valuation = hx.ledger.valuation()
        open_rows = hx.positions.get_open_positions()
        gauges = {r["check"]: r for r in hx.risk.utilisation()}
        report = hx.reports.daily(env.day)
    assert "Mode: PAPER" in text
    assert "Trading: not halted" in text
    assert f"Equity: {fmt_zar(valuation.equity)}" in text
    assert f"Today's P&L: {fmt_zar(valuation.daily_pnl)}" in text
    [position] = open_rows
    assert position["position_id"] == env.opened
    assert fmt_zar(position["unrealized_pnl"]) in text  # the open position's P&L, as hx has it
    single = gauges["single_position"]
    assert f"{single['value']:.2%}" in text and f"{single['used']:.2%}" in text
    assert report.title in text
    assert f"Portfolio value: {fmt_zar(valuation.equity)}" in text
    assert "SIGNAL_REJECTED" in text  # the recent events
    assert kinds.count("image/png") == 2  # the limits chart and the report's equity curve


def test_the_weekly_review_shows_the_review_and_the_report(env: Book):
    text, kinds = run("weekly_review")
    with connect_now(env.url) as hx:
        _, review = hx.reports.weekly_review()
        report = hx.reports.weekly()
    assert review["closed_positions"] == 1
    assert f"Realized P&L: {fmt_zar(review['realized_pnl'])}" in text
    assert f"Win rate: {review['win_rate']:.2%}" in text
    assert "Closed positions: 1" in text
    assert "Risk-limit violations: 0 (should be zero)" in text
    assert report.title in text
    assert report.text.splitlines()[3] in text  # "Equity: R100,000.00 -> R..., up ..."
    assert kinds.count("image/png") == 3  # the P&L bars, the daily profit bars, the equity curve
    with connect_now(env.url) as hx:
        days = hx.metrics.profit("daily")
    assert f"Daily: {fmt_zar(days.total_pnl)} over {days.trades} trade(s)" in text
    day = days.rows[0].start.isoformat()  # the daily table comes first (a Monday starts a week)
    today = next(line for line in text.splitlines() if line.startswith(day))
    assert fmt_zar(days.rows[0].pnl) in today and days.rows[0].pnl != 0  # the day's closed trade


def test_why_a_signal_was_refused(env: Book):
    text, _ = run("why_this_trade", signal_id=env.refused_signal)
    with connect_now(env.url) as hx:
        story = hx.risk.explain(signal_id=env.refused_signal)
    assert story is not None and not story.passed and story.position_id is None
    assert [c["name"] for c in story.failed_checks] == ["single_position"]
    assert "BUY SOLZAR: REFUSED" in text
    assert f"Why: {story.reason}" in text and "CHECK 4 single_position" in story.reason
    assert "Limits failed: max_single_position_pct" in text
    assert "Sized by: given" in text
    assert "Same verdict as recorded." in text
    assert len(story.checks) == 7
    for check in story.checks:  # all 7 with their messages (in the table: HTML-escaped)
        assert escape(check["message"], quote=False) in text


def test_why_a_position_was_sized_so(env: Book):
    text, kinds = run("why_this_trade", position_id=env.opened)
    with connect_now(env.url) as hx:
        story = hx.risk.explain(position_id=env.opened)
        margin = hx.positions.position_history(env.opened)["position"]["position_size_zar"]
    assert story is not None and story.passed and story.signal_id == env.opened_signal
    steps = {s.name: s for s in story.sizing_steps}
    assert steps["size (margin)"].value == pytest.approx(float(margin))
    assert steps["full Kelly f"].value == pytest.approx(0.8)  # (0.85 x 3 - 0.15) / 3
    assert "BUY BTCZAR: PASSED" in text
    assert "Sized by: kelly_vol" in text
    assert story.sizing_explanation in text
    assert fmt_zar(steps["size (margin)"].value) in text
    assert fmt_zar(steps["target notional"].value) in text
    assert f"It opened position {env.opened}" in text
    assert "image/png" in kinds  # the sizing chart


def test_every_notebook_is_tested_and_committed_without_outputs():
    found = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert found == TESTED
    for name in found:
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), name
        assert code[0].metadata.get("tags") == ["parameters"], name  # papermill's convention


def test_an_error_cell_fails_the_run(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("assert x == 2, f'x is {x}'"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(notebooks.NotebookFailed, match="x is 1"):
        notebooks.execute(path)
    assert notebooks.error_outputs(notebooks.execute(path, {"x": 2})) == []  # injected: runs


def test_parameters_are_injected_after_the_parameters_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("date = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(date)"),
    ]
    notebooks.with_parameters(nb, {"date": "2026-01-02"})
    notebooks.with_parameters(nb, {"date": "2026-01-03", "n": 5})  # replaces, never stacks
    assert [c.source for c in nb.cells] == [
        "# t",
        "date = None",
        "# Parameters of this run\ndate = '2026-01-03'\nn = 5\n",
        "print(date)",
    ]
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]
    with pytest.raises(notebooks.NotebookFailed, match="no cell tagged 'parameters'"):
        notebooks.with_parameters(nbformat.v4.new_notebook(), {})


def test_importing_helios_and_its_cli_loads_no_jupyter():
    code = (
        "import sys, json, helios, helios.cli.main; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'nbformat', 'nbclient', 'nbconvert', 'jupyter_client', 'ipykernel', 'IPython'})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == []


@pytest.fixture
def seeded_cli(book: Book, tmp_path: Path) -> Iterator[object]:
    from tests.test_cli_controls import Cli

    yield Cli(book.url, tmp_path)


def test_helios_report_daily_html_writes_the_notebook(seeded_cli, book: Book, tmp_path: Path):
    out = tmp_path / "daily.html"
    done = seeded_cli("report", "daily", "--html", str(out))
    assert done.returncode == 0, done.stderr
    assert f"notebook written to {out}" in done.stdout
    html = out.read_text(encoding="utf-8")
    with connect_now(book.url) as hx:
        equity = hx.ledger.valuation().equity
        title = hx.reports.daily().title
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert f"Equity: {fmt_zar(equity)}" in html
    assert title in html
    assert "data:image/png;base64," in html  # the charts, inline
    assert "hx = helios.connect(reconcile=reconcile)" not in html  # no code: a report
    assert "Traceback" not in html


def test_helios_report_weekly_html_of_a_bad_date_writes_nothing(seeded_cli, tmp_path: Path):
    out = tmp_path / "weekly.html"
    done = seeded_cli("report", "weekly", "--date", "2000-01-01", "--html", str(out))
    assert done.returncode == 2
    assert "--date '2000-01-01' is not allowed" in done.stderr
    assert not out.exists()
