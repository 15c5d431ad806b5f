"""Who may write: a bearer token from ``HELIOS_API_TOKEN``, compared in constant time.

Reads need no token (the API binds to 127.0.0.1 by default). Every route that changes something
depends on ``require_writer``: without the setting the API serves reads only and every write
gets 403 ``writes_disabled`` (the server says so at start); a missing or wrong token gets 401
``unauthorized``. Either way the handler never runs, so nothing changes. The caller is recorded
with the change as ``api:<by>`` (``api`` when the body names nobody).

The check runs twice by design, the same function both times: ``WriteGate``, a pure ASGI
middleware outside the body guard (``api.limits``), refuses a write route's request on its
headers alone, before a byte of its body is read or parsed (malformed JSON without a token is 401,
not 422; a 100 MB body without a token is never received); ``require_writer``, the routes'
dependency, keeps the rule visible on each route and in ``/openapi.json``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ApiError
from api.limits import may_have_body, refuse

log = logging.getLogger("helios.api")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HELIOS_API_TOKEN",
    description="Authorization: Bearer <HELIOS_API_TOKEN>; needed by every write",
)


def refusal(
    token: bytes | None, credentials: str | None, method: str, path: str, client: str
) -> ApiError | None:
    """Why a write with this bearer ``credentials`` is refused (None: it may write)."""
    if token is None:
        return ApiError(
            403,
            "writes_disabled",
            "this API serves reads only: HELIOS_API_TOKEN is not set on the server, so no "
            "write is accepted",
        )
    given = credentials.encode("utf-8", "surrogateescape") if credentials else b""
    # compare_digest takes the same time whatever the content; always run it
    if not hmac.compare_digest(given, token) or not credentials:
        log.warning(
            "API write refused: %s token for %s %s from %s",
            "wrong" if credentials else "no",
            method,
            path,
            client,
        )
        return ApiError(
            401,
            "unauthorized",
            "a valid 'Authorization: Bearer <HELIOS_API_TOKEN>' header is required for writes",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    refused = refusal(
        request.app.state.token,
        credentials.credentials if credentials else None,
        request.method,
        request.url.path,
        request.client.host if request.client else "?",
    )
    if refused is not None:
        raise refused


def bearer_credentials(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, as ``HTTPBearer`` reads it."""
    scheme, credentials = get_authorization_scheme_param(headers.get("authorization"))
    return credentials if scheme.lower() == "bearer" and credentials else None


def _needs_writer(dependant: Dependant) -> bool:
    return any(sub.call is require_writer or _needs_writer(sub) for sub in dependant.dependencies)


def write_routes(routes: Iterable[BaseRoute]) -> list[APIRoute]:
    """The routes among ``routes`` that depend on ``require_writer`` (the writes)."""
    return [r for r in routes if isinstance(r, APIRoute) and _needs_writer(r.dependant)]


class WriteGate:
    """The token check of every route in ``writes`` (``write_routes`` of the app's routers),
    on the request's headers, before the body guard reads a byte (see the module docstring)."""

    def __init__(self, app: ASGIApp, writes: Sequence[APIRoute]) -> None:
        self.app = app
        self.writes = tuple(writes)

    def _is_write(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_write(scope):
            headers = Headers(scope=scope)
            client: Any = scope.get("client")
            refused = refusal(
                getattr(scope["app"].state, "token", None),
                bearer_credentials(headers),
                scope["method"],
                scope["path"],
                client[0] if client else "?",
            )
            if refused is not None:
                await refuse(
                    scope,
                    receive,
                    send,
                    refused.status,
                    refused.body,
                    refused.headers,
                    close=may_have_body(headers),
                )
                return
        await self.app(scope, receive, send)


def actor(by: str | None) -> str:
    """The name recorded with an API write."""
    return f"api:{by.strip()}" if by and by.strip() else "api"
