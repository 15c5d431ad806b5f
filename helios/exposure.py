"""Who can reach the controls: a console or an API listening beyond this machine needs a lock.

The rule. The dashboard has EMERGENCY STOP, Close all, Halt and Resume on it, and the REST API
the same controls plus the whole book; both bind to 127.0.0.1 by default, which only this
machine can reach. Bound to any other address (``0.0.0.0``, ``::``, a LAN or public address, a
host name, or no address at all, which means every interface), anyone who can reach the port
could use them, so:

- the dashboard refuses to start there without ``DASHBOARD_PASSWORD_HASH`` (its sign-in);
- the API refuses to start there without ``HELIOS_API_TOKEN`` (its bearer token for writes).

``exposure_problem`` says so in one line (how to make the missing secret included) or returns
None; ``helios dashboard``, ``helios up`` and ``helios api`` call it before starting anything
(exit code 2), and the dashboard's frame calls it too for a ``streamlit run app.py`` started by
hand. Pure: no I/O; a host name other than ``localhost`` counts as exposed (it is not resolved:
what it points to can change).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

Service = Literal["dashboard", "api"]

LOCK = {
    "dashboard": (
        "DASHBOARD_ADDRESS",
        "DASHBOARD_PASSWORD_HASH",
        "without a sign-in anyone who reaches it can press EMERGENCY STOP, Close all and Halt",
        "make one with `helios hash-password` and put the line it prints in .env",
    ),
    "api": (
        "API_ADDRESS/--host",
        "HELIOS_API_TOKEN",
        "without a token anyone who reaches it reads the whole book",
        "make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'` and put "
        "HELIOS_API_TOKEN=<it> in .env",
    ),
}


def is_loopback(address: str | None) -> bool:
    """Whether only this machine can reach ``address``: 127.0.0.0/8, ::1 or ``localhost``.
    None or '' (every interface) is not."""
    if address is None:
        return False
    chosen = address.strip().strip("[]").lower()
    if chosen == "localhost":
        return True
    try:
        return ipaddress.ip_address(chosen).is_loopback
    except ValueError:
        return False


def exposure_problem(service: Service, address: str | None, locked: bool) -> str | None:
    """One line saying why ``service`` must not start on ``address`` without its lock (the
    password hash or the token; ``locked``: it is set), or None when it may start."""
    if locked or is_loopback(address):
        return None
    key, secret, danger, how = LOCK[service]
    where = repr(address) if address else "every interface (no address set)"
    return (
        f"refusing to start the {service} on {where} ({key}) without {secret}: {danger}; "
        f"{how}, or bind it to 127.0.0.1"
    )
