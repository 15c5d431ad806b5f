"""What went wrong with a VALR request: ``ValrError`` and its kinds, and the classification of
VALR's answers into them.

The rule it owns: the KIND of error says whether the request may have taken effect, because an
order placement must never be resent blind.

- ``ValrRejected``: VALR said no (a 4xx with its error body): nothing took effect.
- ``ValrAuthError``: the credentials were refused (401/403, codes -11252/-11268/-11272, or a
  message about the timestamp: VALR's status for a bad signature is undocumented, so any of
  them counts); the message says what the operator should check.
- ``ValrRateLimited``: still 429 after the retries; refused, nothing took effect.
- ``ValrUnavailable``: no usable answer (no connection, a timeout, a 5xx, not JSON);
  ``ambiguous`` unless the connection was certainly never made (``never_sent``).

Errors carry the HTTP status, VALR's code and message, the method and path, never a key or a
secret (VALR's text is scrubbed by the client before it gets here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from helios.errors import HeliosError

AUTH_CODES = {-11252: "signature", -11268: "missing key", -11272: "ip"}


class ValrError(HeliosError):
    """A VALR request that did not succeed. Carries the HTTP ``status`` (None: no answer),
    VALR's ``code`` and ``valr_message`` (from its ``{"code","message"}`` body, when there is
    one), and the request's ``method`` and ``path``. Never carries keys or secrets."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        code: int | None = None,
        valr_message: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.valr_message = valr_message
        self.detail = message
        facts = []
        if status is not None:
            facts.append(f"HTTP {status}")
        if code is not None:
            facts.append(f"code {code}")
        if valr_message:
            facts.append(repr(valr_message))
        shown = f" [{', '.join(facts)}]" if facts else ""
        super().__init__(f"VALR {method} {path}{shown}: {message}")

    @property
    def ambiguous(self) -> bool:
        """True when the request may have taken effect on VALR although it failed."""
        return False


class ValrRejected(ValrError):
    """VALR said no (a 4xx with its error body, or an order that ended ``Failed``): the request
    took no effect, the order does not exist or never executed."""


class ValrAuthError(ValrError):
    """VALR refused the credentials (bad signature, stale timestamp, IP not whitelisted,
    missing key, 401/403). The message says what the operator should check."""


class ValrRateLimited(ValrError):
    """Still 429 after the retries. VALR refused the request: nothing took effect."""

    def __init__(self, message: str, *, retry_after: float | None = None, **facts: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **facts)


class ValrUnavailable(ValrError):
    """No usable answer: no connection, a timeout, a 5xx, or an answer that is not JSON.

    ``sent`` is False only when the request certainly never reached VALR (the connection was
    never made); otherwise it may have taken effect: an order may exist (``ambiguous``)."""

    def __init__(self, message: str, *, sent: bool = True, **facts: Any) -> None:
        self.sent = sent
        super().__init__(message, **facts)

    @property
    def ambiguous(self) -> bool:
        return self.sent


# --- classifying VALR's answers ---------------------------------------------------------------
def error_body(
    response: requests.Response, scrub: Callable[[str], str]
) -> tuple[int | None, str | None]:
    """VALR's ``{"code", "message"}`` error body (the message ``scrub``bed of any key echo), or
    the first 200 characters of a body that is not JSON as the message."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return None, scrub(text[:200]) if text else None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            scrub(str(message)) if message is not None else None,
        )
    return None, None


def classify_refusal(
    status: int, code: int | None, message: str | None, facts: dict[str, Any]
) -> ValrError:
    """The error for an answer that is neither a success, a 429 nor a 5xx: an auth refusal,
    a plain refusal (4xx: nothing took effect), or an unexpected status."""
    about_time = "timestamp" in (message or "").lower()
    details = {"status": status, "code": code, "valr_message": message, **facts}
    if status in (401, 403) or code in AUTH_CODES or about_time:
        return ValrAuthError(auth_hint(status, code, about_time), **details)
    if 400 <= status < 500:
        return ValrRejected("VALR refused the request; it took no effect", **details)
    return ValrUnavailable(f"unexpected HTTP {status} from VALR", **details)


def auth_hint(status: int, code: int | None, about_time: bool) -> str:
    if about_time:
        return (
            "VALR refused the request's timestamp: check this machine's clock (NTP); "
            "X-VALR-TIMESTAMP is the current Unix time in milliseconds"
        )
    if code == -11252:
        return (
            "VALR says the signature is invalid: check that VALR_API_SECRET is the secret of "
            "VALR_API_KEY (and VALR_SUBACCOUNT_ID, if set, is right)"
        )
    if code == -11272:
        return (
            "VALR refuses this machine's IP address: add it to the API key's IP whitelist on "
            "VALR, or use a key without one"
        )
    if code == -11268:
        return "VALR got no API key: set VALR_API_KEY and VALR_API_SECRET"
    if status == 401:
        return (
            "VALR refused the credentials: check VALR_API_KEY and VALR_API_SECRET, the key's "
            "IP whitelist, this machine's clock, and that a primary-only route is not called "
            "with VALR_SUBACCOUNT_ID"
        )
    return (
        "VALR refused the request: check that the API key exists and has the permission this "
        "needs (View access; Trade for orders), and that JSON bodies are sent as "
        "application/json"
    )


def never_sent(exc: requests.RequestException) -> bool:
    """True only when the connection was never made, so the request cannot have reached VALR."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def said(error: ValrError) -> str:
    """What VALR said, for a REJECTED order's reason: its message (else ours) and its code."""
    text = error.valr_message or error.detail
    return f"{text} (code {error.code})" if error.code is not None else text


def malformed(method: str, path: str, item: Any) -> ValrUnavailable:
    """A 200 whose JSON is not what the route returns: no usable answer."""
    shown = repr(item)
    return ValrUnavailable(
        f"unexpected answer from VALR: {shown[:200]}", method=method, path=path, status=200
    )
