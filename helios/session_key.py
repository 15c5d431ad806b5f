"""The server's secret for the dashboard's sessions (``helios.session_token``): 32 random bytes
in a key file (``DASHBOARD_SESSION_KEY_FILE``, default ``data/dashboard-session.key``),
created on first use with mode 0600 and never stored in the database, logged or shown.

Deleting the file ends every session (a new one is made); so does changing the password hash,
which the signing key is derived from too.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def load_or_create(path: Path) -> bytes:
    """The secret in ``path``, made (0600, exclusively, so two processes agree) if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # written whole beside it, then linked into place: a reader never sees half a key, and
        # of two processes starting at once the first link wins and both read its key
        spare = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink(missing_ok=True)
    secret = path.read_bytes()
    if len(secret) < KEY_BYTES:
        raise ValueError(f"DASHBOARD_SESSION_KEY_FILE {path}: shorter than {KEY_BYTES} bytes")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return secret
