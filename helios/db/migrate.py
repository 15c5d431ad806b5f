"""Apply the Alembic migrations shipped inside the package (no alembic.ini needed)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to call from every process."""
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head() or ""
    if current_revision(engine) != head:
        log.info("migrating database schema to %s", head)
        command.upgrade(config, "head")
    return head


def downgrade_to(engine: Engine, revision: str = "base") -> None:
    """Step the schema back to ``revision`` ("base" drops every table). For tests and for
    undoing a migration by hand; nothing in Helios calls it."""
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config_without_engine())
    return script.get_current_head() or ""


def alembic_config_without_engine() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
