"""Chart: a pair's candles with each position's entry and exit, and the open ones' stop and
target; a click on a marker opens that position's story on the Positions page.

The candles come from ``hx.market.chart_candles`` (rolled up in SQL from the stored 1-minute
candles), the positions from ``hx.positions.trades_in_range``; ``ui.candles`` draws them. This
page only picks the pair, interval and range.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

import ui
from helios.errors import InvalidInput
from helios.market.bars import CHART_INTERVALS
from ui.candles import build_figure, marker_count, selected_position, story_link

hx = ui.helios_or_stop()
zone = hx.settings.trading_day_timezone
now = hx.clock.now()
RANGES = {
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Last year": timedelta(days=365),
}
DATES = "Dates"

pick_pair, pick_interval, pick_range = st.columns(3)
pair = pick_pair.selectbox("Pair", hx.market.pairs, key="chart_pair")
interval = pick_interval.selectbox(
    "Interval",
    list(CHART_INTERVALS),
    index=list(CHART_INTERVALS).index("1h"),
    key="chart_interval",
    help="Candles rolled up from the stored 1-minute candles (1d: the stored daily candles).",
)
span = pick_range.selectbox(
    "Range", [*RANGES, DATES], index=1, key="chart_range", help="Times in the trading-day zone."
)
if span == DATES:
    today = now.astimezone(ZoneInfo(zone)).date()
    first_day, last_day = st.columns(2)
    first = first_day.date_input("From", value=today - timedelta(days=7), max_value=today)
    last = last_day.date_input("To (inclusive)", value=today, max_value=today)
    start = datetime.combine(first, time.min, ZoneInfo(zone)).astimezone(UTC)
    end = min(datetime.combine(last + timedelta(days=1), time.min, ZoneInfo(zone)), now)
else:
    start, end = now - RANGES[span], now

try:
    candles = hx.market.chart_candles(pair, interval, start, end)
    trades = hx.positions.trades_in_range(pair, start, end)
except InvalidInput as exc:
    st.error(str(exc))
    st.stop()

if candles.empty:
    st.info(
        f"No candles stored for {pair} in this range. Minute candles are kept for "
        f"{hx.settings.intraday_retention_days} days (INTRADAY_RETENTION_DAYS), daily candles "
        "for ever: choose 1d for an older range."
    )
    if not trades:
        st.stop()  # nothing to draw


def chosen_marker() -> None:
    """A click on a marker (before the rerun, so a figure redrawn with newer prices cannot
    lose it): remember its position for the run that follows."""
    state = st.session_state.get("chart_figure")
    st.session_state["chart_open"] = selected_position(state.selection if state else None)


figure = build_figure(candles, trades, pair=pair, interval=interval, end=end, zone=zone)
st.plotly_chart(
    figure,
    key="chart_figure",
    on_select=chosen_marker,
    selection_mode="points",
    config={"displaylogo": False, "scrollZoom": True},
)
chosen = st.session_state.pop("chart_open", None)
if chosen is not None:
    st.switch_page("app_pages/positions.py", query_params={"position": str(chosen)})

closed = sum(1 for t in trades if not t.is_open)
st.caption(
    f"{len(trades)} positions in range ({closed} closed, {len(trades) - closed} open): "
    f"{marker_count(figure)} markers. Triangles: entries (up BUY, down SELL); circles: exits, "
    "coloured by why they closed; dashed lines: stop and target of open positions. Click a "
    "marker to open that position's story."
)
if trades:
    table = pd.DataFrame(
        [
            {
                "ID": story_link(t.position_id),
                "Side": t.side,
                "Entry": ui.fmt_time(t.entry_time, zone),
                "Exit": ui.fmt_time(t.exit_time, zone) if t.exit_time else "open",
                "Why": t.exit_reason or "-",
                "P&L": ui.fmt_zar(t.pnl) if t.pnl is not None else "-",
                "Margin": ui.fmt_zar(t.margin),
            }
            for t in reversed(trades)
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "ID": st.column_config.LinkColumn(
                "ID", display_text=r"position=(\d+)", pinned=True, width="small"
            ),
            "P&L": st.column_config.TextColumn("P&L", pinned=True),
            "Entry": st.column_config.TextColumn("Entry", width="medium"),
            "Exit": st.column_config.TextColumn("Exit", width="medium"),
        },
    )
