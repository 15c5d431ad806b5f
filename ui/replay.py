"""The Replay page's parts: the form that starts a run (with its progress), the list of runs,
and the comparison of runs side by side (``app_pages/replay.py`` lays them out).

Every figure comes from ``hx.replay`` (the runs' own databases) and ``hx.metrics.review`` (the
operator's database, for "what actually happened"); the side-by-side tables are made by
``helios.replay.comparison`` (pure). This module reads the form, draws and formats.

Form rules: the limits are typed one per line as ``NAME=VALUE`` in the unit the Risk page shows
(percent for a ``_pct`` limit: ``max_drawdown_pct=10`` is 10%), converted exactly by
``LimitRule.from_shown``; the candle files one per line as ``PAIR=PATH[*FACTOR]``; the period is
whole UTC days, ``To`` included. Bad input raises ``InvalidInput`` naming the field, and nothing
starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from helios.errors import InvalidInput
from helios.limit_rules import LIMIT_RULES
from helios.money import positive
from helios.replay.comparison import (
    Column,
    Table,
    actual_vs_replay,
    equity_curve,
    figures_of,
    unique_labels,
)
from helios.replay.progress import ProgressMeter
from helios.replay.service import RECORDED, ReplayRequest, RunSummary
from helios.replay.sources import signals_from_database
from ui.format import fmt_pct, fmt_zar

SOURCES = {
    "recorded": "Recorded signals of this database",
    "csv": "A CSV of signals",
    "strategy": "A strategy (a name or a .py file)",
}
CANDLES = {"stored": "The stored candles", "files": "Candle files"}
STORED_INTERVALS = ("1m", "1d")
PROFILES = ("helios", "freqtrade")
INCOMPLETE = "INCOMPLETE"


# --- the form ---------------------------------------------------------------------------------


def parse_limits(text: str) -> dict[str, float]:
    """``NAME=VALUE`` lines (percent for a ``_pct`` limit) -> the stored limits."""
    out: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not value.strip():
            raise InvalidInput("limits", line, "NAME=VALUE, one a line (max_drawdown_pct=10)")
        rule = LIMIT_RULES.get(name)
        if rule is None:
            raise InvalidInput("limits", name, f"a risk limit: {', '.join(LIMIT_RULES)}")
        if name in out:
            raise InvalidInput("limits", name, "each limit once")
        out[name] = rule.from_shown(value.strip())
    return out


def parse_lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class FormValues:
    source: str
    source_text: str
    candles: str
    interval: str
    candle_files: str
    first: date
    last: date
    profile: str
    limits: str
    capital: str
    name: str


def request_from(values: FormValues) -> ReplayRequest:
    """The replay the form asks for (InvalidInput naming the field when it cannot be one)."""
    if values.first > values.last:
        raise InvalidInput("To", values.last.isoformat(), f"on or after From ({values.first})")
    signals, strategy = "", ""
    text = values.source_text.strip()
    if values.source == "recorded":
        signals = RECORDED
    elif not text:
        raise InvalidInput(
            "Signals CSV or strategy", "", "a CSV path, a strategy name or a .py path"
        )
    elif values.source == "csv":
        signals = text
    else:
        strategy = text
    candles: tuple[str, ...] = ()
    if values.candles == "files":
        candles = parse_lines(values.candle_files)
        if not candles:
            raise InvalidInput("Candle files", "", "PAIR=PATH[*FACTOR] lines, one a pair")
    capital = positive(values.capital, "Capital")
    return ReplayRequest(
        start=datetime.combine(values.first, datetime.min.time(), UTC),
        end=datetime.combine(values.last + timedelta(days=1), datetime.min.time(), UTC),
        candles=candles,
        interval=values.interval,
        signals=signals,
        strategy=strategy,
        profile=values.profile,
        limits=parse_limits(values.limits),
        initial_capital=capital,
        name=values.name.strip(),
    )


def form(today: date) -> FormValues | None:
    """The run form; the values when it was submitted, else None."""
    with st.form("replay_form"):
        left, right = st.columns(2)
        source = left.selectbox(
            "Signals",
            list(SOURCES),
            format_func=SOURCES.get,
            key="replay_source",
            help="Recorded: the signals this database received in the period (what if other "
            "limits had been in force?). A CSV: timestamp, pair, side, confidence, optional "
            "size, stop, target. A strategy: ema-cross, or a .py file with signals(pair, candles).",
        )
        source_text = right.text_input(
            "Signals CSV or strategy",
            value="ema-cross",
            key="replay_source_text",
            help="The CSV's path, or the strategy's name or .py path (not used for recorded).",
        )
        left, right = st.columns(2)
        candles = left.selectbox(
            "Candles", list(CANDLES), format_func=CANDLES.get, key="replay_candles"
        )
        interval = right.selectbox(
            "Stored interval",
            STORED_INTERVALS,
            key="replay_interval",
            help="For the stored candles: the interval they are stored at.",
        )
        candle_files = st.text_area(
            "Candle files (PAIR=PATH[*FACTOR], one a line)",
            key="replay_candle_files",
            height=80,
            help="CSV or Parquet in the OHLCV layout (timestamp, open, high, low, close, "
            "volume); *FACTOR converts the prices to ZAR. Used with Candles: Candle files.",
        )
        left, right = st.columns(2)
        first = left.date_input(
            "From (UTC)", value=today - timedelta(days=7), key="replay_from", help="From 00:00 UTC."
        )
        last = right.date_input(
            "To (UTC, inclusive)", value=today, key="replay_to", help="To the end of that day."
        )
        left, right = st.columns(2)
        profile = left.radio(
            "Rules",
            PROFILES,
            key="replay_profile",
            horizontal=True,
            help="helios: this database's configuration. freqtrade: a fixed R10,000 stake, one "
            "position per pair, limits out of the way, stop 2%, target 6% net, 72 h, fee 0.35%.",
        )
        capital = right.text_input("Capital (ZAR)", value="100000", key="replay_capital")
        limits = st.text_area(
            "Limits (NAME=VALUE, one a line; percent like the Risk page: 10 = 10%)",
            key="replay_limits",
            height=80,
            help="Override risk limits for this run only, e.g. max_drawdown_pct=10. Keys: "
            + ", ".join(LIMIT_RULES)
            + ".",
        )
        name = st.text_input("Name", key="replay_name", help="Shown in the list of runs.")
        submitted = st.form_submit_button("Run the replay", type="primary", key="replay_run")
    if not submitted:
        return None
    return FormValues(
        str(source),
        str(source_text),
        str(candles),
        str(interval),
        str(candle_files),
        first if isinstance(first, date) else today,
        last if isinstance(last, date) else today,
        str(profile),
        str(limits),
        str(capital),
        str(name),
    )


class Progress:
    """``hx.replay.run``'s progress callback: a progress bar with the candles done of the total
    and the candles per second (redrawn at most every 0.2 s, and at the end)."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="Reading the inputs...")
        self.meter = ProgressMeter()

    def __call__(self, done: int, total: int) -> None:
        reading = self.meter.reading(done, total)
        if reading is not None:
            self.bar.progress(reading.share, text=reading.text())


def invalid(exc: InvalidInput) -> str:
    """An InvalidInput as the page shows it: the field, the value, what is allowed."""
    return f"**{exc.field}** = `{exc.value!r}` is not allowed: {exc.allowed}. Nothing was started."


# --- the list of runs -------------------------------------------------------------------------


def status_of(run: RunSummary) -> str:
    """COMPLETE, or INCOMPLETE with why (failed, or still running / stopped part way)."""
    if run.complete:
        return run.status
    return f"{INCOMPLETE} ({run.status})"


def runs_frame(runs: Sequence[RunSummary]) -> pd.DataFrame:
    rows = []
    for run in runs:
        figures = run.figures or {}
        rate = run.candles_per_second
        rows.append(
            {
                "Run": run.id,
                "Name": run.name,
                "Status": status_of(run),
                "Candles": f"{run.candles:,}",
                "Wall s": "-" if run.wall_seconds is None else f"{run.wall_seconds:,.1f}",
                "Candles/s": "-" if rate is None else f"{rate:,.0f}",
                "Trades": "-" if not run.figures else f"{figures.get('closed_positions', 0):,}",
                "P&L": "-" if not run.figures else fmt_zar(figures.get("realized_pnl") or 0),
                "Max DD": "-" if not run.figures else fmt_pct(figures.get("max_drawdown")),
                "Error": run.error or "",
            }
        )
    return pd.DataFrame(rows)


def runs_table(runs: Sequence[RunSummary]) -> None:
    frame = runs_frame(runs)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "Run": st.column_config.TextColumn("Run", pinned=True),
            "Status": st.column_config.TextColumn("Status", pinned=True),
            "Error": st.column_config.TextColumn("Error", width="large"),
        },
    )


# --- the comparison ---------------------------------------------------------------------------


def labels_of(runs: Sequence[RunSummary]) -> dict[str, str]:
    return dict(
        zip([r.id for r in runs], unique_labels([(r.id, r.name) for r in runs]), strict=True)
    )


def column_of(hx: Any, run: RunSummary, label: str) -> Column:
    figures = figures_of(run.figures) if run.figures is not None else None
    rejections = hx.replay.rejections(run.id) if run.complete else None
    return Column(label, figures, rejections)


def equity_figure(hx: Any, runs: Sequence[RunSummary], labels: dict[str, str]) -> go.Figure:
    """The equity curves of ``runs`` on one chart (``helios.replay.comparison.equity_curve``)."""
    figure = go.Figure(
        layout={
            "height": 360,
            "margin": {"t": 10, "b": 10, "l": 10, "r": 10},
            "yaxis": {"tickprefix": "R", "tickformat": ",.0f"},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0},
            "hovermode": "x unified",
        }
    )
    for run in runs:
        frame = hx.replay.equity(run.id)
        snapshots = list(zip(frame["ts"], frame["equity"], strict=True))
        curve = equity_curve(run.spec, run.figures, snapshots)
        figure.add_trace(
            go.Scatter(
                x=list(curve.ts),
                y=list(curve.equity),
                name=labels[run.id],
                mode="lines+markers",
                line_shape="hv",  # equity holds until the next point
                hovertemplate="R%{y:,.2f}<extra>" + labels[run.id] + "</extra>",
            )
        )
    return figure


def draw_table(table: Table, key: str) -> None:
    first = table.columns[0]
    st.dataframe(
        pd.DataFrame(table.records(), columns=list(table.columns)),
        hide_index=True,
        width="stretch",
        height=35 * (len(table.rows) + 1) + 3,  # every row in view: no scrolling inside
        key=key,
        column_config={first: st.column_config.TextColumn(first, pinned=True)},
    )


def period_of(run: RunSummary) -> tuple[datetime, datetime] | None:
    try:
        return datetime.fromisoformat(run.spec["start"]), datetime.fromisoformat(run.spec["end"])
    except (KeyError, TypeError, ValueError):
        return None


def actual_table(hx: Any, run: RunSummary, label: str) -> Table | None:
    """A recorded-signal run beside the operator's own figures over its period (None when the
    run did not replay the recorded signals or is not complete)."""
    period = period_of(run)
    if run.spec.get("signals") != RECORDED or not run.complete or period is None:
        return None
    start, end = period
    actual = figures_of(hx.metrics.review(start, end))
    recorded, _skipped = signals_from_database(hx.settings.database_url, start, end)
    actual_signals: dict[str, int] = {}
    for signal in recorded:
        status = str(((signal.payload or {}).get("recorded") or {}).get("status") or "?")
        actual_signals[status] = actual_signals.get(status, 0) + 1
    return actual_vs_replay(
        actual, column_of(hx, run, label), actual_signals, hx.replay.signal_outcomes(run.id)
    )
