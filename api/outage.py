"""A database that does not answer: 503 ``database_unavailable``, not 500, and what still works.

The API keeps nothing of its own: every answer is read from the database and every write is
recorded there, so while the database is away the API can only say so. The rule:

- an error that means the database could not be reached or could not take the statement now
  (``helios.db.outage.is_unavailable``: SQLAlchemy's ``OperationalError`` (connection refused or
  cut, the server shutting down, SQLite's "database is locked" past the busy timeout, "unable to
  open"), ``InterfaceError``, ``DisconnectionError``, the pool's ``TimeoutError``, or any error
  SQLAlchemy marked ``connection_invalidated``) is answered 503 ``database_unavailable`` with
  ``Retry-After: RETRY_AFTER_SECONDS`` and ``still_works``; SQLite's schema errors ("no such
  table", OperationalError too) and every other database error stay 500 ``internal_error``: a
  retry would not help;
- ``still_works`` names what runs without the database: the scheduler's watchdog probes it, and
  once it has been lost for ``HALT_DATABASE_LOST_SECONDS`` the leading scheduler closes every
  position it last saw through its close-out journal (``helios.closeout``) and replays the
  journal into the database when it answers again; ``GET /api/health`` says when it is back.

A request that failed this way may have done part of its work before the loss (a close-all that
closed some positions): what reached the database stays, and a close left between states is
settled by reconcile when the database is back, as after any crash.
"""

from __future__ import annotations

from typing import Any

from helios.config import Settings
from helios.db.outage import is_unavailable

__all__ = ["RETRY_AFTER_SECONDS", "is_unavailable", "one_line", "still_works", "unavailable_body"]

# how long a client should wait before asking again: about a database restart's length; asking
# sooner only adds load to a server coming back
RETRY_AFTER_SECONDS = 5


def one_line(exc: BaseException) -> str:
    """The driver's message on one line (for the log; never the URL or its password)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return " ".join(text.split())[:300] or type(exc).__name__


def still_works(settings: Settings | None) -> list[str]:
    """What keeps running while the database is away (the scheduler's journal close-out)."""
    lost = f"{settings.halt_database_lost_seconds:g} s" if settings is not None else "a while"
    probe = f"{settings.watchdog_interval_seconds:g} s" if settings is not None else "few seconds"
    return [
        f"the scheduler's watchdog probes the database every {probe}",
        "once the database has been unreachable for HALT_DATABASE_LOST_SECONDS "
        f"({lost}), the leading scheduler closes every open position it last saw through its "
        "close-out journal (JOURNAL_DIR), without the database",
        "when the database answers again the scheduler replays that journal into it, and this "
        "API answers as before",
        "GET /api/health (no token) says when the database is back",
    ]


def unavailable_body(settings: Settings | None) -> dict[str, Any]:
    return {
        "error": "database_unavailable",
        "message": "the database is not answering, so this request could not be read or "
        f"recorded; try again in {RETRY_AFTER_SECONDS} s",
        "retry_after_seconds": RETRY_AFTER_SECONDS,
        "still_works": still_works(settings),
    }


def retry_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}
