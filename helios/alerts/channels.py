"""Sending one message to one destination through apprise (L3 adapter).

``AppriseChannel.send`` sends a title, a body and an optional attachment and returns, or raises
``DeliveryFailed`` with apprise's own account of the failure, scrubbed of the channel's
credentials (``ChannelSpec.secrets``): that text is what the Controls page shows as the
channel's last error. apprise's log lines never reach the process's log (they show URLs with
part of their credentials); the sender logs its own line with the masked channel.

Why apprise: one URL per destination covers Telegram, Discord, Slack, e-mail over SMTP, ntfy,
Pushover and plain JSON webhooks with the same call, attachments included where the destination
takes them (docs/alerts.md).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Protocol

from helios.config.channels import ChannelSpec
from helios.config.choices import AlertSeverity
from helios.redact import scrub

_apprise_log = logging.getLogger("apprise")
_apprise_log.propagate = False  # its lines carry partly masked credentials
_apprise_log.addHandler(logging.NullHandler())

WARNING = logging.WARNING
DEFAULT_TIMEOUT = 20.0  # seconds one send may take in all (apprise's own connect/read: 4 s)


class DeliveryFailed(Exception):
    """The channel did not accept the message; the text is safe to store and show."""


class Channel(Protocol):
    spec: ChannelSpec

    def send(
        self,
        title: str,
        body: str,
        severity: AlertSeverity,
        attachment: tuple[str, bytes] | None = None,
    ) -> None: ...


_TYPES = {
    AlertSeverity.CRITICAL: "failure",
    AlertSeverity.WARNING: "warning",
    AlertSeverity.INFO: "info",
}


class AppriseChannel:
    """One ``ALERT_URLS`` destination."""

    def __init__(self, spec: ChannelSpec, timeout: float = DEFAULT_TIMEOUT) -> None:
        import apprise

        self.spec = spec
        self._timeout = timeout
        self._apprise = apprise.Apprise()
        if not self._apprise.add(spec.url):
            raise DeliveryFailed(f"{spec.id}: apprise cannot read this {spec.scheme}:// URL")

    def send(
        self,
        title: str,
        body: str,
        severity: AlertSeverity,
        attachment: tuple[str, bytes] | None = None,
    ) -> None:
        if attachment is None:
            self._notify(title, body, severity, None)
            return
        name, data = attachment
        with tempfile.TemporaryDirectory(prefix="helios-alert-") as folder:
            path = Path(folder) / Path(name).name
            path.write_bytes(data)
            self._notify(title, body, severity, str(path))

    def _notify(self, title: str, body: str, severity: AlertSeverity, path: str | None) -> None:
        try:
            result = self._apprise.notify(
                body=body or title,
                title=title,
                notify_type=_TYPES[severity],
                body_format="text",  # an HTML channel (e-mail) escapes it and keeps its lines
                attach=path,
                timeout=self._timeout,
            )
        except Exception as exc:  # a plugin that raises: a failed delivery, never a crash
            raise DeliveryFailed(self._safe(f"{type(exc).__name__}: {exc}")) from None
        if not result:
            lines = [entry.message for entry in result.logs() if _level(entry.level) >= WARNING]
            raise DeliveryFailed(self._safe("; ".join(lines) or "the channel refused the message"))

    def _safe(self, text: str) -> str:
        return scrub(text, self.spec.secrets)[:1000]


def _level(level: int | str) -> int:
    """A log entry's level as a number (apprise gives its name)."""
    if isinstance(level, int):
        return level
    found = logging.getLevelName(str(level).upper())
    return found if isinstance(found, int) else logging.ERROR
