"""Bar time: a bar's open time on the epoch-aligned UTC grid, and no price stamped in the future.

Every candle of an interval opens on a multiple of its length since the epoch (UTC), so a bar is
found by flooring a time (``floor_time``), the same way in every process. A price's time may not
be ahead of the clock beyond ``MAX_CLOCK_SKEW`` (``not_ahead``): a price stamped in the future
would look fresh to every age rule until the clock caught up with it. Pure: no database.
"""

from __future__ import annotations

from datetime import datetime

from helios.clock import MAX_CLOCK_SKEW, ensure_utc
from helios.errors import InvalidInput

MINUTE = 60


def floor_time(when: datetime, seconds: int) -> datetime:
    """The open time of the ``seconds``-long bar containing ``when`` (UTC, epoch-aligned)."""
    epoch = int(ensure_utc(when).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=ensure_utc(when).tzinfo)


def not_ahead(when: datetime, now: datetime, field: str, what: str = "a time") -> None:
    """A price's time may not be ahead of the clock (beyond ``MAX_CLOCK_SKEW``): a price stamped
    in the future would look fresh to every age rule until the clock caught up with it (naive
    local times read as UTC are the usual cause)."""
    if when > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            field,
            when.isoformat(),
            f"{what} not later than now ({now.isoformat()}) + {MAX_CLOCK_SKEW.seconds} s "
            "(naive times are UTC)",
        )
