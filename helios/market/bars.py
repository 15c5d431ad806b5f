"""Chart bars: which intervals a price chart offers and which range of bars it may ask for.

- A chart shows candles of 5m, 15m, 1h, 4h or 1d (``CHART_INTERVALS``), rolled up from the finer
  stored candles (``helios.market.rolled``); each bar opens on the epoch-aligned UTC grid of its
  interval (``bar_time.floor_time``), so the range starts at the open of the bar containing its
  start and every bar drawn is whole.
- At most ``MAX_BARS`` bars (a year of hourly bars fits; a year of 5-minute bars does not): more
  would not be seen on a screen and would only slow the page; the refusal names the interval
  that fits.
- The start must be before the end.

Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helios.clock import ensure_utc
from helios.errors import InvalidInput
from helios.market.bar_time import floor_time
from helios.market.candles import parse_interval

# label -> seconds, in the order a chart offers them
CHART_INTERVALS: dict[str, int] = {"5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
MAX_BARS = 10_000


@dataclass(frozen=True)
class BarRange:
    """The bars a chart reads: ``seconds`` long, opening at ``start`` (on the grid) up to before
    ``end``."""

    seconds: int
    start: datetime
    end: datetime

    @property
    def bars(self) -> int:
        return -(-int((self.end - self.start).total_seconds()) // self.seconds)


def chart_interval(value: int | str) -> int:
    """The interval of a chart in seconds: one of ``CHART_INTERVALS`` (``"1h"``, or 3600)."""
    allowed = ", ".join(CHART_INTERVALS)
    try:
        seconds = parse_interval(value)
    except InvalidInput:
        raise InvalidInput("interval", value, f"one of {allowed}") from None
    if seconds not in CHART_INTERVALS.values():
        raise InvalidInput("interval", value, f"one of {allowed}")
    return seconds


def bar_range(interval: int | str, start: datetime, end: datetime) -> BarRange:
    """The whole bars of ``interval`` covering [``start``, ``end``), refused when the start is
    not before the end or when they are more than ``MAX_BARS``."""
    seconds = chart_interval(interval)
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise InvalidInput(field, value, "a datetime (naive means UTC)")
    first, last = ensure_utc(start), ensure_utc(end)
    if first >= last:
        raise InvalidInput("start", first.isoformat(), f"a time before the end {last.isoformat()}")
    chosen = BarRange(seconds, floor_time(first, seconds), last)
    if chosen.bars > MAX_BARS:
        fits = [
            label
            for label, length in CHART_INTERVALS.items()
            if BarRange(length, floor_time(first, length), last).bars <= MAX_BARS
        ]
        raise InvalidInput(
            "interval",
            f"{value_label(seconds)} over {(last - first).days} days ({chosen.bars:,} bars)",
            f"at most {MAX_BARS:,} bars: choose {' or '.join(fits) or '1d'} or a shorter range",
        )
    return chosen


def value_label(seconds: int) -> str:
    """``3600`` -> ``"1h"`` (the chart's own label for an interval)."""
    for label, length in CHART_INTERVALS.items():
        if length == seconds:
            return label
    return f"{seconds}s"
