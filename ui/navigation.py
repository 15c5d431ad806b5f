"""The dashboard's pages, in one place: ``app.py`` routes through them with ``st.navigation``.

The page files live in ``app_pages/``, not the design card's ``pages/``: Streamlit treats a
``pages/`` folder beside the entry point as a legacy multipage app until some session has called
``st.navigation``, so on a freshly started server a first visit to a bookmarked page ran that file
alone, with Streamlit's file-name navigation and without the frame (and Streamlit's AppTest
switches that legacy mode back on before every run). Streamlit's own advice is to name the folder
otherwise; docs/architecture.md records the choice.

Behind the login gate the pages are registered hidden, so the sign-in form lists no page while a
deep link (``/controls``) keeps its address and opens after sign-in.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

# (file beside app.py, title, icon); the first is the default page.
PAGE_FILES: tuple[tuple[str, str, str], ...] = (
    ("app_pages/summary.py", "Summary", ":material/dashboard:"),
    ("app_pages/positions.py", "Positions", ":material/list_alt:"),
    ("app_pages/chart.py", "Chart", ":material/candlestick_chart:"),
    ("app_pages/risk.py", "Risk", ":material/shield:"),
    ("app_pages/review.py", "Review", ":material/event_note:"),
    ("app_pages/preview.py", "Trade preview", ":material/fact_check:"),
    ("app_pages/optimizer.py", "Optimizer", ":material/balance:"),
    ("app_pages/replay.py", "Replay", ":material/history:"),
    ("app_pages/controls.py", "Controls", ":material/emergency:"),
)


# Session-state keys holding an armed confirmation (a first click waiting for its second) start
# with this; leaving the page disarms them, so coming back never finds a Confirm button waiting.
ARMED_PREFIX = "armed_"
_LAST_PAGE_KEY = "helios_last_page"


def navigation(*, visible: bool = True) -> Any:
    """Register every page (shown in the sidebar, or hidden) and return the one to run; on a
    page change, disarm every confirmation left armed on the page before."""
    pages = [
        st.Page(path, title=title, icon=icon, default=number == 0)
        for number, (path, title, icon) in enumerate(PAGE_FILES)
    ]
    page = st.navigation(pages, position="sidebar" if visible else "hidden")
    if st.session_state.get(_LAST_PAGE_KEY) != page.title:
        for key in [k for k in st.session_state if str(k).startswith(ARMED_PREFIX)]:
            del st.session_state[key]
        st.session_state[_LAST_PAGE_KEY] = page.title
    return page
