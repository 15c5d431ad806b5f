"""Alembic environment: runs against the engine handed in by helios.db.migrate."""

from __future__ import annotations

from alembic import context

from helios.db.engine import WRITE_OPTION
from helios.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` CLI use: build from the configured URL
        from helios.config import load_settings
        from helios.db.engine import build_engine

        engine = build_engine(load_settings().database_url)
    with engine.connect() as connection:
        # Processes starting together take turns through helios.db.migrate.migration_lock, held
        # around the whole upgrade; on SQLite each transaction also takes the write lock at once.
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
