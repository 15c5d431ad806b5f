"""This process's identity: one name for its leadership, its database sessions and its orders.

``PROCESS_ID`` (``host:pid:random``) is the lease holder a scheduler writes, the
``application_name`` of every PostgreSQL session it opens (so a standby fencing a hung leader can
find and terminate exactly that process's sessions) and the ``sender`` of every order intent it
writes (so a new leader knows which stuck orders only the fenced leader could still be sending).
The random part tells apart two processes that reuse a pid (a container restart).
"""

from __future__ import annotations

import os
import socket
import uuid

# PostgreSQL keeps 63 bytes of an application_name: the host is shortened to fit
PROCESS_ID = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def application_name(identity: str = PROCESS_ID) -> str:
    """The PostgreSQL ``application_name`` of ``identity``'s sessions (at most 63 bytes)."""
    return f"helios {identity}"[:63]
