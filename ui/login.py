"""The login gate: with ``DASHBOARD_PASSWORD_HASH`` set, nothing but this form is drawn until a
person signs in with a name and the password; the name then stands in every action's record
(``current_user``), and the sign-in lasts DASHBOARD_SESSION_HOURS across reloads and tabs
(``ui.session``). Without the setting the dashboard is open (it binds to 127.0.0.1)."""

from __future__ import annotations

import streamlit as st

import helios
from helios.auth import verify_password
from helios.config import load_settings
from ui import session

USER_KEY = session.USER_KEY
OPERATOR_KEY = "helios_operator"  # the last name typed in a "Your name" box


def gate_configured() -> bool:
    """Whether DASHBOARD_PASSWORD_HASH is set (a broken configuration: False here; the page
    then shows the configuration error as usual)."""
    try:
        return load_settings().dashboard_password_hash is not None
    except helios.ConfigError:
        return False


def current_user() -> str:
    """The signed-in name ('' without the gate or before signing in)."""
    return str(st.session_state.get(USER_KEY, ""))


def who_input(key: str, help: str) -> str:
    """The "Your name" box of an action, filled with the signed-in name or the name this
    browser session last typed (so it is not typed again on every page); returns what it holds
    now."""
    who = st.text_input(
        "Your name",
        value=current_user() or st.session_state.get(OPERATOR_KEY, ""),
        key=key,
        help=help,
    )
    if who.strip():
        st.session_state[OPERATOR_KEY] = who.strip()
    return who


def require_login(hx: helios.Helios) -> None:
    """Draw the login form and stop the script unless the gate is off or passed."""
    stored = hx.settings.dashboard_password_hash
    if stored is None or st.session_state.get(USER_KEY):
        return
    session.record_refusal(hx)
    session.clear_cookie()
    st.title("Helios Portfolio Manager")
    name = st.text_input("Your name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    if st.button("Sign in", type="primary", key="login_submit"):
        if name.strip() and verify_password(password, stored.get_secret_value().strip()):
            hx.controls.note_login(name.strip(), True)
            session.start(hx, name.strip())
            st.rerun()
        hx.controls.note_login(name.strip() or "(no name)", False)
        st.error("Wrong name or password.")
    st.stop()
