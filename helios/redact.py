"""Secrets never reach a log line: what the one logging set-up scrubs from every record.

The rule. In every line written to the terminal or the log file (helios's own, uvicorn's access
and error lines, tracebacks included):

- the value of any query parameter whose name looks secret (``token``, ``access_token``,
  ``key``, ``api_key``, ``secret``, ``password``, ``signature``, ``auth``, ``session``...,
  in any case) becomes ``***``: a client that puts its token in the URL (``?token=``) must not
  have it copied into a file every operator can read;
- every configured secret (``HELIOS_API_TOKEN``, ``VALR_API_KEY``, ``VALR_API_SECRET``,
  ``DASHBOARD_PASSWORD_HASH``, the database password) becomes ``***`` wherever it appears, as
  sent or percent-encoded (any case of the hex digits). Values shorter than
  ``MIN_SECRET_LENGTH`` are left alone: they would blank out ordinary words, and are not secret
  enough to protect this way.

``scrub`` is the pure rule; ``SecretFilter`` applies it to a ``logging.LogRecord`` (its message,
its arguments one by one so uvicorn's formatters still find them, its traceback and stack), and
``configured_secrets`` lists the secrets of a ``Settings``. ``helios.logs.configure_logging``
installs the filter on every handler it sets up and on uvicorn's loggers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from helios.config import Settings

MASK = "***"
MIN_SECRET_LENGTH = 4
_NAME_HINTS = (
    "token|key|secret|passw|pwd|signature|sig|auth|credential|session|cookie|jwt|otp|private"
)
# a query parameter: after ? & or ;, a name holding a secret word, =, its value
_SECRET_PARAMETER = re.compile(
    rf"(?i)([?&;][^=&;#\s\"'?]*(?:{_NAME_HINTS})[^=&;#\s\"'?]*=)([^&;#\s\"']*)"
)


def _forms(secret: str) -> set[str]:
    """A secret as it may appear in a URL: as is and percent-encoded."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every form of every secret long enough to scrub (longest first)."""
    forms = {
        form for secret in secrets if len(secret) >= MIN_SECRET_LENGTH for form in _forms(secret)
    }
    if not forms:
        return None
    ordered = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in ordered), re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str] | re.Pattern[str] | None) -> str:
    """``text`` with secret query parameters' values and the given secrets replaced by ***."""
    if secrets is None or isinstance(secrets, re.Pattern):
        pattern = secrets
    else:
        pattern = secret_pattern(secrets)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _SECRET_PARAMETER.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), text)


def configured_secrets(settings: Settings) -> list[str]:
    """The secret values a ``Settings`` holds: the keys, the token, the hash, the database
    password, every credential of ``ALERT_URLS`` and ``HEARTBEAT_PING_URL``."""
    from sqlalchemy.engine import make_url

    found = [
        value.get_secret_value()
        for value in (
            settings.helios_api_token,
            settings.valr_api_key,
            settings.valr_api_secret,
            settings.dashboard_password_hash,
        )
        if value is not None
    ]
    try:
        password = make_url(settings.database_url).password
    except Exception:  # a URL SQLAlchemy cannot read holds no password it could use
        password = None
    if password:
        found.append(str(password))
    # the alert channels' credentials and the dead-man's switch's URL (helios.config.channels)
    found.extend(part for spec in settings.alert_channels() for part in spec.secrets)
    if settings.heartbeat_ping_url is not None:
        from helios.config.channels import secret_parts

        found.extend(secret_parts(settings.heartbeat_ping_url.get_secret_value()))
    return found


class SecretFilter(logging.Filter):
    """Scrubs each record it sees (``scrub``); never drops one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.pattern = secret_pattern(secrets)

    def _scrub(self, value: Any) -> Any:
        return scrub(value, self.pattern) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = self._scrub(record.msg)
            if isinstance(record.args, Mapping):
                record.args = {k: self._scrub(v) for k, v in record.args.items()}
            elif isinstance(record.args, tuple):
                record.args = tuple(self._scrub(arg) for arg in record.args)
            message = record.getMessage()
            if scrub(message, self.pattern) != message:  # a secret split over msg and args
                record.msg, record.args = scrub(message, self.pattern), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text, self.pattern)
            if record.stack_info:
                record.stack_info = scrub(record.stack_info, self.pattern)
        except Exception:  # a record that cannot be formatted is the handler's to report
            return True
        return True
