"""Controls: emergency stop, close all, halt and resume, the trading mode, the event log.

Every action goes through ``hx.controls`` (the same calls as the CLI and notebooks), needs the
name of the person acting (recorded with it) and, for the ones that close positions, a second
click to confirm. Nothing here needs the scheduler to be running.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from helios.errors import HeliosError, InvalidInput

ui.require_frame("Controls")

hx = ui.helios_or_stop()
zone = hx.settings.trading_day_timezone

who = st.text_input(
    "Your name",
    value=ui.current_user(),
    key="controls_who",
    help="Recorded with every action (who stopped, closed, halted or resumed, and why).",
)
why = st.text_input("Reason", key="controls_why", help="Recorded with the action.")


def confirmed(action: str, label: str, warning: str) -> bool:
    """First click arms the action, a second confirms it; True once confirmed."""
    armed = f"armed_{action}"
    if not st.session_state.get(armed):
        if st.button(label, key=f"arm_{action}", type="primary"):
            if not who.strip():
                st.error("Enter your name first: every action records who took it.")
            else:
                st.session_state[armed] = True
                st.rerun()
        return False
    st.warning(warning)
    yes, no = st.columns(2)
    if no.button("Cancel", key=f"cancel_{action}"):
        st.session_state[armed] = False
        st.rerun()
    if yes.button(f"Confirm: {label}", key=f"confirm_{action}", type="primary"):
        st.session_state[armed] = False
        return True
    return False


def report(closes: list[dict], failed: list[dict]) -> None:
    done = len(closes) - len(failed)
    (st.warning if failed else st.success)(
        f"{done} position(s) closed"
        + (f"; {len(failed)} not closed yet (the scheduler retries them)" if failed else "")
    )


emergency, close_all = st.columns(2)
with emergency:
    st.subheader("Emergency stop")
    st.caption("Halts trading and closes every open position now (EMERGENCY_CLOSE).")
    if confirmed(
        "emergency",
        "EMERGENCY STOP",
        "This halts trading and closes EVERY open position at market now.",
    ):
        try:
            done = hx.controls.emergency_stop(who, why)
            report(done["closed"], done["failed"])
        except (InvalidInput, HeliosError) as exc:
            st.error(str(exc))
with close_all:
    st.subheader("Close all")
    st.caption("Closes every open position (CLOSED) without halting.")
    if confirmed("close_all", "Close all positions", "This closes every open position now."):
        try:
            done = hx.controls.close_all(who, why)
            report(done["closed"], done["failed"])
        except (InvalidInput, HeliosError) as exc:
            st.error(str(exc))

st.subheader("Halt and resume")
state = hx.controls.halt_state()
if state.halted:
    st.error(f"Halted ({state.cause}, {state.action}) by {state.by}: {state.reason}")
    if st.button("Resume trading", key="resume", type="primary"):
        try:
            hx.controls.resume(who, why)
            st.rerun()
        except InvalidInput as exc:
            st.error(str(exc))
else:
    st.success("Trading is not halted.")
    if st.button("Halt trading", key="halt", help="Stops opening trades; positions keep stops."):
        try:
            hx.controls.halt(why.strip() or "manual halt from the dashboard", who)
            st.rerun()
        except InvalidInput as exc:
            st.error(str(exc))

st.subheader("Trading mode")
mode = hx.controls.trading_mode()
ui.mode_badge(mode, large=True)
chosen = st.radio(
    "Mode", ["PAPER", "LIVE"], index=0 if mode.value == "PAPER" else 1, horizontal=True
)
if chosen != mode.value and st.button(f"Switch to {chosen}", key="switch_mode"):
    try:
        hx.controls.set_mode(chosen, who, why)
        st.rerun()
    except HeliosError as exc:  # LIVE: refused until the VALR client and the checklist exist
        st.error(str(exc))

st.subheader("Event log")
events = hx.controls.event_log(limit=200)
if not events:
    st.info("No events yet.")
else:
    frame = pd.DataFrame(events)
    frame["ts"] = [ui.fmt_time(t, zone) for t in frame["ts"]]
    st.dataframe(
        frame.rename(
            columns={
                "ts": "When",
                "kind": "Event",
                "severity": "Severity",
                "actor": "By",
                "message": "What",
            }
        ).drop(columns=["id"]),
        hide_index=True,
        width="stretch",
    )
