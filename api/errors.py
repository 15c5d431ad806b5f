"""Every error as JSON with one shape (``api.models.ErrorOut``), never a stack trace.

- 422 ``invalid_input``: the request broke a rule; ``field``, ``value`` and ``allowed``/``rule``
  say which and how (FastAPI's own validation and helios's ``InvalidInput`` alike). A value of
  the wrong JSON type (``true`` for a number, ``"yes"`` for a bool: the request models are
  strict) has ``allowed`` saying what the field takes: "a number", "true or false", ... Nothing was
  changed (a malformed signal excepted: helios stores it as REJECTED, its ``signal_id`` is given).
- 404 ``not_found``: no such position (or path).
- 409 ``refused``: a well-formed write that helios refused in the present state (the position is
  already closed, LIVE without the checklist, a signal not approved or a duplicate); ``reason``
  says why. Nothing changed beyond the record of the refusal helios keeps.
- 401 ``unauthorized`` / 403 ``writes_disabled``: see ``api.security``.
- 503 ``database_unavailable`` (``api.outage``): the database did not answer; ``Retry-After``
  and ``still_works`` (the scheduler's journal close-out) say what to expect.
- 500 ``internal_error``: logged with a reference; the response holds only the reference. It is
  answered by ``ServerErrors``, a pure ASGI middleware that does not re-raise: Starlette's own
  ``ServerErrorMiddleware`` re-raises after sending the 500, and uvicorn then closes the
  connection under the client's next keep-alive request. (A response already half sent cannot
  be mended: then the exception goes on and the server ends the connection.)
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import outage
from helios.errors import InvalidInput
from helios.live import LiveNotReady
from helios.redact import MASK
from helios.text import hostile_character

log = logging.getLogger("helios.api")

MAX_TEXT = 200
# what a field takes, for a value of the wrong JSON type (pydantic's error types)
TIME = "a time with its zone as text (ISO 8601, e.g. 2026-11-26T08:00:00Z)"
TAKES = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text (a JSON string)",
    "datetime_type": TIME,
    "datetime_parsing": TIME,
    "datetime_from_date_parsing": TIME,
    "timezone_aware": TIME,
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "json_invalid": "a JSON document",
}


class ApiError(Exception):
    """An answer other than 2xx that a handler or a dependency chose."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status_code
        self.body = {"error": error, "message": message, **extra}
        self.headers = headers


def safe_value(value: Any, depth: int = 0) -> Any:
    """What a client sent, JSON-safe and bounded (a repr for anything else)."""
    if depth > 3:
        return repr(value)[:MAX_TEXT]
    if value is None or isinstance(value, bool | int):
        return (
            value if not isinstance(value, int) or abs(value) < 10**18 else repr(value)[:MAX_TEXT]
        )
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):  # hostile text echoed escaped (a lone surrogate cannot be sent)
        return (value if hostile_character(value) is None else repr(value)[1:-1])[:MAX_TEXT]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k)[:60]: safe_value(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple | set):
        return [safe_value(v, depth + 1) for v in list(value)[:20]]
    return repr(value)[:MAX_TEXT]


def _scrubbed(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The body with any server secret that a client echoed back replaced by *** (every form of
    it ``helios.redact.secret_pattern`` knows: as sent, percent-encoded, any case)."""
    pattern: re.Pattern[str] | None = getattr(request.app.state, "secrets", None)
    if pattern is None:
        return body

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(MASK, value)
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return scrub(body)


def error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(_scrubbed(request, body), status_code=status, headers=headers)


def invalid_input(exc: InvalidInput, **extra: Any) -> dict[str, Any]:
    return {
        "error": "invalid_input",
        "message": f"{exc.field} is not allowed: {exc.allowed}",
        "field": exc.field,
        "value": safe_value(exc.value),
        "allowed": exc.allowed,
        "rule": exc.allowed,
        **extra,
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.body, exc.headers)

    @app.exception_handler(InvalidInput)
    async def helios_invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return error_response(request, 422, invalid_input(exc))

    @app.exception_handler(LiveNotReady)
    async def live_refused(request: Request, exc: LiveNotReady) -> JSONResponse:
        body = {
            "error": "refused",
            "message": str(exc).splitlines()[0],
            "reason": "LIVE refused: the pre-live checklist does not hold (trading stays PAPER)",
            "missing": exc.missing,
            "checklist": exc.checklist.to_dict(),
        }
        return error_response(request, 409, body)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            location = [str(part) for part in error.get("loc", ())]
            where = (
                location[1:] if location and location[0] in ("body", "query", "path") else location
            )
            if error.get("type") == "json_invalid":  # loc is ("body", <offset>): name the body
                where = ["body"]
            errors.append(
                {
                    "field": ".".join(where) or (location[0] if location else "request"),
                    "in": location[0] if location else "request",
                    "value": safe_value(error.get("input")),
                    "rule": str(error.get("msg", "invalid")),
                    "allowed": TAKES.get(error.get("type", ""), str(error.get("msg", "invalid"))),
                }
            )
        nothing = {"field": "request", "value": None, "rule": "invalid", "allowed": "invalid"}
        first = errors[0] if errors else nothing
        body = {
            "error": "invalid_input",
            "message": f"{first['field']}: {first['rule']}",
            "field": first["field"],
            "value": first["value"],
            "rule": first["rule"],
            "allowed": first["allowed"],
            "errors": errors,
        }
        return error_response(request, 422, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON: bad input like any other
            body = {
                "error": "invalid_input",
                "message": f"body: {exc.detail}",
                "field": "body",
                "value": None,
                "rule": "a JSON document",
                "allowed": "a JSON document",
            }
            return error_response(request, 422, body)
        kinds = {404: "not_found", 405: "method_not_allowed"}
        body = {"error": kinds.get(exc.status_code, "http_error"), "message": str(exc.detail)}
        return error_response(request, exc.status_code, body, getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if not outage.is_unavailable(exc):
            return internal_error(request, exc)
        log.warning(
            "API %s %s: database unavailable (%s)",
            request.method,
            request.url.path,
            outage.one_line(exc),
        )
        hx = getattr(request.app.state, "hx", None)
        body = outage.unavailable_body(hx.settings if hx is not None else None)
        return error_response(request, 503, body, outage.retry_headers())


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """The 500: the traceback to the log under a reference, only the reference to the client."""
    reference = uuid.uuid4().hex[:12]
    log.error(
        "API %s %s failed (ref %s)", request.method, request.url.path, reference, exc_info=exc
    )
    body = {
        "error": "internal_error",
        "message": f"internal error; the server log has the details (ref {reference})",
    }
    return error_response(request, 500, body)


class ServerErrors:
    """Any exception no handler took becomes the 500 JSON, and the connection stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # half a response is out: only ending the connection is honest
                raise
            await internal_error(Request(scope), exc)(scope, receive, send)
