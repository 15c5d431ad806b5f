"""What every market feed is: the ``MarketFeed`` interface, the ``Batch`` of candles it returns
and the ``FeedError`` it raises.

The rule this module owns: a feed only RETURNS candle tables (``Batch``); ``MarketData.pull``
and ``MarketData.backfill`` (in ``helios.market.store``) validate and store them, so a feed never
writes to the database and any feed can stand in for another. A ``Batch`` says when its newest
close was observed (None for history) so history never looks fresh to the price-age rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from helios.config import FeedKind
from helios.errors import HeliosError

MINUTE = 60


class FeedError(HeliosError):
    """A feed could not deliver prices (network, HTTP error, bad payload, missing file)."""


@dataclass
class Batch:
    """Candles of one pair at one interval. ``observed``: when the newest close was seen at the
    source (a live poll: the poll's time); None for history, whose newest close is as old as its
    bar (the store then stamps it with the bar's end, so history never looks fresh)."""

    pair: str
    interval: int
    candles: pd.DataFrame
    observed: datetime | None = None


class MarketFeed(ABC):
    kind: FeedKind
    # True when the feed may have seen only part of a bar it reports (the simulation after a
    # restart): the store then extends the stored bar instead of replacing it.
    partial_bars: bool = False

    @abstractmethod
    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        """History for a pair that has fewer daily candles than needed."""

    @abstractmethod
    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        """New or updated candles since the last stored ones (``last``: interval -> newest ts)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""

    def continue_from(self, previous: MarketFeed) -> None:  # noqa: B027 (optional hook)
        """Take over what ``previous`` (the feed this one replaces) must hand on."""
