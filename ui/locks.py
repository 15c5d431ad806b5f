"""The Locks section of the Controls page (issue 18): the pairs locked from new positions, a Lift
button, and a form to lock a pair for some hours with a reason.

Presentation only: every lock comes from ``hx.locks`` (``active``, ``lock``, ``lift``), which
validates and records who did it; the rules (what holds a pair, the automatic lock after
stop-outs) are ``helios.pair_locks``'. Times are shown in the trading-day zone. After an action
the page runs again with the outcome at its top (``ui.status.flash``), like every control.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from helios.errors import HeliosError
from ui.format import fmt_time
from ui.login import who_input
from ui.status import Level, flash

PAGE = "controls"  # the page whose top shows an action's outcome (app_pages/controls.py)


def lock_table(rows: list[dict[str, Any]], zone: str) -> pd.DataFrame:
    """One row per lock in force: id, pair, time left, end (trading-day zone), reason, who."""
    return pd.DataFrame(
        [
            {
                "ID": int(row["id"]),
                "Pair": row["pair"],
                "Ends in": row["ends_in"],
                "Until": fmt_time(row["ends_at"], zone),
                "Reason": row["reason"],
                "By": "automatic (stop-outs)" if row["automatic"] else row["by"],
            }
            for row in rows
        ],
        columns=["ID", "Pair", "Ends in", "Until", "Reason", "By"],
    )


COLUMNS = {
    "ID": st.column_config.NumberColumn("ID", pinned=True, width="small", format="%d"),
    "Pair": st.column_config.TextColumn("Pair", pinned=True, width="small"),
    "Ends in": st.column_config.TextColumn("Ends in", width="small"),
    "Until": st.column_config.TextColumn("Until", width="medium"),
    "Reason": st.column_config.TextColumn("Reason", width="large"),
    "By": st.column_config.TextColumn("By", width="medium"),
}


def _finish(level: Level, text: str) -> NoReturn:
    flash(PAGE, level, text)
    st.rerun()


def section(hx: Any) -> None:
    """Draw the Locks section: the locks in force with a Lift button, and the lock form."""
    zone = hx.settings.trading_day_timezone
    st.subheader("Pair locks")
    st.caption(
        "A locked pair opens no new position (signals and the Trade preview are refused "
        "before the 7 checks, naming the lock); open positions keep their stops. A lock ends by "
        f"itself at its end time. Automatic: {hx.settings.lock_after_stops} losing stop-outs "
        f"within {hx.settings.lock_window_hours:g} h lock a pair for "
        f"{hx.settings.lock_hours:g} h (LOCK_AFTER_STOPS; 0 turns it off)."
    )
    who = who_input("locks_who", help="Recorded with the lock or the lift.")
    active = hx.locks.active()
    if active:
        st.dataframe(
            lock_table(active, zone), hide_index=True, width="stretch", column_config=COLUMNS
        )
        labels = {row["id"]: f"{row['id']}: {row['pair']} ({row['reason']})" for row in active}
        chosen = st.selectbox(
            "Lock to lift", list(labels), format_func=labels.__getitem__, key="locks_lift_id"
        )
        if st.button("Lift lock", key="locks_lift", icon=":material/lock_open:"):
            if not who.strip():
                _finish("error", "Enter your name first: every lift records who did it.")
            try:
                [lifted] = hx.locks.lift(int(chosen), who)
            except HeliosError as exc:
                _finish("error", f"Not lifted: {exc}")
            _finish("success", f"Lock {lifted['id']} on {lifted['pair']} lifted by {who.strip()}.")
    else:
        st.info("No pair is locked.", icon=":material/lock_open:")
    with st.form("locks_form", clear_on_submit=True, border=True):
        st.markdown("**Lock a pair**")
        pair_col, hours_col = st.columns(2)
        pair = pair_col.selectbox("Pair", list(hx.settings.pairs), key="locks_pair")
        hours = hours_col.number_input(
            "Hours",
            min_value=0.001,
            max_value=720.0,
            value=6.0,
            step=1.0,
            format="%.3f",
            key="locks_hours",
            help="More than 0, at most 720 (30 days).",
        )
        reason = st.text_input("Reason", key="locks_reason", help="Named in every refusal.")
        submitted = st.form_submit_button(
            "Lock pair", icon=":material/lock:", type="primary", key="locks_submit"
        )
    if submitted:
        if not who.strip():
            _finish("error", "Enter your name first: every lock records who did it.")
        try:
            done = hx.locks.lock(pair, hours, who, reason)
        except HeliosError as exc:
            _finish("error", f"Not locked: {exc}")
        _finish(
            "success",
            f"{done['pair']} locked until {fmt_time(done['ends_at'], zone)} by {done['by']}.",
        )
