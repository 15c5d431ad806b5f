"""Helios Portfolio Manager: the Streamlit dashboard's entry point.

Run with ``streamlit run app.py``. This file is the frame around every page: page config,
navigation over ``app_pages/`` (``ui.navigation``), the login gate, the database connection,
the mode badge, the halt banner and the scheduler heartbeat. Pages read from ``helios`` and
render; they hold no business rule.
"""

from __future__ import annotations

import streamlit as st

import ui

st.set_page_config(
    page_title="Helios Portfolio Manager",
    page_icon="☀️",  # an emoji: a :material/...: icon makes browsers fetch it from Google
    layout="wide",
    # "auto": open on a wide screen, collapsed on a phone (Streamlit's breakpoint), where an
    # open sidebar covered the whole page on every load. The page header carries the mode and
    # the halt state, so a collapsed sidebar hides neither.
    initial_sidebar_state="auto",
)

# Every run registers the pages first (ui.navigation). With DASHBOARD_PASSWORD_HASH set and nobody
# signed in they are registered hidden and nothing but the sign-in form is drawn; a deep link
# keeps its address and opens once the person signs in. A signed session cookie (ui.session)
# signs a reload, a new tab or a bookmark back in.
gated = ui.gate_configured() and not ui.resume_session()
page = ui.navigation(visible=not gated)

hx = ui.helios_or_stop()
if gated:
    ui.require_login(hx)
ui.sidebar_status(hx)
ui.sign_out_button(hx)
ui.page_header(hx, page.title)
page.run()
