"""Market feeds: where prices come from. One interface, four implementations, one module each.

- ``sim`` (``feeds.sim``): the embedded default. A seeded, correlated random walk with realistic
  daily volatilities and correlations, so a new install trades offline. Clearly simulated: never
  for LIVE.
- ``replay`` (``feeds.replay``): candles from CSV files ``<REPLAY_PATH>/<PAIR>.csv``, one bar per
  poll after a history backfill; a bar played is observed when it is played.
- ``valr`` (``feeds.valr_public``): VALR's public market data over ``requests``, within VALR's
  public rate limit (``feeds.call_budget.CallBudget``).
- ``manual`` (``feeds.manual``): nothing arrives by itself; tests and notebooks call
  ``hx.market.set_price``.

``feeds.base`` holds the interface (``MarketFeed``, ``Batch``, ``FeedError``) and
``feeds.build.build_feed`` picks the feed the settings name. A feed returns candle tables;
``MarketData.pull`` and ``MarketData.backfill`` (in ``helios.market.store``) validate and store
them. Feeds never write to the database.

Every name importers use stays importable from ``helios.market.feeds``.
"""

from helios.market.feeds.base import MINUTE, Batch, FeedError, MarketFeed
from helios.market.feeds.build import build_feed
from helios.market.feeds.call_budget import CallBudget
from helios.market.feeds.manual import ManualFeed
from helios.market.feeds.replay import ReplayFeed
from helios.market.feeds.sim import (
    SECONDS_PER_YEAR,
    SIM_ASSETS,
    SIM_CORRELATIONS,
    SIM_DEFAULT_ASSET,
    SIM_DEFAULT_CORRELATION,
    SimFeed,
    base_asset,
    sim_correlation,
)
from helios.market.feeds.valr_public import SUMMARY_PATH, ValrPublicFeed

__all__ = [
    "MINUTE",
    "SECONDS_PER_YEAR",
    "SIM_ASSETS",
    "SIM_CORRELATIONS",
    "SIM_DEFAULT_ASSET",
    "SIM_DEFAULT_CORRELATION",
    "SUMMARY_PATH",
    "Batch",
    "CallBudget",
    "FeedError",
    "ManualFeed",
    "MarketFeed",
    "ReplayFeed",
    "SimFeed",
    "ValrPublicFeed",
    "base_asset",
    "build_feed",
    "sim_correlation",
]
