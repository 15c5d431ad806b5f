"""Where alerts go: ``ALERT_URLS``, one apprise URL per destination, and what of each may be shown.

An apprise URL carries its credentials (a bot token, a webhook key, an SMTP password), so it is a
secret like the VALR keys: it is kept in the process's memory only; the database, the logs, the
events and every page see ``ChannelSpec.masked`` instead, the scheme and, where the URL names a
server (a webhook, an SMTP relay), that server's host and port, everything else ``***``. Where
the host itself is the credential (``tgram://<bot token>/<chat>``), only the scheme shows.

The rules (pure, apprise only parses):

- ``ALERT_URLS`` is a comma-separated list; an empty entry (``a,,b``, a trailing comma) and a
  scheme apprise does not know are refused with the entry's position and scheme, never the URL;
- a channel's ``id`` is its masked form, made unique by ``#2``, ``#3`` in list order: it is what
  the outbox stores against each delivery (a reordering of two URLs that mask alike swaps them);
- ``secret_parts`` are the substrings the log filter and every error text scrub: the whole URL,
  user and password, the host when it is the credential, and each path segment and query value
  long enough to be a key (``helios.redact.MIN_SECRET_LENGTH``: shorter ones would blank words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

# schemes whose host is a server (shown) rather than a credential (hidden)
SERVER_SCHEMES = frozenset(
    {
        "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "ntfy", "ntfys",
        "apprise", "apprises", "gotify", "gotifys", "mmost", "mmosts", "matrix", "matrixs",
        "rocket", "rockets", "ncloud", "nclouds", "nctalk", "nctalks", "kodi", "kodis",
        "http", "https",  # HEARTBEAT_PING_URL: the host is the service, the path the key
    }
)  # fmt: skip
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# query parameters that never hold a credential (shown in masks, not scrubbed)
_PLAIN_PARAMETERS = frozenset(
    {"method", "format", "mode", "priority", "overflow", "retry", "wait", "cto", "rto",
     "image", "avatar", "batch", "footer", "tts", "smtp", "port", "name", "from", "to",
     "cc", "bcc", "reply", "secure", "verify", "tags", "title", "optional"}
)  # fmt: skip
ALLOWED = (
    "comma-separated apprise URLs, one per destination (json://host:port/path, "
    "mailto://user:pass@host?to=..., tgram://token/chat, discord://..., ntfy://topic, ...)"
)


@dataclass(frozen=True)
class ChannelSpec:
    """One destination. ``url`` is the secret (``repr`` never shows it)."""

    url: str = field(repr=False)
    scheme: str
    masked: str
    id: str
    secrets: tuple[str, ...] = field(repr=False, default=())

    def __str__(self) -> str:
        return self.id


def scheme_of(url: str) -> str:
    found = _SCHEME.match(url.strip())
    return found.group(1).lower() if found else ""


def mask(url: str) -> str:
    """``url`` as it may be shown: the scheme, a server's host and port, the rest ``***``."""
    scheme = scheme_of(url)
    if not scheme:
        return "***"
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return f"{scheme}://***"
    if scheme not in SERVER_SCHEMES or not host:
        return f"{scheme}://***"
    shown = f"{scheme}://{host}" + (f":{port}" if port else "")
    if parts.username or parts.password or parts.path.strip("/") or parts.query:
        shown += "/***"
    return shown


def secret_parts(url: str) -> tuple[str, ...]:
    """Every part of ``url`` that may be a credential (the log filter scrubs each)."""
    scheme = scheme_of(url)
    found = {url.strip()}
    try:
        parts = urlsplit(url.strip())
        user, password, host = parts.username, parts.password, parts.hostname
    except ValueError:
        return tuple(sorted(found, key=len, reverse=True))
    for value in (user, password):
        if value:
            found.add(unquote(value))
    if host and scheme not in SERVER_SCHEMES:
        found.add(host)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if scheme not in SERVER_SCHEMES and netloc:
        found.add(netloc)
    for segment in parts.path.split("/"):
        if len(segment) >= 8 and (scheme not in SERVER_SCHEMES or _looks_like_key(segment)):
            found.add(unquote(segment))
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() not in _PLAIN_PARAMETERS and len(value) >= 4:
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


def _looks_like_key(segment: str) -> bool:
    """A path segment of a server URL that reads like a key rather than a word (/hooks/abc123)."""
    return len(segment) >= 16 or (any(c.isdigit() for c in segment) and len(segment) >= 8)


def known_scheme(scheme: str) -> bool:
    """Whether apprise has a plugin for ``scheme`` (imported here only: a cold import is 0.1 s)."""
    from apprise.manager_plugins import NotificationManager

    return scheme in NotificationManager()


def parse_alert_urls(value: str | None) -> tuple[ChannelSpec, ...]:
    """``ALERT_URLS`` as channel specs; ``ValueError`` for an empty entry or an unknown scheme,
    naming the entry by position and scheme (the URL is a secret)."""
    if value is None or not value.strip():
        return ()
    entries = value.split(",")
    specs: list[ChannelSpec] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(entries, 1):
        url = raw.strip()
        if not url:
            raise ValueError(f"entry {position} of {len(entries)} is empty; {ALLOWED}")
        scheme = scheme_of(url)
        if not scheme:
            raise ValueError(f"entry {position} has no scheme (scheme://...); {ALLOWED}")
        if not known_scheme(scheme):
            raise ValueError(f"entry {position}: unknown scheme '{scheme}://'; {ALLOWED}")
        if not _apprise_accepts(url):
            raise ValueError(
                f"entry {position} ({mask(url)}): apprise cannot read this {scheme}:// URL "
                f"(a missing target or recipient?); {ALLOWED}"
            )
        masked = mask(url)
        seen[masked] = seen.get(masked, 0) + 1
        ident = masked if seen[masked] == 1 else f"{masked}#{seen[masked]}"
        specs.append(ChannelSpec(url, scheme, masked, ident, secret_parts(url)))
    return tuple(specs)


def _apprise_accepts(url: str) -> bool:
    import logging

    import apprise

    quiet = logging.getLogger("apprise")
    level, quiet.level = quiet.level, logging.CRITICAL + 1  # its refusal line shows the URL
    try:
        return apprise.Apprise.instantiate(url) is not None
    finally:
        quiet.level = level


def check_ping_url(value: str | None) -> str | None:
    """``HEARTBEAT_PING_URL``: empty (none) or an http(s) URL (healthchecks.io, Uptime Kuma)."""
    if value is None or not value.strip():
        return None
    url = value.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(
            "an http:// or https:// URL to GET every minute (healthchecks.io: "
            "https://hc-ping.com/<uuid>; Uptime Kuma: https://host/api/push/<token>), or empty"
        )
    return url
