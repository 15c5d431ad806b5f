"""Apply the Alembic migrations shipped inside the package (no alembic.ini needed)."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)
# PostgreSQL advisory lock key held while migrating ("HELIOS" + 1), the same key env.py uses
MIGRATION_LOCK_KEY = 0x48454C494F530001


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to call from every process.

    Processes starting together (the scheduler and the dashboard of a new install) take turns:
    the whole upgrade, every revision, runs under one lock, and the revision is read again
    inside it, so only the first migrates and the others find the schema at head. (A lock per
    transaction is not enough on SQLite, where Alembic commits between revisions.)
    """
    config = alembic_config(engine)
    head = head_revision()
    if current_revision(engine) == head:
        return head
    with migration_lock(engine):
        if current_revision(engine) != head:
            log.info("migrating database schema to %s", head)
            command.upgrade(config, "head")
    return head


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock across processes for the length of a schema upgrade: a PostgreSQL
    session advisory lock, or an OS file lock beside the SQLite file."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def downgrade_to(engine: Engine, revision: str = "base") -> None:
    """Step the schema back to ``revision`` ("base" drops every table). For tests and for
    undoing a migration by hand; nothing in Helios calls it."""
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""
