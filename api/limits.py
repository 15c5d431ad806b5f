"""``BodyLimits``: what a request body may cost before any handler sees it (a pure ASGI guard).

The rule, for every HTTP request:

- a ``Content-Length`` above ``API_MAX_BODY_BYTES`` (default 64 KiB; the largest valid request
  is a few KiB) is refused at once with 413 ``body_too_large``, before a byte of the body is
  read;
- otherwise the body is read here, chunk by chunk, counting: the moment the count passes the
  limit (a chunked body, or a client sending more than it declared) the answer is 413 and the
  rest is never read, so no request can hold more than the limit in memory (eight parallel
  100 MB POSTs once took the API from 321 MB to 1.74 GB);
- the whole body must arrive within ``API_BODY_TIMEOUT_SECONDS`` (default 10 s) of the request's
  headers, else 408 ``body_timeout`` (1,000 connections trickling bodies were once held 60 s);
- a refused request's connection is closed (``Connection: close``): its unread body is not worth
  receiving.

The body read here is handed to the app whole, as one ``http.request`` message; later
``receive`` calls reach the server (a client's disconnect). Pure ASGI on purpose: Starlette's
``BaseHTTPMiddleware`` would buffer the body before any limit could apply. The token check of
writes (``api.security.WriteGate``) runs before this guard, so a write without a valid token
never has its body read at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 64 * 1024  # helios.config's default, for an app not yet bound
DEFAULT_BODY_TIMEOUT_SECONDS = 10.0


class BodyTooLarge(Exception):
    """The body passed the limit while it was read."""


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


def declared_length(headers: Headers) -> int | None:
    """The request's Content-Length, or None (absent or not a number: the server's own parser
    has refused a malformed one before the app runs)."""
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def may_have_body(headers: Headers) -> bool:
    """A request whose body may still be on the wire (declared non-empty, or chunked)."""
    length = declared_length(headers)
    return (length is not None and length > 0) or "transfer-encoding" in headers


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    close: bool = True,
) -> None:
    """Answer with the API's JSON error shape without running the app; ``close``: and end the
    connection after the answer (its unread body is abandoned)."""
    extra = dict(headers or {})
    if close:
        extra["Connection"] = "close"
    await JSONResponse(body, status_code=status, headers=extra)(scope, receive, send)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counted as it arrives; BodyTooLarge the moment it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def too_large(limit: int, value: int | str) -> dict[str, Any]:
    return {
        "error": "body_too_large",
        "message": f"the request body is larger than the API accepts ({limit:,} bytes)",
        "field": "body",
        "value": value,
        "allowed": f"at most {limit} bytes (API_MAX_BODY_BYTES)",
        "rule": f"at most {limit} bytes (API_MAX_BODY_BYTES)",
    }


def too_slow(timeout: float) -> dict[str, Any]:
    return {
        "error": "body_timeout",
        "message": f"the request body did not arrive within {timeout:g} s",
        "field": "body",
        "value": None,
        "allowed": f"the whole body within {timeout:g} s of the headers (API_BODY_TIMEOUT_SECONDS)",
        "rule": "the whole body within API_BODY_TIMEOUT_SECONDS",
    }


class BodyLimits:
    """The guard of this module's rule; the limits are read from ``app.state`` (bound from the
    settings when the app starts) on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        limit: int = getattr(state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        timeout: float = getattr(state, "body_timeout_seconds", DEFAULT_BODY_TIMEOUT_SECONDS)
        declared = declared_length(Headers(scope=scope))
        if declared is not None and declared > limit:
            await refuse(scope, receive, send, 413, too_large(limit, declared))
            return
        try:
            async with asyncio.timeout(timeout):
                body = await read_body(receive, limit)
        except BodyTooLarge:
            await refuse(scope, receive, send, 413, too_large(limit, f"more than {limit} bytes"))
            return
        except TimeoutError:
            await refuse(scope, receive, send, 408, too_slow(timeout))
            return
        except ClientGone:
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the server says (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
