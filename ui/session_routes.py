"""The two HTTP routes that set and clear the dashboard's session cookie (issue 18).

A sign-in happens on Streamlit's websocket, which cannot set a cookie, let alone an HttpOnly
one. So a successful sign-in leaves the signed token here under a one-time ticket (random, 60 s)
and the page posts that ticket to ``POST /helios/session``, whose answer sets the token as
``helios_session``: HttpOnly (no script can read it), SameSite=Strict, Path=/, Max-Age of
DASHBOARD_SESSION_HOURS, Secure when the page came over https. The token never reaches the
page; the ticket is worth nothing once used or after a minute. ``POST /helios/signout`` clears
the cookie and remembers its token as signed out until it would have expired (a copy of it is
refused too). Both refuse a request from another origin.

The routes are served by ``dashboard.py`` (``st.App``: Streamlit's own Starlette server with
these routes beside it), which ``helios dashboard`` and ``helios up`` run. The tickets and the
signed-out tokens are kept in this process: the routes and the script runs share it.
"""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from helios.session_token import fingerprint

COOKIE = "helios_session"
SESSION_PATH = "/helios/session"
SIGNOUT_PATH = "/helios/signout"
SIGNOUT_HEADER = "X-Helios-Signout"  # a custom header: a form on another site cannot send it
TICKET_SECONDS = 60.0
MAX_BODY = 256

_lock = threading.Lock()
_tickets: dict[str, tuple[str, int, float]] = {}  # ticket -> (token, max-age, deadline)
_signed_out: dict[str, float] = {}  # fingerprint of a token -> when it expires (unix)


def hand_over(token: str, max_age: int) -> str:
    """Leave ``token`` for the next ``POST /helios/session`` that brings the returned ticket."""
    ticket = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _lock:
        for old in [t for t, (_, _, deadline) in _tickets.items() if deadline < now]:
            del _tickets[old]
        _tickets[ticket] = (token, max_age, now + TICKET_SECONDS)
    return ticket


def waiting(ticket: str) -> bool:
    """Whether ``ticket`` is still waiting to be taken (not used, not expired)."""
    with _lock:
        found = _tickets.get(ticket)
    return found is not None and found[2] >= time.monotonic()


def _take(ticket: str) -> tuple[str, int] | None:
    with _lock:
        found = _tickets.pop(ticket, None)
    if found is None or found[2] < time.monotonic():
        return None
    return found[0], found[1]


def sign_out(token: str, expires_at: float) -> None:
    """Remember ``token`` as signed out until ``expires_at`` (unix seconds)."""
    now = time.time()
    with _lock:
        for old in [f for f, until in _signed_out.items() if until < now]:
            del _signed_out[old]
        _signed_out[fingerprint(token)] = expires_at


def signed_out(token: str) -> bool:
    with _lock:
        return fingerprint(token) in _signed_out


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


async def set_session(request: Request) -> Response:
    if not _same_origin(request):
        return _no_store(Response("refused: another origin", status_code=403))
    body = await request.body()
    taken = _take(body[:MAX_BODY].decode(errors="replace").strip()) if body else None
    if taken is None:
        return _no_store(Response("refused: no such ticket", status_code=403))
    token, max_age = taken
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=_https(request),
        httponly=True,
        samesite="strict",
    )
    return _no_store(response)


async def clear_session(request: Request) -> Response:
    if not _same_origin(request) or request.headers.get(SIGNOUT_HEADER) != "1":
        return _no_store(Response("refused: another origin", status_code=403))
    token = request.cookies.get(COOKIE)
    if token:  # signed out until it would have expired; the longest allowed session bounds it
        sign_out(token, time.time() + 720 * 3600)
    response = Response(status_code=204)
    response.delete_cookie(
        COOKIE, path="/", secure=_https(request), httponly=True, samesite="strict"
    )
    return _no_store(response)


def routes() -> list[Route]:
    return [
        Route(SESSION_PATH, set_session, methods=["POST"]),
        Route(SIGNOUT_PATH, clear_session, methods=["POST"]),
    ]
