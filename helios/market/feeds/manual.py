"""The ``manual`` feed: nothing arrives by itself.

The rule it owns: prices come only from ``hx.market.set_price`` or ``hx.market.ingest`` (tests,
notebooks), so a poll or a backfill returns nothing.
"""

from __future__ import annotations

from datetime import datetime

from helios.config import FeedKind
from helios.market.feeds.base import Batch, MarketFeed


class ManualFeed(MarketFeed):
    """No prices arrive by themselves: call ``hx.market.set_price`` or ``hx.market.ingest``."""

    kind = FeedKind.MANUAL

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        return []

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        return []
