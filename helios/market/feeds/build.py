"""``build_feed``: the feed the settings choose (``MARKET_FEED``: sim, replay, valr, manual).

The rule it owns: one place maps a ``FeedKind`` to its feed; an unknown kind gets the manual
feed (nothing arrives by itself) rather than a made-up price.
"""

from __future__ import annotations

from helios.config import FeedKind, Settings
from helios.market.feeds.base import MarketFeed
from helios.market.feeds.manual import ManualFeed
from helios.market.feeds.replay import ReplayFeed
from helios.market.feeds.sim import SimFeed
from helios.market.feeds.valr_public import ValrPublicFeed


def build_feed(settings: Settings, latest: dict[str, float] | None = None) -> MarketFeed:
    if settings.market_feed is FeedKind.SIM:
        return SimFeed(settings, latest)
    if settings.market_feed is FeedKind.REPLAY:
        return ReplayFeed(settings)
    if settings.market_feed is FeedKind.VALR:
        return ValrPublicFeed(settings)
    return ManualFeed()
