"""What of a setting may be shown: secrets never, a database URL without its password.

The secrets (``SECRET_KEYS``, and any key whose name says it is one) never appear in an error,
a log line, ``describe()`` or ``repr()``: an error shows ``***``, ``describe`` only whether the
secret is set. A database URL is shown with its password replaced by ``***``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

# Keys whose values are secrets: never shown in errors, logs, describe() or repr().
SECRET_KEYS = frozenset(
    {
        "valr_api_key",
        "valr_api_secret",
        "dashboard_password_hash",
        "helios_api_token",
        "alert_urls",
        "heartbeat_ping_url",
    }
)
_SECRET_HINT = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE", re.IGNORECASE)


def shown_value(key: str, value: Any) -> Any:
    """A configuration value as it may appear in an error: secrets hidden, URLs redacted."""
    if value is None:
        return value
    if key.lower() in SECRET_KEYS or key.lower().startswith("valr_api") or _SECRET_HINT.search(key):
        return "***"
    if key.lower() == "database_url" and isinstance(value, str):
        return redact_url(value)
    return value


def describe(settings: BaseSettings) -> dict[str, Any]:
    """Settings as a dict safe to show or log: secrets are replaced by whether they are set."""
    shown: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "alert_urls" and isinstance(value, SecretStr):
            from helios.config.channels import parse_alert_urls

            shown[name] = [spec.id for spec in parse_alert_urls(value.get_secret_value())]
        elif name == "heartbeat_ping_url" and isinstance(value, SecretStr):
            from helios.config.channels import mask

            shown[name] = mask(value.get_secret_value())
        elif isinstance(value, SecretStr) or name.startswith("valr_api_"):
            shown[name] = "set" if value else "not set"
        elif name == "database_url":
            shown[name] = redact_url(value)
        else:
            shown[name] = value
    return shown


def redact_url(url: str) -> str:
    """A database URL with any password replaced by ***.

    The password runs to the last ``@`` before the host (a password may itself hold an ``@``)."""
    return re.sub(r"(://[^:/@]+:)[^/?#]*@", r"\1***@", url)
