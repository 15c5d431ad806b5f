"""The database: models, engine set-up, migrations. The single source of truth (DESIGN.md)."""

from helios.db.engine import Database
from helios.db.migrate import upgrade_to_head

__all__ = ["Database", "upgrade_to_head"]
