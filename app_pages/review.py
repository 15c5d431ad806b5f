"""Review: the profit tables (daily, weekly, monthly), then the seed's weekly checks over a
chosen period.

The profit tables come from ``hx.metrics.profit`` (drawn by ``ui.profit``); every other number
from ``hx.metrics.review`` (``helios/metrics.py``); this page only picks the periods, formats and
lays them out. The same period's weekly report (``hx.reports.weekly``: the
text the Monday alert carries, and its equity chart) is offered as a download at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from helios.errors import InvalidInput
from ui.profit import GAIN, LOSS, profit_section

hx = ui.helios_or_stop()
zone = ZoneInfo(hx.settings.trading_day_timezone)
today = hx.clock.now().astimezone(zone).date()

profit_section(hx)

st.divider()
st.markdown("**The seed's weekly checks, over the period you choose**")

left, right = st.columns(2)
first = left.date_input(
    "From", value=today - timedelta(days=7), max_value=today, help="Start of the period (00:00)."
)
last = right.date_input(
    "To (inclusive)", value=today, max_value=today, help="End of the period (end of that day)."
)
if first > last:
    st.error("The period's start is after its end: pick a start on or before the end.")
    st.stop()
period_days = (first, last)  # kept for the report download (``first`` is reused below)
start = datetime.combine(first, time.min, zone).astimezone(UTC)
end = min(
    datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC), hx.clock.now()
)
review = hx.metrics.review(start, end)


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


st.subheader("Checks")
cols = st.columns(4)
violations = review["risk_limit_violations_total"]
cols[0].metric(
    "Risk-limit violations",
    f"{violations:,}",
    help="Snapshots whose drawdown, daily loss or leverage was above its limit. Should be zero: "
    "a violation means the market moved faster than the halts, or a limit was loosened.",
    border=True,
)
cols[1].metric(
    "Emergency stops",
    f"{review['emergency_stops']:,}",
    help="Manual emergency stops in the period. Should be rare.",
    border=True,
)
cols[2].metric(
    "Automatic halts",
    f"{review['automatic_halts']:,}",
    help="Halts by the watchdog (drawdown, daily loss, stale prices, exchange errors, "
    "database lost).",
    border=True,
)
cols[3].metric(
    "Closed positions", f"{review['closed_positions']:,}", border=True, help="Closed in the period."
)
if violations:
    st.warning(
        "Limits were exceeded: "
        + ", ".join(f"{name} {n}x" for name, n in review["risk_limit_violations"].items() if n)
    )

st.subheader("Exits")
first, second = st.columns(3), st.columns(3)
cols = [*first, *second[:2]]
for col, status, label, meaning in (
    (cols[0], "STOPPED_OUT", "Stop-loss hit rate", "Share of closes at the stop loss."),
    (
        cols[1],
        "TAKE_PROFIT",
        "Take-profit hit rate",
        "Share of closes at the target that made money (after fees).",
    ),
    (
        cols[2],
        "TAKE_PROFIT_AT_A_LOSS",
        "Target touched, closed at a loss",
        "Share of closes at the target that lost money: filled below the entry (the target was "
        "touched inside a bar; by the time the monitor acted the market had turned) or too "
        "close to it to pay the fees. Counted apart from the take-profit hits.",
    ),
    (cols[3], "TIMEOUT", "Timeout rate", "Share of closes at the maximum holding time."),
    (cols[4], "EMERGENCY_CLOSE", "Emergency closes", "Share closed by a halt or emergency stop."),
):
    col.metric(
        label,
        ui.fmt_pct(review["hit_rates"][status]) if review["closed_positions"] else "n/a",
        help=f"{meaning} {review['exits'][status]} of {review['closed_positions']}.",
        border=True,
    )

st.subheader("Performance")
cols = st.columns(5)
cols[0].metric(
    "Realized P&L",
    ui.fmt_zar(review["realized_pnl"]),
    help="Sum of the realized P&L (after entry and exit fees) of the positions closed in the "
    "period; open positions are not included.",
    border=True,
)
cols[1].metric(
    "Win rate",
    ui.fmt_pct(review["win_rate"]) if review["win_rate"] is not None else "n/a",
    help="Closed positions with a positive realized P&L (after fees).",
    border=True,
)
cols[2].metric(
    "Sharpe",
    ratio(review["sharpe"]),
    help="Mean daily return above the cash rate over its standard deviation, annualised. "
    "n/a below two days of snapshots.",
    border=True,
)
cols[3].metric(
    "Sortino",
    ratio(review["sortino"]),
    help="Like Sharpe, but only the losing days count as risk.",
    border=True,
)
cols[4].metric(
    "Max drawdown",
    ui.fmt_pct(review["max_drawdown"]),
    help="Deepest fall of equity from its running peak within the period.",
    border=True,
)

st.subheader("P&L breakdown")
if not review["closed_positions"]:
    st.info("No position closed in this period yet: the breakdown appears once one has.")
else:
    by_pair, by_exit = st.columns(2)
    for col, title, table in (
        (by_pair, "By pair", review["pnl_by_pair"]),
        (by_exit, "By exit reason", review["pnl_by_exit"]),
    ):
        name = title.split()[-1].capitalize()
        frame = pd.DataFrame(
            [
                {
                    name: key,
                    "Realized P&L": ui.fmt_zar(row["realized_pnl"]),
                    "Positions": row["positions"],
                    "Wins": row["wins"],
                }
                for key, row in table.items()
            ]
        )
        col.markdown(f"**{title}**")
        col.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={
                name: st.column_config.TextColumn(name, pinned=True),
                "Realized P&L": st.column_config.TextColumn("Realized P&L", pinned=True),
            },
        )
        values = [float(row["realized_pnl"]) for row in table.values()]
        figure = go.Figure(
            go.Bar(
                x=list(table),
                y=values,
                name=title,
                marker_color=[LOSS if value < 0 else GAIN for value in values],
                hovertemplate="%{x}: R%{y:,.2f}<extra></extra>",
            ),
            layout={
                "height": 260,
                "margin": {"t": 10, "b": 10},
                "yaxis": {"tickprefix": "R", "tickformat": ",.0f"},
            },
        )
        col.plotly_chart(figure, width="stretch")

st.subheader("Slippage at exits")
slippage = review["slippage_by_exit"]
if not slippage:
    st.info(
        "No exit with a trigger level in this period: slippage is measured for stop-loss, "
        "take-profit and timeout closes (a manual close has no level to compare with)."
    )
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Exit reason": reason,
                    "Positions": row["positions"],
                    "Slippage": ui.fmt_zar(row["slippage_zar"]),
                    "Mean": ui.fmt_pct(row["mean_pct"]),
                    "Worst": ui.fmt_pct(row["worst_pct"]),
                }
                for reason, row in slippage.items()
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"Exit reason": st.column_config.TextColumn("Exit reason", pinned=True)},
    )
    st.caption(
        "Each fill against the level that triggered the exit (the stop, the target, the price "
        "the timeout saw), in the position's favour: negative means filled worse than the "
        "level. Paper fills follow the paper fill rules (docs/architecture.md)."
    )

st.subheader("Download the report")
try:
    report = hx.reports.weekly(period_days[1], first=period_days[0])
except InvalidInput:  # the period ends before the first snapshot: nothing recorded to report
    report = None
    st.info("No snapshot up to the end of this period yet: there is no report to download.")
if report is not None:
    st.caption(
        "The weekly report of this period as the Monday alert carries it: the checks above as "
        "text (Markdown) and the equity curve (PNG). `helios report weekly --date` prints it in "
        "a terminal."
    )
    text_col, chart_col = st.columns(2)
    text_col.download_button(
        "Report (.md)",
        report.markdown(),
        file_name=f"{report.file_stem}.md",
        mime="text/markdown",
        key="download_report_md",
        on_click="ignore",
    )
    if report.png is None:
        chart_col.caption("No equity chart: no snapshot in this period.")
    else:
        chart_col.download_button(
            "Equity chart (.png)",
            report.png,
            file_name=report.attachment_name,
            mime="image/png",
            key="download_report_png",
            on_click="ignore",
        )
