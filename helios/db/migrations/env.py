"""Alembic environment: runs against the engine handed in by helios.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from helios.db.engine import WRITE_OPTION
from helios.db.models import Base

# PostgreSQL advisory lock held while migrating ("HELIOS" + 1; other Helios locks use other keys)
MIGRATION_LOCK_KEY = 0x48454C494F530001

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` CLI use: build from the configured URL
        from helios.config import load_settings
        from helios.db.engine import build_engine

        engine = build_engine(load_settings().database_url)
    with engine.connect() as connection:
        # Every process migrates at start, and the scheduler and the dashboard may start
        # together on a new install: one migrates, the others wait, then find the schema at head
        # (the version is read inside the locked transaction) and do nothing.
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
        connection.commit()


run_migrations_online()
