"""A node's identity: one name for its leadership, its database sessions and its orders.

Each ``Database`` (one per process in production: a scheduler, the API, the console) gets an
identity ``host:pid:random`` (``new_identity``). It is the lease holder a scheduler writes, the
``application_name`` of every PostgreSQL session that ``Database`` opens (so a standby fencing a
hung leader can find and terminate exactly that node's sessions) and the ``sender`` of every
order intent it writes (so a new leader knows which stuck orders only the fenced leader could
still be sending). The random part tells apart two processes that reuse a pid (a container
restart) and two ``Database`` objects in one process (tests, notebooks).
"""

from __future__ import annotations

import os
import socket
import uuid


def new_identity() -> str:
    # PostgreSQL keeps 63 bytes of an application_name: the host is shortened to fit
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def application_name(identity: str) -> str:
    """The PostgreSQL ``application_name`` of ``identity``'s sessions (at most 63 bytes)."""
    return f"helios {identity}"[:63]
