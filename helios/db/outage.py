"""A database that cannot be used, in the one place both shells ask.

- ``database_failure`` (the CLI and ``python -m jobs``, at start): a database the process could
  not reach or open, told in one line: the database (password hidden) and the driver's own
  words. Any other error is a bug and keeps its traceback.
- ``is_unavailable`` (the API, per request): a database unreachable or busy now, so 503 and
  "retry" rather than 500; a statement or schema mistake (SQLite reports those as
  OperationalError too) is not an outage.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from helios.config import ConfigError, load_settings, redact_url


def database_failure(exc: BaseException, database_url: str | None = None) -> str | None:
    """One line for a database the command could not reach or open, or None for any other
    error (which keeps its traceback: it is a bug to fix, not a situation to report).

    Every command gets it from ``main`` (one place): the database (``DATABASE_URL``, password
    hidden) and the driver's own words, on one line. A server down or unreachable, a refused
    login, an SQLite file that is a folder, lies under a file or is not a database are such
    errors; a statement the database refused (integrity, syntax) is not."""
    from sqlalchemy import exc as sa

    if database_url is None:
        try:
            database_url = load_settings().database_url
        except ConfigError:
            return None
    for error in _chain(exc):
        if isinstance(error, sa.IntegrityError | sa.ProgrammingError | sa.DataError):
            return None
        if isinstance(error, sa.DBAPIError) and error.orig is not None:
            reason = str(error.orig)
        elif (
            isinstance(error, sa.DisconnectionError | sa.TimeoutError)
            or _driver_error(error)
            or _sqlite_path_error(error, database_url)
        ):
            reason = str(error)
        else:
            continue
        return (
            f"cannot use the database {redact_url(database_url)}: {_one_line(reason, database_url)}"
        )
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it came from (``raise ... from``, or raised while handling)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _driver_error(error: BaseException) -> bool:
    """A DB-API error raised by the driver itself, outside SQLAlchemy."""
    import sqlite3

    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError | sqlite3.InterfaceError):
        return not isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def _sqlite_path_error(error: BaseException, database_url: str) -> bool:
    """An OSError on the SQLite file, its folder or the lock beside it."""
    if not isinstance(error, OSError) or not getattr(error, "filename", None):
        return False
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url)
    except Exception:
        return False
    if not url.drivername.startswith("sqlite") or not url.database:
        return False
    database = Path(url.database).resolve()
    touched = Path(str(error.filename)).resolve()
    return touched == database or touched in database.parents or touched.parent == database.parent


def _one_line(reason: str, database_url: str) -> str:
    """The driver's message on one line, bounded, without the database password."""
    from sqlalchemy.engine import make_url

    text = " ".join(reason.split())
    try:
        password = make_url(database_url).password
    except Exception:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text if len(text) <= 400 else text[:399] + "\u2026"


# SQLite reports schema and statement mistakes as OperationalError too: these are not outages
_NOT_OUTAGES = ("no such table", "no such column", "syntax error", "has no column")


def is_unavailable(exc: SQLAlchemyError) -> bool:
    """True when ``exc`` means the database is unreachable or busy now (see the module)."""
    if isinstance(exc, DisconnectionError | PoolTimeout | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig if exc.orig is not None else exc).lower()
        return not any(mistake in text for mistake in _NOT_OUTAGES)
    return False
