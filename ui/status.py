"""The status every page shows: trading mode, halt state, scheduler heartbeat, database; and
the one-time message a page shows after an action (``flash`` / ``show_flash``).

``app.py`` renders these around every page, inside fragments that refresh on
``settings.dashboard_refresh_seconds``, so a halt or a dead scheduler shows up on an open tab
without a reload. After an action a page stores its outcome with ``flash`` and calls
``st.rerun()``: the whole frame (sidebar, halt banner, tables) is then drawn again from the
database, and the page shows the message at its top with ``show_flash``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import streamlit as st

import helios
from helios.config import TradingMode
from helios.heartbeat import Beat, beat_age, is_alive, last_beat
from helios.trading_state import HaltState
from ui.format import fmt_age, fmt_time

SCHEDULER = "scheduler"
# A heartbeat older than this many intervals means the scheduler is gone.

Level = Literal["success", "warning", "error"]
_FLASH = {
    "success": (st.success, ":material/check_circle:"),
    "warning": (st.warning, ":material/warning:"),
    "error": (st.error, ":material/error:"),
}


def mode_badge(mode: TradingMode, *, large: bool = False) -> None:
    """PAPER in a calm blue, LIVE in red: the first thing an operator must see.

    ``large`` (the page header) draws a coloured callout box, visible at a glance; the sidebar
    uses a badge.
    """
    live = mode is TradingMode.LIVE
    label = "LIVE TRADING" if live else "PAPER TRADING"
    icon = ":material/bolt:" if live else ":material/science:"
    if large:
        (st.error if live else st.info)(f"**{label}**", icon=icon)
        return
    st.badge(
        label,
        icon=icon,
        color="red" if live else "blue",
        help="Orders go to VALR with real money."
        if live
        else "Simulated fills at market price with the configured fee and slippage.",
    )


def halt_banner(state: HaltState, zone: str) -> None:
    """A red banner with the halt's cause, who set it and when (nothing when not halted)."""
    if not state.halted:
        return
    st.error(
        f"**Trading halted: {state.reason}**  \n"
        f"Halted by {state.by} at {fmt_time(state.since, zone)}. New positions are refused; "
        "closing stays allowed. A person must resume trading.",
        icon=":material/block:",
    )


def scheduler_line(beat: Beat | None, now: datetime, interval_seconds: float) -> None:
    """'Scheduler running, heartbeat 4 s ago' or 'Scheduler not running'."""
    age = beat_age(beat, now)
    if age is None:
        st.markdown(":red[:material/error:] **Scheduler not running**")
        st.caption("No heartbeat recorded yet.")
    elif not is_alive(beat, now, interval_seconds):
        st.markdown(":red[:material/error:] **Scheduler not running**")
        st.caption(f"Last heartbeat {fmt_age(age)} ago.")
    else:
        st.markdown(":green[:material/check_circle:] **Scheduler running**")
        st.caption(f"Heartbeat {fmt_age(age)} ago.")


def page_header(hx: helios.Helios, title: str) -> None:
    """The top of every page: its title, the mode badge and the halt state (the halt banner
    when halted, else a "Trading active" line under the badge).

    Shown in the main area (not only the sidebar) so a collapsed sidebar (on a phone it starts
    collapsed) never hides the mode or the halt: at 390 px the columns stack, title, badge and
    state, all within the first screen.
    """

    @st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
    def _header() -> None:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.title(title)
        state = hx.controls.halt_state()
        with right, st.container(horizontal_alignment="right", gap="small"):
            mode_badge(hx.controls.trading_mode(), large=True)
            if not state.halted:
                st.markdown(":green[:material/check_circle:] Trading active")
        halt_banner(state, hx.settings.trading_day_timezone)

    _header()


def sidebar_status(hx: helios.Helios) -> None:
    """The sidebar block shared by all pages (refreshing on the dashboard interval)."""

    @st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
    def _status() -> None:
        st.caption("MODE")
        mode_badge(hx.controls.trading_mode())
        st.caption("TRADING")
        state = hx.controls.halt_state()
        if state.halted:
            st.error(f"**Halted:** {state.reason}", icon=":material/block:")
        else:
            st.markdown(":green[:material/check_circle:] **Trading active**")
        st.caption("SCHEDULER")
        scheduler_line(
            last_beat(hx.db, SCHEDULER), hx.clock.now(), hx.settings.heartbeat_interval_seconds
        )

    with st.sidebar:
        st.markdown("### :material/wb_sunny: Helios")
        st.caption("Portfolio manager · VALR ZAR pairs")
        _status()
        st.divider()
        st.caption(f"Database: `{hx.db.display_url}`")
        st.caption(f"Market feed: `{hx.settings.market_feed.value}`")


def flash(page: str, level: Level, text: str) -> None:
    """Keep an action's outcome for the next run of ``page`` (session state key
    ``<page>_flash``), to be shown there once by ``show_flash``. Call ``st.rerun()`` after it."""
    if level not in _FLASH:
        raise ValueError(f"flash level {level!r}: one of {', '.join(_FLASH)}")
    st.session_state[f"{page}_flash"] = (level, text)


def show_flash(page: str) -> None:
    """The message ``flash`` kept for ``page``, once: at the top of the page, and as a toast
    (seen also when the action was taken further down the page)."""
    kept = st.session_state.pop(f"{page}_flash", None)
    if kept is None:
        return
    level, text = kept
    draw, icon = _FLASH[level]
    draw(text, icon=icon)
    st.toast(text, icon=icon)
