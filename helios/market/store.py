"""Market data in the database: candles, the latest price per pair, return series.

Every process reads the market from here, so the scheduler, the dashboard and a notebook see the
same prices. Feeds and ``ingest`` write; everything else reads.

``MarketData`` (``hx.market``) composes the market's concepts, each in its own module: bar time
(``bar_time``: the epoch-aligned grid, no price ahead of the clock), writing candles
(``writes``), the daily roll-up (``rollup``: intraday candles also roll up into the daily candle
of their UTC day, so daily returns, volatility and correlation stay current while the market
runs), observed prices (``prices``: the latest price, the price ticks), the history epoch
(``history_epoch``), candle tables and returns (``series``) and a chart's candles rolled up
from the stored ones (``bars``: the intervals and range a chart may ask for; ``rolled``: the
roll-up in SQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Candle, LatestPrice, PriceTick
from helios.errors import InvalidInput
from helios.market.bar_time import MINUTE, floor_time, not_ahead
from helios.market.bars import bar_range
from helios.market.candles import (
    DAY,
    MAX_CANDLE_VALUE,
    SUPPORTED_INTERVALS,
    CandleRow,
    parse_interval,
)
from helios.market.feeds import FeedError, MarketFeed
from helios.market.history_epoch import HISTORY_EPOCH_KEY, bump_history_epoch
from helios.market.polls import Polled, checked_rows, store_polled
from helios.market.prices import latest_prices, price_ticks
from helios.market.rolled import rolled_candles
from helios.market.series import candles_frame, close_returns
from helios.market.write_plan import Moment, Stored
from helios.market.writes import write_candle_batches, write_candles, write_moments
from helios.money import positive
from helios.money import price as to_price

# Deprecated (one release): the names below other than MarketData were imported from here; they
# live in the modules named above (bar_time, candles, history_epoch, prices, series): import them
# from there.
__all__ = [
    "DAY",
    "HISTORY_EPOCH_KEY",
    "MINUTE",
    "MarketData",
    "bump_history_epoch",
    "candles_frame",
    "floor_time",
    "latest_prices",
    "price_ticks",
]


# The newest bar's open time of each interval a candle can have (``check_interval`` refuses the
# others): a max per (pair, interval), which both databases answer from the end of the index;
# a GROUP BY over the pair's bars went through every one of them (25 ms for 106k on PostgreSQL).
_NEWEST_PER_INTERVAL = select(
    *(
        select(func.max(Candle.ts))
        .where(Candle.pair == bindparam("pair"), Candle.interval_seconds == seconds)
        .scalar_subquery()
        .label(f"newest_{seconds}")
        for seconds in SUPPORTED_INTERVALS
    )
)


class MarketData:
    """``hx.market``: prices and candles shared through the database."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    # --- validation helpers -------------------------------------------------------------
    @property
    def pairs(self) -> list[str]:
        return list(self._settings.pairs)

    def check_pair(self, pair: Any, field: str = "pair") -> str:
        if not isinstance(pair, str) or pair.upper() not in self._settings.pairs:
            raise InvalidInput(field, pair, f"one of the configured pairs {self._settings.pairs}")
        return pair.upper()

    # --- writing ------------------------------------------------------------------------
    def ingest(
        self,
        pair: str,
        candles: pd.DataFrame,
        interval: int | str | None = None,
        source: str = "ingest",
        observed: datetime | None = None,
    ) -> int:
        """Store a candle table (columns timestamp, open, high, low, close, volume).

        The interval is inferred from the timestamps unless given. Existing candles with the same
        pair, interval and timestamp are replaced. Returns the number of candles written.
        ``observed``: when the newest close was seen at its source, for a table that is the live
        market (a feed of one's own); default: history, as old as its newest bar
        (``write_candles``), so ingesting history never makes an old price look fresh.
        """
        if observed is not None and not isinstance(observed, datetime):
            raise InvalidInput("observed", observed, "a datetime (naive means UTC)")
        when = ensure_utc(observed) if observed is not None else None
        return self._store(pair, candles, interval, source, observed=when)

    def _store(
        self,
        pair: str,
        candles: pd.DataFrame,
        interval: int | str | None,
        source: str,
        *,
        observed: datetime | None = None,
    ) -> int:
        """Check (``polls.checked_rows``) and write in one transaction, as a poll of one pair
        (``polls.store_polled``)."""
        pair = self.check_pair(pair)
        seconds, rows = checked_rows(candles, interval, self._clock.now(), observed)
        batch = Polled(pair, seconds, rows, observed)
        return store_polled(self._db, self._clock, [batch], source, merge=False).get(pair, 0)

    def write_candles(
        self,
        session: Session,
        pair: str,
        seconds: int,
        rows: list[CandleRow],
        source: str,
        observed: datetime | None = None,
        *,
        merge: bool = False,
        tick: Decimal | None = None,
    ) -> int:
        """Upsert validated rows inside the caller's transaction (feeds use this directly);
        see ``helios.market.writes.write_candles``."""
        return write_candles(
            session, self._clock, pair, seconds, rows, source, observed, merge=merge, tick=tick
        )

    def write_candle_batches(
        self,
        session: Session,
        seconds: int,
        batches: Mapping[str, list[CandleRow]],
        source: str,
        observed: datetime | None = None,
    ) -> dict[str, int]:
        """``write_candles`` for every pair of one moment in the same few statements; see
        ``helios.market.writes.write_candle_batches``."""
        return write_candle_batches(session, self._clock, seconds, batches, source, observed)

    def write_moments(
        self,
        session: Session,
        seconds: int,
        moments: Sequence[Moment],
        source: str,
        held: Stored | None = None,
    ) -> dict[str, int]:
        """Several moments' writes as one, the same rows as each written at its instant; see
        ``helios.market.writes.write_moments`` (a replay writes its bars behind with it, and
        holds what it wrote: ``held``)."""
        return write_moments(session, seconds, source, moments, held)

    def set_price(self, pair: str, price: Any, ts: datetime | None = None) -> Decimal:
        """Set the price of a pair at ``ts`` (default: now), as a trade would.

        Updates the one-minute candle containing ``ts`` (and the day's candle) so stop monitors
        see the high and low, and the latest price. For tests and notebooks (``manual`` feed).
        """
        pair = self.check_pair(pair)
        if isinstance(price, np.generic):  # a value taken out of pandas or numpy
            price = price.item()
        value = to_price(positive(price, "price", maximum=MAX_CANDLE_VALUE))
        if value <= 0:
            raise InvalidInput("price", price, "a number > 0 with at most 8 decimal places")
        if ts is not None and not isinstance(ts, datetime):
            raise InvalidInput("ts", ts, "a datetime (naive means UTC)")
        when = ensure_utc(ts) if ts is not None else self._clock.now()
        not_ahead(when, self._clock.now(), "ts")
        bar = floor_time(when, MINUTE)
        with self._db.write() as session:
            candle = session.scalars(
                select(Candle).where(
                    Candle.pair == pair, Candle.interval_seconds == MINUTE, Candle.ts == bar
                )
            ).one_or_none()
            if candle is None:
                row = CandleRow(bar, value, value, value, value, Decimal(0))
            else:
                # a price from earlier in the bar than the latest one seen keeps the bar's close
                latest = session.get(LatestPrice, pair)
                if latest is not None and latest.ts > when and floor_time(latest.ts, MINUTE) == bar:
                    close = candle.close
                else:
                    close = value
                row = CandleRow(
                    bar,
                    candle.open,
                    max(candle.high, value),
                    min(candle.low, value),
                    close,
                    candle.volume,
                )
            self.write_candles(session, pair, MINUTE, [row], "manual", observed=when, tick=value)
        return value

    # --- feeds --------------------------------------------------------------------------
    def backfill(self, feed: MarketFeed, days: int) -> dict[str, int]:
        """Give every pair at least ``days`` daily candles of history from ``feed`` (pairs that
        already have them are left alone). Returns candles written per pair."""
        now = self._clock.now()
        written: dict[str, int] = {}
        for pair in self._settings.pairs:
            if self.history_days(pair) >= days:
                continue
            for batch in feed.backfill(pair, now, days):
                if len(batch.candles):
                    written[pair] = written.get(pair, 0) + self.ingest(
                        pair, batch.candles, batch.interval, source=feed.kind.value
                    )
        return written

    def pull(self, feed: MarketFeed) -> dict[str, int]:
        """One poll of ``feed`` for every pair, stored as one moment (``polls.store_polled``:
        one read of the newest bars, one write transaction). Returns candles per pair.

        A pair whose feed call fails, or whose candles are refused, does not stop the others:
        they are stored (and that pair's batches before the refused one), then the failures
        are raised as one ``FeedError`` so the caller records it.
        """
        now = self._clock.now()
        pairs = list(self._settings.pairs)
        newest = self.newest_candle_times_of(pairs)
        polled: list[Polled] = []
        failures: list[str] = []
        for pair in pairs:
            try:
                for batch in feed.poll(pair, now, newest[pair]):
                    if len(batch.candles):
                        seconds, rows = checked_rows(
                            batch.candles, batch.interval, self._clock.now(), batch.observed
                        )
                        polled.append(Polled(pair, seconds, rows, batch.observed))
            except (FeedError, InvalidInput) as exc:
                failures.append(f"{pair}: {exc}")
        try:
            written = store_polled(
                self._db, self._clock, polled, feed.kind.value, merge=feed.partial_bars
            )
        except InvalidInput as exc:  # re-checked at the write (a clock that stepped back)
            raise FeedError("; ".join([*failures, f"the poll's write: {exc}"])) from None
        if failures:
            raise FeedError("; ".join(failures))
        return written

    def newest_candle_times(self, pair: str) -> dict[int, datetime]:
        """{interval seconds: open time of the newest stored candle} for ``pair``: one seek of
        the (pair, interval, ts) index per supported interval (``_NEWEST_PER_INTERVAL``), not
        a pass over every bar the pair has stored (a feed asks at every poll)."""
        return self.newest_candle_times_of([pair])[pair]

    def newest_candle_times_of(self, pairs: Iterable[str]) -> dict[str, dict[int, datetime]]:
        """``newest_candle_times`` of each of ``pairs``, read in one transaction."""
        newest: dict[str, dict[int, datetime]] = {}
        with self._db.read() as session:
            for pair in pairs:
                row = session.execute(_NEWEST_PER_INTERVAL, {"pair": pair}).one()
                newest[pair] = {
                    seconds: ensure_utc(ts)
                    for seconds, ts in zip(SUPPORTED_INTERVALS, row, strict=True)
                    if ts is not None
                }
        return newest

    def prune_intraday(self, older_than: datetime | None = None) -> int:
        """Delete intraday candles older than the retention (daily candles are kept) and the
        price ticks older than theirs. Returns the candles deleted."""
        cutoff = older_than or (
            self._clock.now() - timedelta(days=self._settings.intraday_retention_days)
        )
        ticks_cutoff = self._clock.now() - timedelta(
            hours=self._settings.price_tick_retention_hours
        )
        with self._db.write() as session:
            result = session.execute(
                delete(Candle).where(Candle.interval_seconds < DAY, Candle.ts < cutoff)
            )
            session.execute(delete(PriceTick).where(PriceTick.ts < ticks_cutoff))
            return int(result.rowcount or 0)

    # --- reading ------------------------------------------------------------------------
    def latest_price(self, pair: str) -> Decimal | None:
        """The last known price of ``pair`` in ZAR, or None if there is none yet."""
        pair = self.check_pair(pair)
        with self._db.read() as session:
            latest = session.get(LatestPrice, pair)
            return latest.price if latest else None

    def latest_prices(self) -> dict[str, Decimal]:
        """``{pair: price}`` for every pair that has a price."""
        with self._db.read() as session:
            return latest_prices(session)

    def price_table(self) -> pd.DataFrame:
        """One row per configured pair: price, observed at, received at, source, age (s)."""
        now = self._clock.now()
        with self._db.read() as session:
            found = {row.pair: row for row in session.scalars(select(LatestPrice))}
        records = []
        for pair in self._settings.pairs:
            row = found.get(pair)
            records.append(
                {
                    "pair": pair,
                    "price": row.price if row else None,
                    "observed_at": row.ts if row else None,
                    "received_at": row.received_at if row else None,
                    "source": row.source if row else None,
                    # since it was observed at its source (what the price-age rules measure)
                    "age_seconds": (now - row.ts).total_seconds() if row else None,
                }
            )
        return pd.DataFrame.from_records(records)

    def candles(
        self,
        pair: str,
        interval: int | str = "1d",
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Candles of ``pair`` (columns timestamp, open, high, low, close, volume as floats for
        analysis; the exact values stay in the database). ``limit`` keeps the newest rows."""
        pair = self.check_pair(pair)
        seconds = parse_interval(interval)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0
        ):
            raise InvalidInput("limit", limit, "a whole number > 0")
        query = select(Candle).where(Candle.pair == pair, Candle.interval_seconds == seconds)
        if start is not None:
            query = query.where(Candle.ts >= ensure_utc(start))
        if end is not None:
            query = query.where(Candle.ts <= ensure_utc(end))
        query = query.order_by(Candle.ts.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as session:
            rows = list(session.scalars(query))
        rows.reverse()
        return candles_frame(rows)

    def chart_candles(
        self, pair: str, interval: int | str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        """Candles of ``pair`` for a price chart: ``interval`` one of 5m, 15m, 1h, 4h, 1d, the
        whole bars covering [``start``, ``end``) (at most ``bars.MAX_BARS``), rolled up in SQL
        from the finer stored candles (``helios.market.rolled``); floats, oldest first."""
        pair = self.check_pair(pair)
        bars = bar_range(interval, start, end)
        with self._db.read() as session:
            return rolled_candles(session, pair, bars)

    def returns(
        self,
        pair: str,
        interval: int | str = "1d",
        lookback: int | None = None,
        kind: str = "log",
        end: datetime | None = None,
    ) -> pd.Series:
        """Close-to-close returns (``kind`` 'log' or 'simple') indexed by the bar open time;
        ``end`` leaves out bars opening after it (e.g. today's unfinished day)."""
        if kind not in ("log", "simple"):
            raise InvalidInput("kind", kind, "'log' or 'simple'")
        if lookback is not None and (
            isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1
        ):
            raise InvalidInput("lookback", lookback, "a whole number of returns >= 1")
        frame = self.candles(
            pair, interval, end=end, limit=None if lookback is None else lookback + 1
        )
        return close_returns(frame, kind, pair)

    def returns_frame(
        self,
        pairs: Iterable[str] | None = None,
        interval: int | str = "1d",
        lookback: int | None = None,
    ) -> pd.DataFrame:
        """Aligned log returns of several pairs (rows where every pair has a return)."""
        chosen = list(pairs) if pairs is not None else self.pairs
        series = [self.returns(pair, interval, lookback) for pair in chosen]
        if not series:
            return pd.DataFrame()
        return pd.concat(series, axis=1, join="inner")

    def history_days(self, pair: str) -> int:
        """How many daily candles are stored for ``pair``."""
        return len(self.candles(pair, "1d"))
