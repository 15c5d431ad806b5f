"""Shared Streamlit helpers for the dashboard (``app.py`` and ``app_pages/``).

Only presentation lives here: the cached connection, the mode badge and status lines, and
formatting. Every number shown comes from ``helios``; nothing here computes money.
"""

from ui.connection import helios_or_stop
from ui.format import (
    PRE_CHECK_LABELS,
    fmt_age,
    fmt_limit_value,
    fmt_multiple,
    fmt_pct,
    fmt_pre_check_value,
    fmt_time,
    fmt_zar,
)
from ui.locks import section as locks_section
from ui.login import current_user, gate_configured, require_login, who_input
from ui.navigation import ARMED_PREFIX, navigation
from ui.status import halt_banner, mode_badge, page_header, scheduler_line, sidebar_status

__all__ = [
    "ARMED_PREFIX",
    "PRE_CHECK_LABELS",
    "current_user",
    "fmt_age",
    "fmt_limit_value",
    "fmt_multiple",
    "fmt_pct",
    "fmt_pre_check_value",
    "fmt_time",
    "fmt_zar",
    "gate_configured",
    "halt_banner",
    "helios_or_stop",
    "locks_section",
    "mode_badge",
    "navigation",
    "page_header",
    "require_login",
    "scheduler_line",
    "sidebar_status",
    "who_input",
]
