"""The signed session behind the login gate (issue 18): a sign-in lasts DASHBOARD_SESSION_HOURS
across reloads, new tabs and bookmarks, in an HttpOnly cookie (``ui.session_routes``) holding a
token signed by ``helios.session_token``; "Sign out" ends it.

Every run, before anything is drawn, ``resume`` reads the cookie the browser sent with
Streamlit's websocket (``st.context.cookies``) and, when its token is sound, signs the name in
for this browser session. A cookie refused (forged, malformed, expired, signed out) is recorded
once as a LOGIN_REFUSED event, with the reason and never the token, and the form is shown.
"""

from __future__ import annotations

import logging
import time

import streamlit as st

import helios
from helios import session_key, session_token
from helios.config import Settings, load_settings
from helios.config.paths import project_path
from ui import session_routes

log = logging.getLogger("helios.dashboard")

USER_KEY = "helios_user"
TICKET_KEY = "helios_session_ticket"  # a sign-in's ticket until the page has handed it over
SIGNED_OUT_KEY = "helios_signed_out"  # this browser session signed out: its cookie is void
CLEAR_KEY = "helios_clear_cookie"  # the next run tells the browser to drop the cookie
REFUSED_KEY = "helios_session_refused"  # (fingerprint, actor, reason) to record once
RECORDED_KEY = "helios_session_recorded"  # the fingerprint last recorded


def _settings() -> Settings | None:
    try:
        settings = load_settings()
    except helios.ConfigError:
        return None
    return settings if settings.dashboard_password_hash is not None else None


def signing_key(settings: Settings) -> bytes | None:
    """The key sessions are signed with now, or None when the key file cannot be used (then a
    sign-in lasts for the browser tab only, and the server log says why)."""
    stored = settings.dashboard_password_hash
    path = project_path(settings.dashboard_session_key_file)
    if stored is None or path is None:
        return None
    try:
        secret = session_key.load_or_create(path)
    except (OSError, ValueError) as exc:
        log.warning("dashboard sessions last one tab only: %s", exc)
        return None
    return session_token.derive_key(secret, stored.get_secret_value().strip())


def _cookie() -> str:
    """The session cookie the browser sent with this session's websocket ('' without one, or
    outside a browser: AppTest has no cookies)."""
    try:
        value = st.context.cookies.get(session_routes.COOKIE)
    except (AttributeError, RuntimeError):
        return ""
    return value if isinstance(value, str) else ""


def resume() -> str:
    """The signed-in name: this browser session's, or the cookie's when its token is sound
    (then it becomes this session's). '' when nobody is signed in."""
    user = str(st.session_state.get(USER_KEY, ""))
    if user or st.session_state.get(SIGNED_OUT_KEY):
        return user
    token = _cookie()
    settings = _settings() if token else None
    key = signing_key(settings) if settings is not None else None
    if not token or settings is None or key is None:
        return ""
    verdict = session_token.verify(token, time.time(), key, settings.dashboard_session_hours)
    if verdict.ok and not session_routes.signed_out(token):
        st.session_state[USER_KEY] = verdict.user
        return verdict.user
    reason = verdict.reason or "signed out"
    actor = verdict.user if verdict.reason in ("expired", "longer than the setting", "") else ""
    st.session_state[REFUSED_KEY] = (session_token.fingerprint(token), actor, reason)
    return ""


def record_refusal(hx: helios.Helios) -> None:
    """Record the cookie ``resume`` refused, once per cookie and browser session."""
    refused = st.session_state.pop(REFUSED_KEY, None)
    if refused is None or st.session_state.get(RECORDED_KEY) == refused[0]:
        return
    st.session_state[RECORDED_KEY] = refused[0]
    hx.controls.note_login(refused[1] or "(session cookie)", False, f"session cookie {refused[2]}")


def start(hx: helios.Helios, user: str) -> None:
    """After a good password: ``user`` is signed in here, and the next run hands the browser
    its cookie (``handover``)."""
    st.session_state[USER_KEY] = user
    st.session_state.pop(SIGNED_OUT_KEY, None)
    key = signing_key(hx.settings)
    if key is None:
        return
    hours = hx.settings.dashboard_session_hours
    token = session_token.issue(user, time.time(), hours, key)
    st.session_state[TICKET_KEY] = session_routes.hand_over(token, int(hours * 3600))


def _script(body: str) -> None:
    st.html(f"<script>{body}</script>", unsafe_allow_javascript=True, width="content")


def handover() -> None:
    """While a sign-in's ticket waits: the page posts it, and the answer sets the cookie."""
    ticket = st.session_state.get(TICKET_KEY)
    if not ticket:
        return
    if not session_routes.waiting(ticket):
        st.session_state.pop(TICKET_KEY, None)
        return
    _script(
        f'fetch("{session_routes.SESSION_PATH}", {{method: "POST", credentials: "same-origin",'
        f' headers: {{"Content-Type": "text/plain"}}, body: "{ticket}"}});'
    )


def clear_cookie() -> None:
    """After a sign-out: the page asks the server to drop the cookie (HttpOnly: no script
    can)."""
    if st.session_state.pop(CLEAR_KEY, False):
        _script(
            f'fetch("{session_routes.SIGNOUT_PATH}", {{method: "POST", credentials: "same-origin",'
            f' headers: {{"{session_routes.SIGNOUT_HEADER}": "1"}}}});'
        )


def sign_out_button(hx: helios.Helios) -> None:
    """The sidebar's "Sign out" (behind the gate only): the event, then this session and the
    cookie's token are void, and the browser drops the cookie."""
    user = str(st.session_state.get(USER_KEY, ""))
    if hx.settings.dashboard_password_hash is None or not user:
        return
    handover()
    if st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
        hx.controls.note_logout(user)
        token = _cookie()
        if token:
            session_routes.sign_out(token, time.time() + 720 * 3600)
        for key in (USER_KEY, TICKET_KEY):
            st.session_state.pop(key, None)
        st.session_state[SIGNED_OUT_KEY] = True
        st.session_state[CLEAR_KEY] = True
        st.rerun()
