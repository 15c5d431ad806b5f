"""Helios Portfolio Manager: the Streamlit dashboard's entry point.

Run with ``streamlit run app.py``. This file is the frame around every page: page config,
navigation over ``pages/``, the database connection, the mode badge, the halt banner and the
scheduler heartbeat. Pages read from ``helios`` and render; they hold no business rule.
"""

from __future__ import annotations

import streamlit as st

import ui

st.set_page_config(
    page_title="Helios Portfolio Manager",
    page_icon="☀️",  # an emoji: a :material/...: icon makes browsers fetch it from Google
    layout="wide",
    initial_sidebar_state="expanded",
)

# Registering the pages first turns off Streamlit's legacy pages/ auto-discovery, even when the
# configuration is broken and the script stops below.
# DASHBOARD_PASSWORD_HASH set: nothing but the sign-in form until a person signs in. Before the
# navigation, so the form's widgets keep their state across reruns; a deep link that runs a page
# alone meets the same gate in ui.require_frame.
if ui.gate_configured():
    ui.require_login(ui.helios_or_stop())

PAGES = [
    st.Page("pages/summary.py", title="Summary", icon=":material/dashboard:", default=True),
    st.Page("pages/positions.py", title="Positions", icon=":material/list_alt:"),
    st.Page("pages/risk.py", title="Risk", icon=":material/shield:"),
    st.Page("pages/weekly.py", title="Weekly review", icon=":material/event_note:"),
    st.Page("pages/preview.py", title="Trade preview", icon=":material/fact_check:"),
    st.Page("pages/optimizer.py", title="Optimizer", icon=":material/balance:"),
    st.Page("pages/controls.py", title="Controls", icon=":material/emergency:"),
]
page = st.navigation(PAGES, position="sidebar")

hx = ui.helios_or_stop()
ui.sidebar_status(hx)
ui.page_header(hx, page.title)
page.run()
