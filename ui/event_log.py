"""The event log as the Controls page shows it: filter by kind, severity, pair and who, a text
search, and paging (page size, page number, the total), all answered by ``hx.events.query`` in
SQL.

Presentation only: the filter widgets build a frozen ``helios.event_log.EventFilter`` and the
answer is drawn as it comes. The table is ``st.table`` (HTML), whose cells wrap, so an event's
"What" is read whole at 1400 px and on a 390 px phone, never cut off as a one-line grid cell
would be. Changing a filter or the page size goes back to page 1. The section is a fragment
refreshed every ``DASHBOARD_REFRESH_SECONDS``: an event the scheduler records shows up without a
reload and without resetting the fields around it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from helios.errors import InvalidInput
from helios.event_log import EventFilter, EventPage
from helios.events import SEVERITIES
from helios.paging import PAGE_SIZES
from ui.format import fmt_time

PAGE_KEY = "events_page"
ALL_PAIRS = "All pairs"


def _first_page() -> None:
    """A filter changed: back to page 1 (the old page number may be past the new last page)."""
    st.session_state[PAGE_KEY] = 1


def page_caption(answer: EventPage) -> str:
    """``Events 51-100 of 8,760 (page 2 of 176).``"""
    if answer.total == 0:
        return "No event matches these filters."
    first = (answer.page - 1) * answer.page_size + 1
    last = first + len(answer.events) - 1
    if not answer.events:
        return (
            f"Page {answer.page} is past the last page ({answer.pages}): "
            f"{answer.total:,} events match."
        )
    return (
        f"Events {first:,}-{last:,} of {answer.total:,} (page {answer.page} of "
        f"{answer.pages:,}), newest first."
    )


def table(events: tuple[dict[str, Any], ...], zone: str) -> pd.DataFrame:
    """The page's events as the table shows them: when (trading-day zone), the event and its
    severity, who, what."""
    return pd.DataFrame(
        [
            {
                "When": fmt_time(e["ts"], zone),
                "Event": e["kind"],
                "Severity": e["severity"],
                "By": e["actor"],
                "What": e["message"],
            }
            for e in events
        ],
        columns=["When", "Event", "Severity", "By", "What"],
    )


def filters(hx: Any) -> EventFilter:
    """The filter widgets; raises ``InvalidInput`` for a value the log refuses."""
    kind, severity, pair = st.columns(3)
    kinds = kind.multiselect("Kind", hx.events.kinds(), key="events_kinds", on_change=_first_page)
    severities = severity.multiselect(
        "Severity", list(SEVERITIES), key="events_severities", on_change=_first_page
    )
    chosen_pair = pair.selectbox(
        "Pair",
        [ALL_PAIRS, *hx.settings.pairs],
        key="events_pair",
        on_change=_first_page,
        help="Events naming the pair in their text or details.",
    )
    who, search = st.columns(2)
    by = who.text_input(
        "Who", key="events_who", on_change=_first_page, help="The actor contains this text."
    )
    text = search.text_input(
        "Search",
        key="events_text",
        on_change=_first_page,
        help="The event, who or what contains this text (any case).",
    )
    size, number = st.columns(2)
    page_size = size.selectbox(
        "Rows per page", PAGE_SIZES, index=1, key="events_page_size", on_change=_first_page
    )
    page = number.number_input("Page", min_value=1, step=1, key=PAGE_KEY)
    return EventFilter(
        kinds=tuple(kinds),
        severities=tuple(severities),
        pair=None if chosen_pair == ALL_PAIRS else chosen_pair,
        who=by or None,
        text=text or None,
        page=int(page),
        page_size=int(page_size),
    )


def event_log(hx: Any, zone: str) -> None:
    """The Event log section (one call from the Controls page)."""

    @st.fragment(run_every=hx.settings.dashboard_refresh_seconds)
    def section() -> None:
        st.subheader("Event log")
        try:
            answer = hx.events.query(filters(hx))
        except InvalidInput as exc:
            st.error(str(exc))
            return
        st.caption(page_caption(answer))
        if answer.events:
            st.table(table(answer.events, zone), hide_index=True)

    section()
