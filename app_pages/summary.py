"""Summary: the account, its risk against the limits, the latest prices and the equity curve.

Every figure comes from ``helios`` (``hx.ledger.valuation()``, ``hx.market.price_table()``,
``hx.ledger.snapshots()``); this page only formats and lays them out.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui

hx = ui.helios_or_stop()
settings = hx.settings
zone = settings.trading_day_timezone


@st.fragment(run_every=settings.dashboard_refresh_seconds)
def account() -> None:
    valuation = hx.ledger.valuation()

    st.subheader("Account")
    cols = st.columns(5)
    cols[0].metric(
        "Equity",
        ui.fmt_zar(valuation.equity),
        help="Portfolio value: cash + margin of open positions + unrealized P&L.",
        border=True,
    )
    cols[1].metric(
        "Cash",
        ui.fmt_zar(valuation.cash),
        help="Cash not tied up as margin: what new positions can draw on.",
        border=True,
    )
    cols[2].metric(
        "Margin in use",
        ui.fmt_zar(valuation.margin),
        help="Cash locked by the open positions (their position_size_zar); released on close.",
        border=True,
    )
    cols[3].metric(
        "Unrealized P&L",
        ui.fmt_zar(valuation.unrealized_pnl),
        help="Open positions marked at the latest prices, before the closing fee: what closing "
        "them all now would roughly add to cash.",
        border=True,
    )
    cols[4].metric(
        "Daily P&L",
        ui.fmt_zar(valuation.daily_pnl),
        help=f"Equity minus equity at the start of the trading day ({zone}).",
        border=True,
    )

    st.subheader("Risk")
    limits = hx.risk.get_limits()  # the version in force (the database's, not the first-start one)
    cols = st.columns(5)
    for col, label, shown, limit, explained in (
        (
            cols[0],
            "Drawdown",
            ui.fmt_pct(valuation.drawdown),
            ui.fmt_pct(limits.max_drawdown_pct),
            "1 - equity / peak equity. Above the limit trading halts.",
        ),
        (
            cols[1],
            "Daily loss",
            ui.fmt_pct(valuation.daily_loss),
            ui.fmt_pct(limits.daily_loss_limit_pct),
            "1 - equity / start-of-day equity. Above the limit trading halts.",
        ),
        (
            cols[2],
            "Leverage",
            ui.fmt_multiple(valuation.leverage),
            ui.fmt_multiple(limits.max_leverage),
            "Total notional of open positions / equity.",
        ),
    ):
        col.metric(
            label,
            shown,
            delta=f"limit {limit}",
            delta_color="off",
            delta_arrow="off",
            help=explained,
            border=True,
        )
    cols[3].metric(
        "Gross exposure",
        ui.fmt_zar(valuation.gross_exposure),
        help="Notional of the open positions at the latest prices (quantity x price), longs "
        "and shorts added: what the book moves with the market. Leverage = this / equity.",
        border=True,
    )
    cols[4].metric(
        "Open positions",
        len(valuation.positions),
        help="Positions holding margin (opening, open or closing). No fixed maximum count: the "
        "risk budget on the Risk page says how many more fit.",
        border=True,
    )
    if valuation.missing_prices:
        st.warning(
            "No price for " + ", ".join(valuation.missing_prices) + ": those positions are "
            "carried at their entry price.",
            icon=":material/warning:",
        )
    if valuation.start_of_day_unknown:
        st.warning(
            f"{valuation.start_of_day_unknown[0].upper()}{valuation.start_of_day_unknown[1:]}: "
            "the daily loss shown is not known, and the drawdown and daily-loss checks refuse "
            "every opening trade until the next trading day.",
            icon=":material/warning:",
        )


@st.fragment(run_every=settings.dashboard_refresh_seconds)
def latest_prices() -> None:
    st.subheader("Latest prices")
    prices = hx.market.price_table()
    if prices["price"].isna().all():
        st.info(
            f"No prices yet for {', '.join(prices['pair'])}: the scheduler's price job fills them "
            f"from the `{settings.market_feed.value}` feed (start it with `helios up`). Without "
            "prices no trade passes the risk checks.",
            icon=":material/schedule:",
        )
        return
    table = pd.DataFrame(
        {
            "Pair": prices["pair"],
            "Price": [ui.fmt_zar(value) for value in prices["price"]],
            "Age": [ui.fmt_age(value) for value in prices["age_seconds"]],
            "Source": prices["source"].fillna("-"),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Price": st.column_config.TextColumn("Price (ZAR)", alignment="right"),
            "Age": st.column_config.TextColumn(
                "Age", alignment="right", help="Time since the price reached the database."
            ),
        },
    )
    st.caption(
        f"As of {ui.fmt_time(hx.clock.now(), zone)} · refreshes every "
        f"{settings.dashboard_refresh_seconds:g} s"
    )


PERIODS = {"Day": 1, "Week": 7, "Month": 30, "Year": 365}
CHART_POINTS = 1500  # a year of minute snapshots is charted from about this many


def history_of(period: str) -> pd.DataFrame:
    since = hx.clock.now() - timedelta(days=PERIODS[period])
    return hx.ledger.snapshots(since=since, points=CHART_POINTS)


@st.fragment(run_every=settings.snapshot_interval_seconds)
def equity_chart() -> None:
    st.subheader("Equity")
    period = st.segmented_control(
        "Period", list(PERIODS), default="Week", key="equity_period", label_visibility="collapsed"
    )
    history = history_of(period or "Week")
    if history.empty:
        st.info("No snapshots yet: start the scheduler.", icon=":material/schedule:")
        return
    if len(history) == 1:
        first = history.iloc[0]
        st.info(
            f"One snapshot so far ({ui.fmt_zar(first['equity'])} at "
            f"{ui.fmt_time(first['ts'], zone)}); the curve starts with the next one.",
            icon=":material/schedule:",
        )
        return
    times = pd.to_datetime(history["ts"], utc=True).dt.tz_convert(zone)
    figure = go.Figure()
    figure.add_scatter(
        x=times,
        y=history["peak_equity"],
        name="Peak equity",
        mode="lines",
        line={"color": "#9ca3af", "width": 1, "dash": "dot"},
        hovertemplate="Peak R%{y:,.2f}<extra></extra>",
    )
    figure.add_scatter(
        x=times,
        y=history["equity"],
        name="Equity",
        mode="lines",
        line={"color": "#2563eb", "width": 2},
        hovertemplate="Equity R%{y:,.2f}<extra></extra>",
    )
    figure.update_layout(
        template="plotly_white",
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        yaxis={"tickprefix": "R", "tickformat": ",.2f", "nticks": 6},
        hovermode="x unified",
    )
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False})
    st.caption(f"{len(history)} snapshots shown (evenly spread over the period) · times in {zone}")
    drawdown_chart(history)


def drawdown_chart(history: pd.DataFrame) -> None:
    """Drawn by equity_chart, over the same period."""
    st.subheader("Drawdown")
    limit = hx.risk.get_limits().max_drawdown_pct
    times = pd.to_datetime(history["ts"], utc=True).dt.tz_convert(zone)
    figure = go.Figure()
    figure.add_scatter(
        x=times,
        y=-history["drawdown"] * 100,
        name="Drawdown",
        mode="lines",
        fill="tozeroy",
        line={"color": "#dc2626", "width": 1},
        hovertemplate="Drawdown %{y:.2f}%<extra></extra>",
    )
    figure.add_hline(y=-limit * 100, line={"color": "#991b1b", "dash": "dash"})
    figure.update_layout(
        template="plotly_white",
        height=220,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"ticksuffix": "%", "range": [-(limit * 100) * 1.2, 0.5]},
        showlegend=False,
    )
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False})
    st.caption(f"The dashed line is the {ui.fmt_pct(limit)} limit, where trading halts.")


@st.fragment(run_every=settings.snapshot_interval_seconds)
def trading_week() -> None:
    st.subheader("Last 7 days")
    review = hx.metrics.review(hx.clock.now() - pd.Timedelta(days=7))
    # Two metrics a row: this box is the narrow column, three were cut off at 1400 px.
    cols = st.columns(2)
    cols[0].metric(
        "Closed positions",
        review["closed_positions"],
        help="Positions closed in the last 7 days, whatever the exit (the Review page splits "
        "them by exit reason).",
        border=True,
    )
    cols[1].metric(
        "Win rate",
        ui.fmt_pct(review["win_rate"]) if review["win_rate"] is not None else "n/a",
        help="Closed positions with a positive realized P&L (after fees).",
        border=True,
    )
    st.metric(
        "Average position size",
        ui.fmt_zar(review["average_position_size_zar"])
        if review["average_position_size_zar"] is not None
        else "n/a",
        help="Average margin of the positions closed in the last 7 days.",
        border=True,
    )
    if review["average_position_size_by_pair"]:
        table = pd.DataFrame(
            [
                {
                    "Pair": pair,
                    "Average margin": ui.fmt_zar(size),
                    "Daily volatility now": ui.fmt_pct(hx.risk.volatility(pair).daily_vol),
                }
                for pair, size in review["average_position_size_by_pair"].items()
            ]
        )
        st.dataframe(table, hide_index=True, width="stretch")
    sizes_against_volatility()


def sizes_against_volatility() -> None:
    """Each position of the last 30 days: its margin against its pair's daily volatility when
    it was sized (from its risk decision), so a person sees the sizing follow volatility."""
    sized = hx.metrics.sizes_and_volatility(hx.clock.now() - pd.Timedelta(days=30))
    sized = sized[sized["daily_vol"].notna()]
    if sized.empty:
        st.caption(
            "Position size against volatility: no position of the last 30 days was sized with "
            "a volatility estimate yet (a pair needs 10 completed daily returns)."
        )
        return
    figure = go.Figure()
    for pair, rows in sized.groupby("pair"):
        figure.add_trace(
            go.Scatter(
                x=rows["daily_vol"] * 100,
                y=rows["position_size_zar"].astype(float),
                mode="markers",
                name=str(pair),
                customdata=rows["position_id"],
                hovertemplate="position %{customdata}: R%{y:,.2f} at %{x:.2f}% daily vol",
            )
        )
    # the title as page text, not Plotly's: Plotly draws it on one line and the narrow column
    # cut it off (issue 18); text wraps at any width
    st.markdown("**Position size against volatility when sized** (last 30 days)")
    figure.update_layout(
        xaxis_title="Daily volatility at entry (%)",
        yaxis_title="Margin (ZAR)",
        height=280,
        margin={"t": 10, "b": 40, "l": 50, "r": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
    )
    st.plotly_chart(figure, width="stretch", key="size_vs_vol")
    st.caption(
        "Sizing scales with volatility (vol targeting): calmer pairs and calmer days get larger "
        "positions, so the points should fall as volatility rises."
    )


account()
chart_column, prices_column = st.columns([3, 2], gap="large")
with chart_column:
    equity_chart()
with prices_column:
    latest_prices()
    trading_week()
