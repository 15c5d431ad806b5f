"""``create_app()``: the FastAPI application over one ``Helios``.

    uvicorn --factory api.app:create_app        (or ``helios api``)

One ``Helios`` per app: built from the environment at start (``helios.connect()``: migrations,
reconcile) and closed at shutdown, or the one passed in (tests, notebooks), which stays its
owner's to close. While it runs, an app that built its own ``Helios`` also watches the scheduler
(``hx.alerts.start_watch``: the "scheduler silent" alert, issue 17), stopped at shutdown; over a
passed-in one it does so only when asked (``watch=True``). Handlers are plain functions
(FastAPI runs them in its thread pool); each calls helios and nothing else. Errors:
``api.errors``; who may write: ``api.security``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import helios
from api import errors
from api.limits import BodyLimits
from api.routers import control, health, locks, portfolio, risk, upstream
from api.security import WriteGate, write_routes
from helios.redact import configured_secrets, secret_pattern

log = logging.getLogger("helios.api")
# a check in progress may be delivering; past this the daemon thread is left to the exit
WATCH_JOIN_SECONDS = 5.0

DESCRIPTION = """
The Helios portfolio manager's REST API: the seed's endpoints, over the same library as the
dashboard, the scheduler and the CLI.

**Units**: money in ZAR as exact decimal strings; prices in ZAR per coin; fractions as numbers
(0.02 = 2%); times ISO 8601 with their zone (UTC in answers).

**Writes** (every POST/PUT that changes something) need `Authorization: Bearer
<HELIOS_API_TOKEN>`; without that setting on the server the API is read-only (403). The dry runs
(`/api/portfolio/risk/check`, `/api/portfolio/optimizer/weights`) store nothing and need no
token.

**Errors** are JSON `{"error", "message", "field", "value", "allowed"/"rule"}`: 422 invalid
input (nothing changed), 404 no such position, 409 refused in the present state (`reason`;
nothing changed but the record of the refusal), 401/403 no write access (checked before the body
is read), 413 a body over `API_MAX_BODY_BYTES` (64 KiB), 408 a body not received within
`API_BODY_TIMEOUT_SECONDS` (10 s), 503 `database_unavailable` with `Retry-After` and
`still_works` (the scheduler's journal close-out), 500 with a reference to the server log.

**Health**: `GET /api/health` (no token): 200 while the database answers (`status` ok, or
degraded when the scheduler's heartbeat or a price is stale), 503 when it does not.
"""


def _bind(app: FastAPI, hx: helios.Helios) -> None:
    app.state.hx = hx
    token = hx.settings.helios_api_token
    app.state.token = token.get_secret_value().encode() if token is not None else None
    # values never to appear in a response (scrubbed from echoed input): helios.redact's list
    app.state.secrets = secret_pattern(configured_secrets(hx.settings))
    app.state.max_body_bytes = hx.settings.api_max_body_bytes
    app.state.body_timeout_seconds = hx.settings.api_body_timeout_seconds
    if token is None:
        log.warning(
            "HELIOS_API_TOKEN is not set: the API serves reads only and refuses every write (403)"
        )
    else:
        log.info("API writes need the bearer token (HELIOS_API_TOKEN)")


def create_app(hx: helios.Helios | None = None, *, watch: bool | None = None) -> FastAPI:
    """The API over ``hx`` (default: ``helios.connect()`` at start, closed at shutdown).

    ``watch``: run the scheduler watch while the app runs (default: when the app builds its own
    ``Helios``; a passed-in one is its owner's, who may already watch with it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = hx is None
        instance = helios.connect() if hx is None else hx
        _bind(app, instance)
        log.info("API on %s, mode %s", instance.db.display_url, instance.controls.trading_mode())
        stop = threading.Event()
        watcher = instance.alerts.start_watch(stop) if (owned if watch is None else watch) else None
        try:
            yield
        finally:
            stop.set()
            if watcher is not None:
                watcher.join(timeout=WATCH_JOIN_SECONDS)
            if owned:
                instance.close()

    app = FastAPI(
        title="Helios Portfolio Manager API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    if hx is not None:  # usable at once, also by a TestClient that is not a context manager
        _bind(app, hx)
    errors.install(app)
    routers = [module.router for module in (portfolio, risk, control, upstream, health, locks)]
    # add_middleware wraps: the last added runs first
    app.add_middleware(BodyLimits)
    app.add_middleware(WriteGate, writes=write_routes(r for api in routers for r in api.routes))
    app.add_middleware(errors.ServerErrors)
    for router in routers:
        app.include_router(router)
    return app
