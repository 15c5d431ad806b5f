"""The dashboard's server: Streamlit's own (Starlette under uvicorn) serving ``app.py``, with the
two routes that set and clear the HttpOnly session cookie beside it (``ui/session_routes.py``).

``helios dashboard`` and ``helios up`` run ``streamlit run dashboard.py``; Streamlit sees the
``st.App`` below and serves it. ``streamlit run app.py`` by hand still works, without the
cookie: a sign-in then lasts for its browser tab only.
"""

import streamlit as st

from ui.session_routes import routes

app = st.App("app.py", routes=routes())
