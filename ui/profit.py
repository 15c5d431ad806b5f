"""How the Review page shows the profit tables (issue 18): a table and a bar chart of
``hx.metrics.profit`` (``helios.profit_periods`` states the rule).

Presentation only: every figure arrives computed (exact ZAR as ``Decimal``); here it is labelled,
R-formatted and coloured (losses red, gains green).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from helios.profit_periods import (
    DEFAULT_COUNTS,
    MAX_COUNT,
    PERIOD_NAMES,
    ProfitTable,
    period_label,
)
from ui.format import fmt_pct, fmt_zar

LOSS = "#dc2626"
GAIN = "#16a34a"
CHOICES = {"Daily": "daily", "Weekly": "weekly", "Monthly": "monthly"}


def profit_frame(table: ProfitTable) -> pd.DataFrame:
    """One row per period, newest first (the first is the current one, so far), every figure
    as text: the period (``Day``, ``Week of`` or ``Month``), P&L in rand, % of the period's
    starting equity, trades, win rate and the starting equity."""
    name = PERIOD_NAMES[table.period]
    rows = [
        {
            name: period_label(table.period, row),
            "P&L": fmt_zar(row.pnl),
            "% of start": fmt_pct(row.pnl_pct),
            "Trades": row.trades,
            "Win rate": fmt_pct(row.win_rate),
            "Starting equity": fmt_zar(row.starting_equity),
        }
        for row in table.rows
    ]
    columns = [name, "P&L", "% of start", "Trades", "Win rate", "Starting equity"]
    return pd.DataFrame(rows, columns=columns)


def profit_figure(table: ProfitTable) -> go.Figure:
    """The P&L of each period as a bar, oldest on the left: losses red, gains green."""
    ordered = list(reversed(table.rows))
    values = [float(row.pnl) for row in ordered]
    figure = go.Figure(
        go.Bar(
            x=[period_label(table.period, row) for row in ordered],
            y=values,
            marker_color=[LOSS if value < 0 else GAIN for value in values],
            customdata=[[fmt_zar(row.pnl), fmt_pct(row.pnl_pct), row.trades] for row in ordered],
            hovertemplate="%{x}: %{customdata[0]} (%{customdata[1]}), "
            "%{customdata[2]} trade(s)<extra></extra>",
        )
    )
    figure.update_layout(
        template="plotly_white",
        height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"tickprefix": "R", "tickformat": ",.0f", "zeroline": True},
        xaxis={"type": "category"},
        showlegend=False,
    )
    return figure


def column_config(period: str) -> dict[str, Any]:
    """The table's columns: the period and its P&L pinned, so they stay in view on a phone.
    Streamlit pins only while the pinned columns take at most 60% of the table's width (at
    390 px: 215 of 358 px), hence their fixed 96 + 104 px (the widest P&L, -R12,345.67, fits)."""
    column = st.column_config
    name = PERIOD_NAMES[period]
    return {
        name: column.TextColumn(name, pinned=True, width=96),
        "P&L": column.TextColumn(
            "P&L", pinned=True, width=104, help="Net realized P&L after fees (ZAR)."
        ),
        "% of start": column.TextColumn(
            "% of start", help="The P&L as a share of the equity at the period's start."
        ),
        "Trades": column.NumberColumn("Trades", help="Positions closed in the period."),
        "Win rate": column.TextColumn(
            "Win rate", help="Closed with a positive net P&L; '-' without a trade."
        ),
        "Starting equity": column.TextColumn(
            "Starting equity",
            help="The equity of the last snapshot at or before the period's start (the "
            "initial capital before the first snapshot).",
        ),
    }


def profit_section(hx: Any) -> None:
    """The Review page's profit tables: Daily / Weekly / Monthly, how many periods, the table
    (newest first) and the bar chart."""
    st.subheader("Profit by period")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    choice = left.segmented_control(
        "Period", list(CHOICES), default="Daily", key="profit_period", label_visibility="collapsed"
    )
    period = CHOICES[choice or "Daily"]
    count = right.number_input(
        "Periods",
        min_value=1,
        max_value=MAX_COUNT,
        value=DEFAULT_COUNTS[period],
        step=1,
        key=f"profit_count_{period}",
        help=f"How many {period} periods, up to {MAX_COUNT}; the newest is the current one.",
    )
    table = hx.metrics.profit(period, int(count))
    st.dataframe(
        profit_frame(table),
        hide_index=True,
        width="stretch",
        column_config=column_config(period),
        key="profit_table",
    )
    st.plotly_chart(
        profit_figure(table), width="stretch", config={"displayModeBar": False}, key="profit_chart"
    )
    st.caption(
        f"{fmt_zar(table.total_pnl)} over {table.trades} closed position(s) in these periods; "
        "the first row is the current period, so far. "
        f"Periods in the trading-day zone ({table.zone}); weeks run Monday to Sunday. The P&L "
        "is each position's net realized P&L (after fees), counted when it closed; open "
        "positions are not included."
    )
