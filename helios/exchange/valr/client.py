"""``ValrClient``: one ``requests.Session`` to VALR's REST API with timeouts, signing, retries
and typed errors.

The rule it owns: a read (GET) is retried on a 429, a 5xx, a non-JSON answer or no answer, with
exponential backoff and "equal jitter" (VALR's ``Retry-After`` wins when it sends one, capped at
``max_backoff_seconds``); a POST (an order) is retried ONLY when VALR certainly did not take it:
a 429 (refused by the rate limiter) or a connection that was never made. Anything else raises
the ``ValrError`` kind that says whether the request may have taken effect. Each attempt is
signed afresh with the clock (VALR's timestamp window is undocumented), over the bytes sent.
Keys never appear in an exception, a log record or a repr: VALR's text is scrubbed of them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests
from pydantic import SecretStr
from requests.auth import AuthBase

from helios.clock import Clock, SystemClock
from helios.config import Settings
from helios.exchange.valr.errors import (
    ValrAuthError,
    ValrError,
    ValrRateLimited,
    ValrUnavailable,
    classify_refusal,
    error_body,
    never_sent,
)
from helios.exchange.valr.routes import logger
from helios.exchange.valr.signing import sign_prepared

log = logger()


class _Signer(AuthBase):
    """Signs the PREPARED request: the path and body exactly as they go on the wire."""

    def __init__(self, client: ValrClient) -> None:
        self._client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._client._sign(request)
        return request

    def __repr__(self) -> str:
        return "<VALR request signer>"


class ValrClient:
    """One ``requests.Session`` to VALR's REST API: timeouts, signing, retries, typed errors.

    ``clock`` stamps signatures (``X-VALR-TIMESTAMP``); ``sleep``, ``monotonic`` and ``jitter``
    (a ``random()`` in [0, 1)) are injectable so tests observe the backoff without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.base_url = settings.valr_base_url.rstrip("/")
        self.timeout = settings.valr_timeout_seconds
        self.max_retries = settings.valr_max_retries
        self.backoff_seconds = settings.valr_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.subaccount_id = settings.valr_subaccount_id
        self._key: SecretStr | None = settings.valr_api_key
        self._secret: SecretStr | None = settings.valr_api_secret
        self.clock: Clock = clock or SystemClock()
        self.sleep = sleep
        self.monotonic = monotonic
        self._jitter = jitter
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "helios-pm"})
        self._signer = _Signer(self)

    def __repr__(self) -> str:
        key = "set" if self.has_keys else "missing"
        sub = f", subaccount={self.subaccount_id!r}" if self.subaccount_id else ""
        return f"ValrClient(base_url={self.base_url!r}, keys={key}{sub})"

    @property
    def has_keys(self) -> bool:
        return bool(
            self._key
            and self._secret
            and self._key.get_secret_value()
            and self._secret.get_secret_value()
        )

    # --- verbs ------------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, signed: bool = True
    ) -> Any:
        return self.request("GET", path, params=params, signed=signed)

    def post(self, path: str, body: Mapping[str, Any], *, idempotent: bool = False) -> Any:
        """POST a JSON body. Not idempotent by default: retried only when VALR certainly did
        not take it (429, connection never made)."""
        return self.request("POST", path, body=body, idempotent=idempotent)

    def put(self, path: str, body: Mapping[str, Any], *, idempotent: bool = False) -> Any:
        return self.request("PUT", path, body=body, idempotent=idempotent)

    def delete(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, body=body, idempotent=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        signed: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request (with the retries its kind allows) and return the parsed JSON
        (None for an empty 2xx body), or raise a ``ValrError``."""
        method = method.upper()
        safe_to_repeat = method == "GET" if idempotent is None else idempotent
        target = path + ("?" + urlencode(list(params.items())) if params else "")
        payload = None if body is None else json.dumps(body, separators=(",", ":"))
        facts: dict[str, Any] = {"method": method, "path": target}
        if signed and not self.has_keys:
            raise ValrAuthError(
                "no VALR API key is configured: set VALR_API_KEY and VALR_API_SECRET "
                "(a key with View access and Trade permissions)",
                **facts,
            )
        attempt = 0
        while True:
            try:
                response = self._send(method, target, payload, signed)
            except requests.RequestException as exc:
                sent = not never_sent(exc)
                what = f"no answer ({type(exc).__name__}: {self._scrub(str(exc))})"
                if (safe_to_repeat or not sent) and attempt < self.max_retries:
                    attempt = self._pause(attempt, None, f"{method} {target}: {what}")
                    continue
                if sent:
                    what += "; the request may have reached VALR"
                else:
                    what += "; the connection was never made, so VALR did not get the request"
                raise ValrUnavailable(what, sent=sent, **facts) from None
            status = response.status_code
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if attempt < self.max_retries:
                    attempt = self._pause(attempt, retry_after, f"{method} {target}: HTTP 429")
                    continue
                code, message = self._error_body(response)
                limited = response.headers.get("x-valr-ratelimited", "absent")
                raise ValrRateLimited(
                    f"rate limited by VALR after {attempt + 1} attempts "
                    f"(x-valr-ratelimited: {limited}); nothing took effect, try again later",
                    retry_after=retry_after,
                    status=status,
                    code=code,
                    valr_message=message,
                    **facts,
                )
            if status >= 500:
                code, message = self._error_body(response)
                if safe_to_repeat and attempt < self.max_retries:
                    attempt = self._pause(attempt, None, f"{method} {target}: HTTP {status}")
                    continue
                raise ValrUnavailable(
                    "VALR failed to answer (server error); the request may have taken effect",
                    status=status,
                    code=code,
                    valr_message=message,
                    **facts,
                )
            if 200 <= status < 300:
                if not response.content.strip():
                    return None
                try:
                    return response.json()
                except ValueError:
                    if safe_to_repeat and attempt < self.max_retries:
                        attempt = self._pause(attempt, None, f"{method} {target}: not JSON")
                        continue
                    raise ValrUnavailable(
                        "the answer is not JSON (a proxy page?); the request may have taken effect",
                        status=status,
                        **facts,
                    ) from None
            raise self._refusal(response, facts)

    # --- internals ----------------------------------------------------------------------------
    def _send(
        self, method: str, target: str, payload: str | None, signed: bool
    ) -> requests.Response:
        headers: dict[str, str] = {}
        data: bytes | None = None
        if payload is not None:
            data = payload.encode("utf-8")
            headers["Content-Type"] = "application/json"
        return self.session.request(
            method,
            self.base_url + target,
            data=data,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
            auth=self._signer if signed else None,
        )

    def _sign(self, request: requests.PreparedRequest) -> None:
        assert self._key is not None and self._secret is not None
        sign_prepared(
            request,
            key=self._key.get_secret_value(),
            secret=self._secret.get_secret_value(),
            timestamp=str(int(self.clock.now().timestamp() * 1000)),
            subaccount_id=self.subaccount_id,
        )

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> int:
        if retry_after is not None:
            delay = min(retry_after, self.max_backoff_seconds)
        else:
            step = min(self.backoff_seconds * (2**attempt), self.max_backoff_seconds)
            delay = step * (0.5 + 0.5 * self._jitter())  # "equal jitter"
        log.warning("VALR %s; retry %d of %d in %.3f s", why, attempt + 1, self.max_retries, delay)
        self.sleep(delay)
        return attempt + 1

    def _scrub(self, text: str) -> str:
        """``text`` with any echo of the key or the secret replaced by ``***``."""
        for secret in (self._key, self._secret):
            value = secret.get_secret_value() if secret is not None else ""
            if value:
                text = text.replace(value, "***")
        return text

    def _error_body(self, response: requests.Response) -> tuple[int | None, str | None]:
        return error_body(response, self._scrub)

    def _refusal(self, response: requests.Response, facts: dict[str, Any]) -> ValrError:
        code, message = self._error_body(response)
        return classify_refusal(response.status_code, code, message, facts)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), None if absent
    or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer
