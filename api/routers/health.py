"""``GET /api/health``: which parts are up, for monitors and load balancers (no token).

The rule (the HTTP code says whether this API can serve; ``status`` says whether the whole is
well):

- **503**, ``status: "down"``, ``Retry-After``: the database does not answer (the same
  ``api.outage.is_unavailable`` as every other route); the scheduler and halt are then unknown
  (null), and ``still_works`` names the scheduler's journal close-out;
- **200**, ``status: "ok"``: the database answers, the leading scheduler's heartbeat is at most
  3 x ``HEARTBEAT_INTERVAL_SECONDS`` old (the console's "Scheduler running" rule), and every
  configured pair has a price observed at most ``PRICE_MAX_AGE_SECONDS`` ago (the age the
  opening pre-check accepts);
- **200**, ``status: "degraded"``: the database answers but the scheduler's heartbeat or a
  price is older than that (or missing): the API serves, trading does not run as it should.

A halt changes neither: it is the guardian at work, not a fault; ``halt`` reports it (with its
reason, cause, who and since) for a monitor that alerts on it. Ages are seconds on Helios's clock
since the heartbeat was written or the price observed at its source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

import helios
from api import outage
from api.deps import get_hx
from helios.heartbeat import beat_age, is_alive, last_beat, stale_after

router = APIRouter(tags=["health"])
Hx = Annotated[helios.Helios, Depends(get_hx)]
SCHEDULER = "scheduler"  # the leader's heartbeat row (jobs.scheduler)
T = TypeVar("T")


def _read(read: Callable[[], T]) -> T:
    """``read()``, once more if its pooled connection had died with a restarted server
    (SQLAlchemy then replaces the pool, so the second attempt gets a fresh connection)."""
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return read()


@router.get(
    "/api/health",
    summary="Which parts are up: database, scheduler heartbeat, price feed, halt (no token)",
    responses={
        200: {"description": "the database answers; status ok or degraded"},
        503: {"description": "the database does not answer (status down, Retry-After)"},
    },
)
def health(hx: Hx) -> JSONResponse:
    settings = hx.settings
    try:
        halt = _read(hx.controls.halt_state)
        beat = _read(lambda: last_beat(hx.db, SCHEDULER))
        prices = _read(hx.market.price_table)
    except SQLAlchemyError as exc:
        if not outage.is_unavailable(exc):
            raise
        down = {
            "status": "down",
            "database": {"up": False, "kind": hx.db.dialect, "error": "not answering"},
            "scheduler": {"up": None, "heartbeat_age_seconds": None},
            "feed": {"up": None, "age_seconds": None},
            "halt": {"halted": None},
            "retry_after_seconds": outage.RETRY_AFTER_SECONDS,
            "still_works": outage.still_works(settings),
        }
        return JSONResponse(down, status_code=503, headers=outage.retry_headers())
    now = hx.clock.now()

    interval = settings.heartbeat_interval_seconds
    scheduler = {
        "up": is_alive(beat, now, interval),
        "heartbeat_age_seconds": beat_age(beat, now),
        "stale_after_seconds": stale_after(interval),
    }

    max_age = settings.price_max_age_seconds
    ages: dict[str, float | None] = {
        row["pair"]: None if row["age_seconds"] is None else float(row["age_seconds"])
        for row in prices.to_dict("records")
    }
    missing = sorted(pair for pair, value in ages.items() if value is None)
    stale = sorted(pair for pair, value in ages.items() if value is not None and value > max_age)
    known = [value for value in ages.values() if value is not None]
    feed: dict[str, Any] = {
        "up": not missing and not stale,
        "source": settings.market_feed.value,
        "age_seconds": max(known) if known else None,  # the oldest pair's
        "stale_after_seconds": max_age,
        "stale_pairs": stale,
        "missing_pairs": missing,
        "pairs": ages,
    }
    body = {
        "status": "ok" if scheduler["up"] and feed["up"] else "degraded",
        "database": {"up": True, "kind": hx.db.dialect, "error": None},
        "scheduler": scheduler,
        "feed": feed,
        "halt": {
            "halted": halt.halted,
            "reason": halt.reason,
            "cause": halt.cause,
            "by": halt.by,
            "since": halt.since,
        },
        "checked_at": now,
    }
    return JSONResponse(jsonable_encoder(body))
