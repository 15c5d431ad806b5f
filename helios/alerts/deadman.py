"""The dead-man's switch (L3 adapter): the leading scheduler pings ``HEARTBEAT_PING_URL``.

The healthchecks.io / Uptime Kuma push convention: a GET of the URL every
``HEARTBEAT_PING_SECONDS`` while all is well, of ``<url>/fail`` after a failed pass (a job that
raised, the database unreachable). The outside service alerts when the pings stop, which is the
one alert Helios cannot send itself: the whole machine gone. The URL is a secret (its uuid or
token is the credential): an error names the masked URL only.
"""

from __future__ import annotations

import requests

from helios.config.channels import mask, secret_parts
from helios.redact import scrub

PING_TIMEOUT = 10.0


def ping_url(url: str, failed: bool) -> str:
    """The address of one ping: ``url`` or ``url/fail``."""
    return url.rstrip("/") + "/fail" if failed else url


def ping(url: str, failed: bool, timeout: float = PING_TIMEOUT) -> str | None:
    """GET the ping address; None when it answered 2xx, else what went wrong (no secret)."""
    address = ping_url(url, failed)
    try:
        response = requests.get(address, timeout=timeout)
    except requests.RequestException as exc:
        return scrub(f"{mask(url)}: {type(exc).__name__}: {exc}", secret_parts(url))[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"{mask(url)}: HTTP {response.status_code}"
