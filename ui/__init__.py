"""Shared Streamlit helpers for the dashboard (``app.py`` and ``app_pages/``).

Only presentation lives here: the cached connection, the mode badge and status lines, and
formatting. Every number shown comes from ``helios``; nothing here computes money.
"""

from ui.connection import helios_or_stop
from ui.format import (
    DEMO,
    DEMO_HELP,
    PRE_CHECK_LABELS,
    demo_tag,
    fmt_age,
    fmt_hours,
    fmt_limit_value,
    fmt_multiple,
    fmt_pct,
    fmt_pre_check_value,
    fmt_quantity,
    fmt_time,
    fmt_trade,
    fmt_zar,
    text_width,
)
from ui.locks import section as locks_section
from ui.login import current_user, gate_configured, require_login, who_input
from ui.navigation import ARMED_PREFIX, navigation
from ui.session import resume as resume_session
from ui.session import sign_out_button
from ui.status import halt_banner, mode_badge, page_header, scheduler_line, sidebar_status

__all__ = [
    "ARMED_PREFIX",
    "DEMO",
    "DEMO_HELP",
    "PRE_CHECK_LABELS",
    "current_user",
    "demo_tag",
    "fmt_age",
    "fmt_hours",
    "fmt_limit_value",
    "fmt_multiple",
    "fmt_pct",
    "fmt_pre_check_value",
    "fmt_quantity",
    "fmt_time",
    "fmt_trade",
    "fmt_zar",
    "gate_configured",
    "halt_banner",
    "helios_or_stop",
    "locks_section",
    "mode_badge",
    "navigation",
    "page_header",
    "require_login",
    "resume_session",
    "scheduler_line",
    "sidebar_status",
    "sign_out_button",
    "text_width",
    "who_input",
]
