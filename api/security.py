"""Who may write: a bearer token from ``HELIOS_API_TOKEN``, compared in constant time.

Reads need no token (the API binds to 127.0.0.1 by default). Every route that changes something
depends on ``require_writer``: without the setting the API serves reads only and every write
gets 403 ``writes_disabled`` (the server says so at start); a missing or wrong token gets 401
``unauthorized``. Either way the handler never runs, so nothing changes. The caller is recorded
with the change as ``api:<by>`` (``api`` when the body names nobody).
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError

log = logging.getLogger("helios.api")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HELIOS_API_TOKEN",
    description="Authorization: Bearer <HELIOS_API_TOKEN>; needed by every write",
)


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    token: bytes | None = request.app.state.token
    if token is None:
        raise ApiError(
            403,
            "writes_disabled",
            "this API serves reads only: HELIOS_API_TOKEN is not set on the server, so no "
            "write is accepted",
        )
    given = credentials.credentials.encode("utf-8", "surrogateescape") if credentials else b""
    # compare_digest takes the same time whatever the content; always run it
    if not hmac.compare_digest(given, token) or credentials is None:
        log.warning(
            "API write refused: %s token for %s %s from %s",
            "wrong" if credentials else "no",
            request.method,
            request.url.path,
            request.client.host if request.client else "?",
        )
        raise ApiError(
            401,
            "unauthorized",
            "a valid 'Authorization: Bearer <HELIOS_API_TOKEN>' header is required for writes",
            headers={"WWW-Authenticate": "Bearer"},
        )


def actor(by: str | None) -> str:
    """The name recorded with an API write."""
    return f"api:{by.strip()}" if by and by.strip() else "api"
