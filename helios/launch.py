"""Starting a shell (the CLI, the scheduler): connect or exit with one line, refuse to listen
beyond this machine unlocked. Above ``helios.facade``, below every shell."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import helios
from helios.config import ConfigError, load_settings
from helios.db.outage import database_failure


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"helios: {message}", file=sys.stderr)
    raise SystemExit(code)


def refuse_exposed(dashboard: bool = False, api_host: str | None = None) -> None:
    """Exit 2 with one line when the dashboard (``dashboard``) or the API (bound to
    ``api_host``, default API_ADDRESS) would listen beyond this machine unlocked
    (``helios.exposure``); before anything starts or touches the database."""
    from helios.exposure import exposure_problem

    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    problems = []
    if dashboard:
        locked = settings.dashboard_password_hash is not None
        problems.append(exposure_problem("dashboard", settings.dashboard_address, locked))
    if api_host is not None:
        locked = settings.helios_api_token is not None
        problems.append(exposure_problem("api", api_host or settings.api_address, locked))
    for problem in problems:
        if problem is not None:
            fail(problem)


def connect_or_exit(**options: Any) -> helios.Helios:
    try:
        return helios.connect(**options)
    except ConfigError as exc:
        fail(str(exc))


def run_reporting_outages(command: Callable[[], int]) -> int:
    """Run a shell's command; a database it could not reach or open ends it with one line and
    exit code 2 (``helios.db.outage.database_failure``), any other error keeps its traceback.
    The CLI runs every command through it, and so does ``python -m jobs``."""
    try:
        return int(command())
    except Exception as exc:
        message = database_failure(exc)
        if message is None:
            raise
        fail(message)
