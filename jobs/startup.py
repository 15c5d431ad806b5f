"""The scheduler's start: what it reads from the database before it builds anything, read once
the database answers (``jobs.scheduler.run``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

import helios
from helios.config import TradingMode
from helios.db.outage import database_failure, is_unavailable
from helios.market.feeds import MarketFeed

log = logging.getLogger("helios.scheduler")
START_RETRY_FIRST, START_RETRY_MOST = 0.5, 5.0  # seconds between start-up tries, doubling
_T = TypeVar("_T")


def start_reads(hx: helios.Helios) -> tuple[TradingMode, MarketFeed]:
    """What the start reads from the database: the mode, the installation id (remembered for
    the process; the close-out's book watch needs it) and the feed from the prices stored."""
    mode = hx.controls.trading_mode()
    hx.positions.installation_id()
    return mode, hx.build_feed()


def once_the_database_answers(
    hx: helios.Helios, start: Callable[[], _T], stop: threading.Event | None
) -> _T:
    """``start``'s reads, made once the database answers. The database answered the connect,
    so one that is unavailable now (a server restarting, a lock held) is an outage, which the
    running jobs ride out; the start waits for it the same way rather than ending the process (a
    standby gone for good): 0.5 s between tries, doubling to 5 s, a warning each time and an
    error from the tenth. Anything else (a mistake such as a missing table, a bug) propagates:
    waiting would not mend it. ``start`` has no effect beyond its reads, so a try that failed
    leaves nothing behind."""
    waiting = stop or threading.Event()
    delay, tries = START_RETRY_FIRST, 0
    while True:
        try:
            return start()
        except SQLAlchemyError as exc:
            if not is_unavailable(exc):
                raise
            tries += 1
            level = logging.ERROR if tries >= 10 else logging.WARNING
            failure = database_failure(exc, hx.settings.database_url) or str(exc)
            log.log(level, "starting (try %d): %s; trying again in %.1f s", tries, failure, delay)
            if waiting.wait(delay):
                raise
            delay = min(delay * 2, START_RETRY_MOST)
