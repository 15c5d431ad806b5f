"""LIVE: the venue's cash, asked outside any transaction, fresh for a decision.

The rule: in LIVE the buying power pre-check of an opening trade needs what the venue says the
account may spend now (VALR's available ZAR) and its taker fee. A network call must never run
inside a database transaction, so the reads raise ``NeedVenue`` when they find LIVE without the
figure, and ``VenueCashSource.run`` asks the venue and runs the reads again with it. A decision
asks each time (``fresh``); a preview, the capacity or the sizing (they open nothing) may reuse
a figure up to ``VENUE_CASH_TTL_SECONDS`` old, so a page that refreshes itself does not spend
the API key's calls. PAPER never asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from helios.config import Settings
from helios.risk.decision_inputs import VenueCash

__all__ = ["VENUE_CASH_TTL_SECONDS", "NeedVenue", "VenueCash", "VenueCashSource"]

VENUE_CASH_TTL_SECONDS = 5.0  # how long a preview may reuse VALR's available ZAR
T = TypeVar("T")


class NeedVenue(Exception):
    """A LIVE decision needs the venue's cash, which is read outside any transaction."""

    def __init__(self, pair: str) -> None:
        super().__init__(pair)
        self.pair = pair


class VenueCashSource:
    """The venue's cash for a pair (``venue``: VALR's, None in PAPER), with a short cache."""

    def __init__(self, settings: Settings, venue: Callable[[str], VenueCash] | None) -> None:
        self._settings = settings
        self._venue = venue
        self._cache: dict[str, tuple[float, VenueCash]] = {}
        self._lock = threading.Lock()

    @property
    def can_ask(self) -> bool:
        """Whether there is a venue to ask (LIVE wiring)."""
        return self._venue is not None

    def run(
        self,
        venue: VenueCash | None,
        run: Callable[[VenueCash | None], T],
        *,
        fresh: bool = True,
    ) -> T:
        """``run`` with the venue's cash: in LIVE the reads ask for it (``NeedVenue``) and
        ``run`` goes again with it, read from VALR outside any transaction (``fresh``: asked
        now; else a figure up to ``VENUE_CASH_TTL_SECONDS`` old will do). PAPER never asks."""
        try:
            return run(venue)
        except NeedVenue as need:
            return run(self.venue_cash(need.pair, fresh=fresh))

    def venue_cash(self, pair: str, *, fresh: bool = True) -> VenueCash:
        """LIVE: VALR's available ZAR and its taker fee on ``pair`` (the buying power pre-check
        of an opening trade); a venue that cannot be asked gives ``available_zar`` None.
        ``fresh=False`` (previews, capacity, sizing: they open nothing) reuses a figure read in
        the last ``VENUE_CASH_TTL_SECONDS``, so a page that refreshes itself does not spend the
        API key's calls; a decision asks VALR each time."""
        if self._venue is None:
            return VenueCash(None, self._settings.paper_fee_pct, "no venue to ask")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(pair)
        if not fresh and cached is not None and now - cached[0] < VENUE_CASH_TTL_SECONDS:
            return cached[1]
        found = self._venue(pair)
        if found.available_zar is not None:
            with self._lock:
                self._cache[pair] = (now, found)
        return found
