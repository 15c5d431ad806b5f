"""Where Helios lives on disk: the project folder and the paths relative to it.

Relative path settings (``LOG_FILE``, ``JOURNAL_DIR``, ``REPLAY_PATH``) are under the project,
not the current directory, so every process (the CLI, the scheduler, the dashboard started from
anywhere) reads and writes the same files; an empty path means none.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'helios.db'}"


def project_path(value: str) -> Path | None:
    """A path setting: relative paths are under the project; empty means none."""
    if not value.strip():
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
