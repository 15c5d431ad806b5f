"""The dashboard's server: Streamlit's own (Starlette under uvicorn) serving ``app.py``, with the
two routes that set and clear the HttpOnly session cookie beside it (``ui/session_routes.py``).

``helios dashboard`` and ``helios up`` run ``streamlit run dashboard.py``; Streamlit sees the
``st.App`` below and serves it. ``streamlit run app.py`` by hand still works, without the
cookie: a sign-in then lasts for its browser tab only.

This file imports nothing of Helios: Streamlit binds the port before it imports this module, and
importing ``helios`` takes seconds, during which the port would accept connections and answer
none. The routes load ``ui.session_routes`` when first asked, by which time a sign-in's script
run has loaded it.
"""

from typing import Any

import streamlit as st
from starlette.routing import Route

SESSION_PATH = "/helios/session"  # ui.session_routes.SESSION_PATH
SIGNOUT_PATH = "/helios/signout"  # ui.session_routes.SIGNOUT_PATH


async def set_session(request: Any) -> Any:
    from ui.session_routes import set_session

    return await set_session(request)


async def clear_session(request: Any) -> Any:
    from ui.session_routes import clear_session

    return await clear_session(request)


app = st.App(
    "app.py",
    routes=[
        Route(SESSION_PATH, set_session, methods=["POST"]),
        Route(SIGNOUT_PATH, clear_session, methods=["POST"]),
    ],
)
