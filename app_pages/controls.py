"""Controls: emergency stop, close all, halt and resume, the trading mode, the event log
(filtered, searched and paged: ``ui/event_log.py`` over ``hx.events``).

Every action goes through ``hx.controls`` (the same calls as the CLI and notebooks), needs the
name of the person acting (recorded with it) and, for the ones that close positions, a second
click to confirm. After an action, done or refused, the whole dashboard is drawn again from the
database (sidebar, halt banner, this page) with the outcome at the top. Nothing here needs the
scheduler to be running. In PAPER the pre-live checklist (``hx.controls.live_checklist``) is
shown above the mode switch, each item with a tick or a cross (Material icons: Debian's Chromium
draws the emoji as empty boxes) and its detail; LIVE also needs the name of the person who will
monitor it closely. A mode change's outcome (a LIVE refusal with every missing item) is shown
under the switch and stays until the next action, not as a toast over the page.

EMERGENCY STOP is the one red button (a primary button in a keyed container, coloured by a CSS
rule scoped to that key). After any action the Reason field is emptied: the next action needs
its own reason.

The Alerts section (issue 17) shows each channel of ``ALERT_URLS`` masked, with its pending
deliveries, last delivery, last error and next attempt, the minimum severity and the dead-man's
switch (masked), and the recent alerts (refreshed on their own); "Send a test alert" sends one to
every channel now (``hx.alerts.test``, recorded with the name). With no channel configured it
says what to set.
"""

from __future__ import annotations

from typing import Any, NoReturn

import streamlit as st

import ui
from helios.errors import HeliosError
from ui import alerts as alert_view
from ui.event_log import event_log
from ui.status import Level, flash, show_flash

WHY = "controls_why"
CLEAR_WHY = "controls_clear_why"  # set by an action: the Reason field starts empty next run
MODE_OUTCOME = "controls_mode_outcome"  # the last mode change's outcome, under the switch
# Streamlit has no red button: the primary button inside the "emergency" container is made red.
EMERGENCY_CSS = """<style>
.st-key-emergency button[data-testid="stBaseButton-primary"] {
  background-color: #c62828; border-color: #c62828; color: #ffffff;
}
.st-key-emergency button[data-testid="stBaseButton-primary"]:hover {
  background-color: #8e0000; border-color: #8e0000; color: #ffffff;
}
</style>"""

hx = ui.helios_or_stop()
zone = hx.settings.trading_day_timezone
if st.session_state.pop(CLEAR_WHY, False):
    st.session_state[WHY] = ""  # before the field is drawn: allowed
show_flash("controls")  # the outcome of the action just taken, once
st.html(EMERGENCY_CSS)

who = ui.who_input(
    "controls_who",
    help="Recorded with every action (who stopped, closed, halted or resumed, and why).",
)
why = st.text_input("Reason", key=WHY, help="Recorded with the action.")


def confirmed(action: str, label: str, warning: str, *, primary: bool = False) -> bool:
    """First click arms the action, a second confirms it; True once confirmed (and then
    disarmed: the caller acts, then ``finish`` redraws the page)."""
    armed = f"{ui.ARMED_PREFIX}{action}"
    if not st.session_state.get(armed):
        kind = "primary" if primary else "secondary"
        if st.button(label, key=f"arm_{action}", type=kind):
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
        st.session_state[armed] = False  # done or refused: disarmed either way
        return True
    return False


def finish(level: Level, text: str) -> NoReturn:
    """After an action (done or refused): keep its outcome for the top of the page and run the
    whole script again, so the sidebar, the halt banner and this page show the database as the
    action left it (everything above this point was drawn before it)."""
    flash("controls", level, text)
    st.session_state[CLEAR_WHY] = True
    st.session_state.pop(MODE_OUTCOME, None)
    st.rerun()


def report(done: dict[str, Any]) -> NoReturn:
    closes, failed = done["closed"], done["failed"]
    closed = len(closes) - len(failed)
    if failed:
        finish(
            "warning",
            f"{closed} position(s) closed; {len(failed)} not closed yet (the scheduler retries "
            "them)",
        )
    finish("success", f"{closed} position(s) closed")


emergency, close_all = st.columns(2)
with emergency, st.container(key="emergency"):
    st.subheader("Emergency stop")
    st.caption("Halts trading and closes every open position now (EMERGENCY_CLOSE).")
    if confirmed(
        "emergency",
        "EMERGENCY STOP",
        "This halts trading and closes EVERY open position at market now.",
        primary=True,
    ):
        try:
            done = hx.controls.emergency_stop(who, why)
        except HeliosError as exc:
            finish("error", f"Emergency stop refused: {exc}")
        report(done)
with close_all:
    st.subheader("Close all")
    st.caption("Closes every open position (CLOSED) without halting.")
    if confirmed("close_all", "Close all positions", "This closes every open position now."):
        try:
            done = hx.controls.close_all(who, why)
        except HeliosError as exc:
            finish("error", f"Close all refused: {exc}")
        report(done)

st.subheader("Halt and resume")
state = hx.controls.halt_state()
if state.halted:
    st.error(f"Halted ({state.cause}, {state.action}) by {state.by}: {state.reason}")
    if st.button("Resume trading", key="resume", type="primary"):
        try:
            hx.controls.resume(who, why)
        except HeliosError as exc:
            finish("error", f"Not resumed: {exc}")
        finish("success", f"Trading resumed by {who.strip()}.")
else:
    st.success("Trading is not halted.")
    if st.button("Halt trading", key="halt", help="Stops opening trades; positions keep stops."):
        try:
            hx.controls.halt(why.strip() or "manual halt from the dashboard", who)
        except HeliosError as exc:
            finish("error", f"Not halted: {exc}")
        finish("success", f"Trading halted by {who.strip()}.")

ui.locks_section(hx)  # pair locks (issue 18): ui/locks.py

st.subheader("Trading mode")
mode = hx.controls.trading_mode()
ui.mode_badge(mode, large=True)
monitor = ""
if mode.value == "PAPER":
    st.markdown("**Pre-live checklist**: LIVE is refused until every item holds.")
    monitor = st.text_input(
        "I will monitor closely (your name)",
        key="controls_monitor",
        help="LIVE needs the name of the person who will watch it closely (recorded).",
    )
    # VALR's answer about the key is reused for a minute (the page redraws on every click);
    # the switch itself asks VALR again
    checklist = hx.controls.live_checklist(monitor, max_key_age_seconds=60)
    for item in checklist.items:
        mark = ":green[:material/check_circle:]" if item.ok else ":red[:material/cancel:]"
        st.markdown(f"{mark} **{item.title}**: {item.detail}")
else:
    st.warning(
        f"LIVE: real money. The risk checks and sizing see at most "
        f"{ui.fmt_zar(hx.live.cap_zar)} of equity (LIVE_CAPITAL_CAP_ZAR). Back to PAPER is "
        "always allowed."
    )
chosen = st.radio(
    "Mode", ["PAPER", "LIVE"], index=0 if mode.value == "PAPER" else 1, horizontal=True
)
if chosen != mode.value and st.button(f"Switch to {chosen}", key="switch_mode"):
    try:
        hx.controls.set_mode(chosen, who, why, confirmed_by=monitor or None)
    except HeliosError as exc:  # LIVE: refused with every missing item of the checklist
        outcome: tuple[Level, str] = ("error", f"Mode not changed: {exc}")
    else:
        outcome = ("success", f"Trading mode is now {chosen}.")
    st.session_state[CLEAR_WHY] = True
    st.session_state[MODE_OUTCOME] = outcome  # under the switch, until the next action
    st.rerun()
kept = st.session_state.get(MODE_OUTCOME)
if kept is not None:
    level, text = kept
    if level == "error":
        st.error(text, icon=":material/block:")
    else:
        st.success(text, icon=":material/check_circle:")

st.subheader("Alerts")


@st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
def alert_channels() -> None:
    """Each channel's delivery state, refreshed on its own (the scheduler delivers in the
    background)."""
    status = hx.alerts.status()
    if status["channels"]:
        table = alert_view.channel_table(status["channels"], zone)
        st.dataframe(table, hide_index=True, width="stretch")
    else:
        st.info(alert_view.NO_CHANNEL, icon=":material/notifications_off:")
    st.caption(alert_view.settings_line(status))


alert_channels()
if st.button(
    "Send a test alert",
    key="alert_test",
    disabled=not hx.alerts.channel_ids,
    help="Sends a test message to every channel now and shows each one's answer.",
):
    if not who.strip():
        finish("error", "Enter your name first: every action records who took it.")
    finish(*alert_view.test_outcome(hx.alerts.test(who)))


@st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
def recent_alerts() -> None:
    """The newest alerts and where each was delivered."""
    st.markdown("**Recent alerts**")
    recent = hx.alerts.recent(limit=50)
    if not recent:
        st.info("No alerts yet.")
        return
    st.dataframe(alert_view.recent_table(recent, zone), hide_index=True, width="stretch")


recent_alerts()


event_log(hx, zone)  # filters, search and paging in SQL: ui/event_log.py
