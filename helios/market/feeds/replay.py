"""The ``replay`` feed: candles from CSV files ``<REPLAY_PATH>/<PAIR>.csv`` (timestamp, open,
high, low, close, volume), one bar per poll after a history backfill.

The rule it owns: a bar played is observed when it is played (the poll's time), so the
price-age rules treat the replay as the live market; a missing or malformed file is a
``FeedError`` naming the file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from helios.config import FeedKind, Settings
from helios.errors import InvalidInput
from helios.market.candles import infer_interval, validate_candles
from helios.market.feeds.base import Batch, FeedError, MarketFeed


class ReplayFeed(MarketFeed):
    """Historical candles from ``<REPLAY_PATH>/<PAIR>.csv``, one bar per poll."""

    kind = FeedKind.REPLAY

    def __init__(self, settings: Settings) -> None:
        self.folder = Path(settings.replay_path)
        self.scale = float(settings.replay_price_scale)
        self.bars_per_poll = settings.replay_bars_per_poll
        self._tables: dict[str, tuple[int, pd.DataFrame]] = {}

    def table(self, pair: str) -> tuple[int, pd.DataFrame]:
        if pair not in self._tables:
            path = self.folder / f"{pair}.csv"
            if not path.is_file():
                raise FeedError(f"replay file {path} not found (REPLAY_PATH={self.folder})")
            try:
                raw = pd.read_csv(path)
            except (OSError, ValueError) as exc:
                raise FeedError(f"replay file {path} unreadable: {exc}") from exc
            try:
                table = validate_candles(raw, f"{path.name}")
            except InvalidInput as exc:
                raise FeedError(f"replay file {path}: {exc}") from exc
            for column in ("open", "high", "low", "close"):
                table[column] = pd.to_numeric(table[column]) * self.scale
            self._tables[pair] = (infer_interval(table), table)
        return self._tables[pair]

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        interval, table = self.table(pair)
        if days <= 0:
            return []
        end = table["timestamp"].iloc[0] + pd.Timedelta(days=days)
        history = table[table["timestamp"] < end]
        return [Batch(pair, interval, history)] if len(history) else []

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        interval, table = self.table(pair)
        newest = last.get(interval)
        upcoming = table if newest is None else table[table["timestamp"] > pd.Timestamp(newest)]
        upcoming = upcoming.head(self.bars_per_poll)
        # a replayed bar is the market as it plays: seen now, whatever the date it carries
        return [Batch(pair, interval, upcoming, observed=now)] if len(upcoming) else []
