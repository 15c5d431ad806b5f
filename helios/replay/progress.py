"""A replay's progress as a person sees it: how far, and how fast (pure but for the clock).

``hx.replay.run`` calls its progress callback after every step with the candles done and the
total; a terminal bar (``helios replay``) and the dashboard's bar both draw through
``ProgressMeter``, which says when to redraw (at most every ``every`` seconds, and always at the
end, so a fast run does not spend its time drawing) and the candles per second so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressReading:
    done: int
    total: int
    share: float  # 0..1
    rate: float  # candles per second since the meter started

    def text(self) -> str:
        return f"{self.done:,}/{self.total:,} candles  {self.rate:,.0f} candles/s"


class ProgressMeter:
    def __init__(self, every: float = 0.2, clock: Callable[[], float] = time.perf_counter):
        self._every = every
        self._clock = clock
        self._began = clock()
        self._shown: float | None = None

    def reading(self, done: int, total: int) -> ProgressReading | None:
        """The reading to draw now, or None when the last one is too recent to redraw."""
        now = self._clock()
        if done < total and self._shown is not None and now - self._shown < self._every:
            return None
        self._shown = now
        share = min(done / total, 1.0) if total else 1.0
        return ProgressReading(done, total, share, done / max(now - self._began, 1e-9))
