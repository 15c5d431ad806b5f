"""One ``helios.connect()`` per dashboard process.

The ``Helios`` object holds an engine and a sessionmaker, both thread-safe, so it is cached
globally with ``st.cache_resource`` and shared by every browser session. Sessions and ORM objects
are never cached: each ``hx.*`` call opens and closes its own transaction. Configuration comes
from the environment (``DATABASE_URL`` and friends) exactly as for the scheduler.

Where it is made, the process's scheduler watch starts (``hx.alerts.start_watch``: the
"scheduler silent" alert, issue 17), once per process; releasing the cached ``Helios``
(``st.cache_resource.clear()``, a shutdown) stops the watch before the engine is closed.
"""

from __future__ import annotations

import threading

import streamlit as st

import helios
from helios.config import load_settings, redact_url
from helios.exposure import exposure_problem

# Keys whose value may hold a secret: never echo what was typed.
_SECRET_KEYS = ("VALR_API_KEY", "VALR_API_SECRET")


# the stop event of each cached Helios's watch (by id), set when the cache releases that Helios
_WATCHES: dict[int, threading.Event] = {}


def _release(hx: helios.Helios) -> None:
    stop = _WATCHES.pop(id(hx), None)
    if stop is not None:
        stop.set()
    hx.close()


@st.cache_resource(show_spinner="Connecting to the database...", on_release=_release)
def _connect() -> helios.Helios:
    hx = helios.connect()
    stop = threading.Event()
    _WATCHES[id(hx)] = stop
    hx.alerts.start_watch(stop)
    return hx


def helios_or_stop() -> helios.Helios:
    """The process's Helios, or an error on the page and ``st.stop()``.

    A ConfigError is not cached (``st.cache_resource`` caches only returned values), so fixing
    the environment and reloading the page is enough once the process is restarted with it.

    A server listening beyond this machine (``streamlit run app.py`` started by hand on another
    address, or on every interface) without ``DASHBOARD_PASSWORD_HASH`` draws nothing but the
    refusal (``helios.exposure``; ``helios dashboard`` refuses to start at all).
    """
    try:
        settings = load_settings()
    except helios.ConfigError:
        settings = None  # _connect() raises it again, and it is shown below
    if settings is not None:
        locked = settings.dashboard_password_hash is not None
        problem = exposure_problem("dashboard", st.get_option("server.address"), locked)
        if problem is not None:
            st.error(f"**Not served:** {problem}.", icon=":material/lock:")
            st.stop()
    try:
        return _connect()
    except helios.ConfigError as exc:
        st.error(_config_message(exc), icon=":material/settings_alert:")
    except Exception as exc:  # the database may be unreachable: say so instead of a traceback
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        st.error(
            f"**Cannot open the Helios database.** {type(exc).__name__}: {first_line}",
            icon=":material/database_off:",
        )
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the script run")


def _config_message(exc: helios.ConfigError) -> str:
    lines = ["**Invalid configuration.** Fix these keys in the environment or `.env`:", ""]
    for key, value, allowed in exc.problems:
        if key in _SECRET_KEYS:
            shown = "(hidden)"
        elif key == "DATABASE_URL" and isinstance(value, str):
            shown = f"`{redact_url(value)}`"
        else:
            shown = f"`{value!r}`"
        lines.append(f"- `{key}` = {shown}: {allowed}")
    return "\n".join(lines)
