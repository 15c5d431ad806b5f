"""The closed trades list on the Positions page, as a trader reads it.

Filters (pair, exit reason, exit dates in the trading-day zone), a page of trades from
``hx.positions.closed_trades`` (filtered and paged in SQL), and a CSV export of every matching
trade (``hx.positions.closed_trades_csv``, exact decimal strings, made only when the button is
clicked). The figures (duration, net P&L % of the margin, exit reason, slippage to the trigger
level, positive = worse for us) come computed from ``helios.positions.trade_figures``; this
module only formats them. The key columns (ID, pair, net P&L) are pinned, so on a 390 px phone
they stay in view while the rest scrolls; their widths are ``KEY_WIDTHS``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from helios.errors import InvalidInput
from helios.paging import PAGE_SIZES
from helios.positions.exit_reasons import EXIT_LABELS
from helios.positions.trade_figures import (
    TradeFilter,
    TradePage,
    csv_name,
)
from ui.format import demo_tag, fmt_multiple, fmt_pct, fmt_time, fmt_zar
from ui.position_link import position_url

PAGE_KEY = "closed_page"
ALL_PAIRS = "All pairs"
# the pinned columns and their widths in pixels (the browser test checks their text fits)
KEY_WIDTHS = {"ID": 56, "Pair": 76, "Net P&L": 116}
REASONS = {label: status for status, label in EXIT_LABELS.items()}


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _money(value: Any) -> str:
    return fmt_zar(value) if value is not None else "-"


def day_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``first`` to the end of ``last`` in ``zone``."""
    local = ZoneInfo(zone)
    start = datetime.combine(first, time.min, local).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, local).astimezone(UTC)
    return start, end


def frame(page: TradePage, zone: str) -> pd.DataFrame:
    """The page's trades as the table shows them (blank slippage: no trigger level)."""
    rows = []
    for trade, fig in page.trades:
        rows.append(
            {
                "ID": trade.position_id,
                "Pair": trade.pair,
                "Net P&L": _money(trade.realized_pnl),
                "Net %": fmt_pct(fig.net_pnl_ratio) if fig.net_pnl_ratio is not None else "-",
                "Side": trade.side,
                "Exit reason": fig.exit_label,
                "Entry time": fmt_time(trade.opened_at, zone),
                "Exit time": fmt_time(trade.closed_at, zone),
                "Duration": fig.duration_text,
                "Entry price": _money(trade.entry_price),
                "Exit price": _money(trade.exit_price),
                "Size": _money(trade.position_size_zar),
                "Leverage": fmt_multiple(trade.leverage),
                "Fees": _money(fig.fees),
                "Slippage": "" if fig.slippage_zar is None else fmt_zar(fig.slippage_zar),
                "Slippage %": "" if fig.slippage_ratio is None else fmt_pct(fig.slippage_ratio),
                "Demo": demo_tag(reasoning=trade.strategic_reasoning),
                "Story": position_url(trade.position_id),
            }
        )
    return pd.DataFrame(rows)


def column_config() -> dict[str, Any]:
    config = st.column_config
    return {
        "ID": config.NumberColumn("ID", width=KEY_WIDTHS["ID"], pinned=True, format="%d"),
        "Pair": config.TextColumn("Pair", width=KEY_WIDTHS["Pair"], pinned=True),
        "Net P&L": config.TextColumn(
            "Net P&L",
            width=KEY_WIDTHS["Net P&L"],
            pinned=True,
            help="Realized P&L after the entry and exit fees.",
        ),
        "Net %": config.TextColumn("Net %", help="Net P&L as a share of the margin put up."),
        "Exit reason": config.TextColumn("Exit reason", width="medium"),
        "Entry time": config.TextColumn("Entry time", width="medium"),
        "Exit time": config.TextColumn("Exit time", width="medium"),
        "Entry price": config.TextColumn("Entry price", width="medium"),
        "Exit price": config.TextColumn("Exit price", width="medium"),
        "Size": config.TextColumn("Size", help="The margin put up (ZAR)."),
        "Slippage": config.TextColumn(
            "Slippage",
            help="The exit fill against the level that triggered it (stop, trailed stop, "
            "target; for a timeout the price the monitor saw), positive = filled worse for us. "
            "Blank: no trigger level (a manual or emergency close).",
        ),
        "Slippage %": config.TextColumn("Slippage %", help="The slippage as a share of the level."),
        "Story": config.LinkColumn(
            "Story", display_text="open", help="This position's story (a link you can share)."
        ),
    }


def filters(hx: Any, zone: str) -> tuple[TradeFilter, date, date]:
    """The filter widgets; raises ``InvalidInput`` for a value the list refuses."""
    today = hx.clock.now().astimezone(ZoneInfo(zone)).date()
    pair_box, reason_box = st.columns(2)
    pair = pair_box.selectbox(
        "Pair", [ALL_PAIRS, *hx.settings.pairs], key="closed_pair", on_change=_first_page
    )
    labels = reason_box.multiselect(
        "Exit reason",
        list(REASONS),
        key="closed_reasons",
        on_change=_first_page,
        help="Stop loss includes the trailing stop. None chosen: every reason.",
    )
    first_box, last_box = st.columns(2)
    first = first_box.date_input(
        "From", value=today - timedelta(days=30), key="closed_from", on_change=_first_page
    )
    last = last_box.date_input("To", value=today, key="closed_to", on_change=_first_page)
    size_box, page_box = st.columns(2)
    size = size_box.selectbox(
        "Rows per page", PAGE_SIZES, index=1, key="closed_page_size", on_change=_first_page
    )
    number = page_box.number_input("Page", min_value=1, step=1, key=PAGE_KEY)
    if last < first:
        raise InvalidInput("To", last.isoformat(), f"on or after From ({first.isoformat()})")
    start, end = day_bounds(first, last, zone)
    wanted = TradeFilter(
        pair=None if pair == ALL_PAIRS else pair,
        reasons=tuple(REASONS[label] for label in labels),
        start=start,
        end=end,
        page=int(number),
        page_size=int(size),
    )
    return wanted, first, last


def page_caption(page: TradePage) -> str:
    if page.total == 0:
        return "No closed position matches these filters."
    if not page.trades:
        return f"Page {page.page} is past the last page ({page.pages}): {page.total:,} trades."
    first = (page.page - 1) * page.page_size + 1
    return (
        f"Trades {first:,}-{first + len(page.trades) - 1:,} of {page.total:,} (page "
        f"{page.page} of {page.pages:,}), newest exit first."
    )


def closed_trades(hx: Any, zone: str) -> None:
    """The Closed positions section (one call from the Positions page)."""
    st.subheader("Closed positions")
    try:
        wanted, first, last = filters(hx, zone)
        page = hx.positions.closed_trades(wanted)
    except InvalidInput as exc:
        st.error(str(exc))
        return
    if page.total == 0 or not page.trades:
        st.info(page_caption(page))
    else:
        st.dataframe(
            frame(page, zone), hide_index=True, width="stretch", column_config=column_config()
        )
        st.caption(page_caption(page))
    st.download_button(
        "Download CSV",
        data=lambda: hx.positions.closed_trades_csv(wanted),
        file_name=csv_name(first, last),
        mime="text/csv",
        key="closed_csv",
        icon=":material/download:",
        disabled=page.total == 0,
        on_click="ignore",
        help="Every trade matching the filters (all pages), money as exact decimal strings.",
    )
