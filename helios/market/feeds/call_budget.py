"""``CallBudget``: at most N calls in ANY window of W seconds (a sliding log of call times).

The rule it owns: VALR allows 30 public calls a minute per IP; the valr feed asks this budget
before every call, and optional calls (history buckets) may use only a share of it so the
required ones (the price summary) always find room.
"""

from __future__ import annotations

from datetime import datetime


class CallBudget:
    """At most ``limit`` calls in any ``window`` seconds: the times of the calls made are kept
    (a sliding window), so the rule holds for every window, not only for clock minutes.

    ``optional_limit``: calls marked optional may use at most this many of the ``limit``, so
    the rest stays free for the required ones (the price summary). (A token bucket holding N
    tokens and refilled at N a minute would admit 2N calls in a window that starts with a full
    bucket: more than VALR's "30 a minute". Spending it at half the rate would be safe but
    wastes half the budget; the log is exact.)
    """

    def __init__(self, limit: int, window: float = 60.0, optional_limit: int | None = None):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.optional_limit = limit if optional_limit is None else max(0, optional_limit)
        self._calls: list[tuple[float, bool]] = []  # (time, optional), oldest first

    def _prune(self, now: float) -> None:
        cutoff = now - self.window
        while self._calls and self._calls[0][0] <= cutoff:
            self._calls.pop(0)

    def used(self, now: datetime | float, *, optional: bool = False) -> int:
        """Calls in the window ending at ``now`` (only the optional ones when asked)."""
        moment = now.timestamp() if isinstance(now, datetime) else float(now)
        self._prune(moment)
        return sum(1 for _at, kind in self._calls if kind or not optional)

    def take(self, now: datetime | float, *, optional: bool = False) -> bool:
        """Record a call at ``now`` if the budget allows it; False (nothing recorded) if not."""
        moment = now.timestamp() if isinstance(now, datetime) else float(now)
        self._prune(moment)
        if len(self._calls) >= self.limit:
            return False
        if optional and sum(1 for _at, kind in self._calls if kind) >= self.optional_limit:
            return False
        self._calls.append((moment, optional))
        return True
