"""Every page is drawn inside app.py's frame (mode badge, halt banner, heartbeat).

On a freshly started server Streamlit serves the ``pages/`` folder the legacy way until some
session has run ``app.py``, whose ``st.navigation`` turns that off for every session: a first visit
to a deep link such as /optimizer would run the page alone, without the mode badge. Each page calls
``require_frame(title)`` first; while the legacy mode is on (that first visit, and Streamlit's
AppTest, which always runs a page that way) it draws the frame itself.
"""

from __future__ import annotations

try:  # Streamlit 1.67's own flag for that legacy mode (internal, hence the guard)
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # pragma: no cover - a Streamlit without it has no legacy mode to escape
    PagesManager = None  # type: ignore[assignment,misc]


def require_frame(title: str) -> None:
    if PagesManager is not None and getattr(PagesManager, "uses_pages_directory", False):
        from ui.connection import helios_or_stop
        from ui.login import require_login
        from ui.status import page_header, sidebar_status

        hx = helios_or_stop()
        require_login(hx)
        sidebar_status(hx)
        page_header(hx, title)
