"""Market data in the database: candles, the latest price per pair, return series.

Every process reads the market from here, so the scheduler, the dashboard and a notebook see the
same prices. Feeds and ``ingest`` write; everything else reads.

Intraday candles also roll up into the daily candle of their UTC day (high = max, low = min,
close = the newest close, volume adjusted by the change), so daily returns, volatility and
correlation stay current while the market runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from helios.clock import MAX_CLOCK_SKEW, Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Candle, LatestPrice, PriceTick, Setting
from helios.errors import InvalidInput
from helios.market.candles import (
    DAY,
    CandleRow,
    check_interval,
    infer_interval,
    parse_interval,
    to_rows,
    validate_candles,
)
from helios.market.feeds import FeedError, MarketFeed
from helios.money import positive
from helios.money import price as to_price
from helios.settings_store import SettingKey

MINUTE = 60
HISTORY_EPOCH_KEY = SettingKey.HISTORY_EPOCH


def floor_time(when: datetime, seconds: int) -> datetime:
    """The open time of the ``seconds``-long bar containing ``when`` (UTC, epoch-aligned)."""
    epoch = int(ensure_utc(when).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=ensure_utc(when).tzinfo)


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
        merge: bool = False,
        observed: datetime | None = None,
    ) -> int:
        """Validate and write in one transaction (``merge``: see ``write_candles``)."""
        pair = self.check_pair(pair)
        table = validate_candles(candles)
        seconds = parse_interval(interval) if interval is not None else infer_interval(table)
        check_interval(seconds, "interval (inferred from the timestamps)")
        misaligned = [ts for ts in table["timestamp"] if int(ts.timestamp()) % seconds != 0]
        if misaligned:
            raise InvalidInput(
                "candles.timestamp",
                misaligned[0].isoformat(),
                f"bar open times on a {seconds}-second grid (UTC)",
            )
        rows = to_rows(table)
        with self._db.write() as session:
            written = self.write_candles(
                session, pair, seconds, rows, source, observed, merge=merge
            )
        return written

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
        """Upsert validated rows inside the caller's transaction (feeds use this directly).

        ``observed`` is when the newest close was seen at its source (a live feed's poll time;
        ``set_price``'s time). Without it the rows are history: the newest close is stamped with
        the end of its bar, or with its open time while the bar is still open (the latest moment
        the table proves), so ingested history never makes an old price look fresh.
        ``merge``: a row extends the stored bar instead of replacing it (open kept, high = max,
        low = min, close = the row's), for a feed that may have seen only part of a bar (the
        simulation after a restart). ``tick``: the price observed (``set_price``); default: what
        the newest row shows that was not known before (a new high or low, its close), each
        recorded in ``price_ticks`` at ``observed``.
        """
        if not rows:
            return 0
        now = self._clock.now()
        _not_ahead(rows[-1].ts, now, "candles.timestamp", "a bar that opens")
        if observed is not None:
            _not_ahead(observed, now, "observed")
        existing = {
            candle.ts: candle
            for candle in session.scalars(
                select(Candle).where(
                    Candle.pair == pair,
                    Candle.interval_seconds == seconds,
                    Candle.ts >= rows[0].ts,
                    Candle.ts <= rows[-1].ts,
                )
            )
        }
        # the newest bar's range before this write: what the write adds to it was just observed
        prior = {ts: (candle.high, candle.low) for ts, candle in existing.items()}
        volume_change: dict[datetime, Decimal] = {}
        written: list[CandleRow] = []
        for incoming in rows:
            old = existing.get(incoming.ts)
            row = incoming
            if old is not None and merge:  # the stored bar, extended by what the feed saw
                row = CandleRow(
                    incoming.ts,
                    old.open,
                    max(old.high, incoming.high),
                    min(old.low, incoming.low),
                    incoming.close,
                    max(old.volume, incoming.volume),
                )
            written.append(row)
            if old is None:
                session.add(
                    Candle(
                        pair=pair,
                        interval_seconds=seconds,
                        ts=row.ts,
                        open=row.open,
                        high=row.high,
                        low=row.low,
                        close=row.close,
                        volume=row.volume,
                        source=source,
                    )
                )
                delta = row.volume
            else:
                delta = row.volume - old.volume
                old.open, old.high, old.low, old.close = row.open, row.high, row.low, row.close
                old.volume, old.source = row.volume, source
            if seconds < DAY:
                day = floor_time(row.ts, DAY)
                volume_change[day] = volume_change.get(day, Decimal(0)) + delta
        rows = written
        if seconds < DAY:
            new = {row.ts for row in rows if row.ts not in existing}
            self._roll_up_days(session, pair, rows, new, volume_change, source, seconds)
        last = rows[-1]
        if observed is None:  # history: as old as its newest bar proves
            end = last.ts + timedelta(seconds=seconds)
            observed = end if end <= now else last.ts
        self._set_latest(session, pair, last.close, observed, now, source)
        high, low = prior.get(last.ts, (None, None))
        seen = [tick] if tick is not None else _new_prices(last, high, low)
        session.add_all(PriceTick(pair=pair, ts=observed, price=value) for value in seen)
        if floor_time(rows[0].ts, DAY) < floor_time(now, DAY):
            bump_history_epoch(session, now)  # a completed day's candle changed
        session.flush()
        return len(rows)

    def _roll_up_days(
        self,
        session: Session,
        pair: str,
        rows: list[CandleRow],
        new: set[datetime],
        volume_change: dict[datetime, Decimal],
        source: str,
        rows_interval: int,
    ) -> None:
        """Fold intraday ``rows`` (``new``: the open times not stored before) into the daily
        candles of their UTC days."""
        by_day: dict[datetime, list[CandleRow]] = {}
        for row in rows:
            by_day.setdefault(floor_time(row.ts, DAY), []).append(row)
        for day, day_rows in by_day.items():
            daily = session.scalars(
                select(Candle).where(
                    Candle.pair == pair, Candle.interval_seconds == DAY, Candle.ts == day
                )
            ).one_or_none()
            high = max(row.high for row in day_rows)
            low = min(row.low for row in day_rows)
            if daily is None:
                session.add(
                    Candle(
                        pair=pair,
                        interval_seconds=DAY,
                        ts=day,
                        open=day_rows[0].open,
                        high=high,
                        low=low,
                        close=day_rows[-1].close,
                        volume=max(volume_change.get(day, Decimal(0)), Decimal(0)),
                        source=source,
                    )
                )
            else:
                daily.high = max(daily.high, high)
                daily.low = min(daily.low, low)
                # the bars of this interval stored for the day, these rows included (autoflush)
                oldest, newest, count = session.execute(
                    select(func.min(Candle.ts), func.max(Candle.ts), func.count()).where(
                        Candle.pair == pair,
                        Candle.interval_seconds == rows_interval,
                        Candle.ts >= day,
                        Candle.ts < day + timedelta(seconds=DAY),
                    )
                ).one()
                first = day_rows[0]
                new_today = sum(1 for row in day_rows if row.ts in new)
                # The open moves to a new bar that is earlier than every bar of the day stored
                # before (or that opens at midnight). A day that came from a daily source keeps
                # its open when its last minutes arrive, and so does a bar fetched again.
                earliest_new = first.ts in new and first.ts == ensure_utc(oldest)
                if first.ts == day or (earliest_new and int(count) > new_today):
                    daily.open = first.open
                if newest is None or day_rows[-1].ts >= ensure_utc(newest):
                    daily.close = day_rows[-1].close
                daily.volume = max(daily.volume + volume_change.get(day, Decimal(0)), Decimal(0))

    def _set_latest(
        self,
        session: Session,
        pair: str,
        close: Decimal,
        observed: datetime,
        now: datetime,
        source: str,
    ) -> None:
        latest = session.get(LatestPrice, pair)
        if latest is None:
            session.add(
                LatestPrice(pair=pair, price=close, ts=observed, received_at=now, source=source)
            )
        elif observed >= latest.ts:
            latest.price, latest.ts, latest.received_at, latest.source = (
                close,
                observed,
                now,
                source,
            )

    def set_price(self, pair: str, price: Any, ts: datetime | None = None) -> Decimal:
        """Set the price of a pair at ``ts`` (default: now), as a trade would.

        Updates the one-minute candle containing ``ts`` (and the day's candle) so stop monitors
        see the high and low, and the latest price. For tests and notebooks (``manual`` feed).
        """
        pair = self.check_pair(pair)
        if isinstance(price, np.generic):  # a value taken out of pandas or numpy
            price = price.item()
        value = to_price(positive(price, "price", maximum=Decimal("1e15")))
        if value <= 0:
            raise InvalidInput("price", price, "a number > 0 with at most 8 decimal places")
        if ts is not None and not isinstance(ts, datetime):
            raise InvalidInput("ts", ts, "a datetime (naive means UTC)")
        when = ensure_utc(ts) if ts is not None else self._clock.now()
        _not_ahead(when, self._clock.now(), "ts")
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
        """One poll of ``feed`` for every pair; stores what arrived. Returns candles per pair.

        A pair whose feed call fails does not stop the others; the first failure is raised
        after all pairs were tried, so the caller records it.
        """
        now = self._clock.now()
        written: dict[str, int] = {}
        failures: list[str] = []
        for pair in self._settings.pairs:
            try:
                batches = feed.poll(pair, now, self.newest_candle_times(pair))
                for batch in batches:
                    if len(batch.candles):
                        written[pair] = written.get(pair, 0) + self._store(
                            pair,
                            batch.candles,
                            batch.interval,
                            feed.kind.value,
                            merge=feed.partial_bars,
                            observed=batch.observed,
                        )
            except (FeedError, InvalidInput) as exc:
                failures.append(f"{pair}: {exc}")
        if failures:
            raise FeedError("; ".join(failures))
        return written

    def newest_candle_times(self, pair: str) -> dict[int, datetime]:
        """{interval seconds: open time of the newest stored candle} for ``pair``."""
        with self._db.read() as session:
            rows = session.execute(
                select(Candle.interval_seconds, func.max(Candle.ts))
                .where(Candle.pair == pair)
                .group_by(Candle.interval_seconds)
            ).all()
        return {int(interval): ensure_utc(ts) for interval, ts in rows if ts is not None}

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
        closes = frame.set_index("timestamp")["close"]
        series = np.log(closes).diff() if kind == "log" else closes.pct_change()
        return series.dropna().rename(pair)

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


def bump_history_epoch(session: Session, now: datetime) -> None:
    """Count a change to completed days' candles. Statistics fitted on completed days (the risk
    service's volatility and covariance) are current while this counter and the date stand."""
    row = session.get(Setting, HISTORY_EPOCH_KEY)
    if row is None:
        session.add(Setting(key=HISTORY_EPOCH_KEY, value="1", updated_at=now, updated_by="market"))
    else:
        row.value, row.updated_at = str(int(row.value) + 1), now


def _not_ahead(when: datetime, now: datetime, field: str, what: str = "a time") -> None:
    """A price's time may not be ahead of the clock (beyond ``MAX_CLOCK_SKEW``): a price stamped
    in the future would look fresh to every age rule until the clock caught up with it (naive
    local times read as UTC are the usual cause)."""
    if when > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            field,
            when.isoformat(),
            f"{what} not later than now ({now.isoformat()}) + {MAX_CLOCK_SKEW.seconds} s "
            "(naive times are UTC)",
        )


def _new_prices(row: CandleRow, high: Decimal | None, low: Decimal | None) -> list[Decimal]:
    """What a write of ``row`` observed that its stored bar (``high``/``low``, None: a new bar)
    did not show: a new high, a new low (or the whole range of a new bar), and the close."""
    seen = []
    if high is None or row.high > high:
        seen.append(row.high)
    if low is None or row.low < low:
        seen.append(row.low)
    seen.append(row.close)
    return list(dict.fromkeys(seen))  # each price once, in that order


def price_ticks(
    session: Session, pairs: Iterable[str], since: datetime, until: datetime
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """The prices observed per pair in (``since``, ``until``], oldest first."""
    found: dict[str, list[tuple[datetime, Decimal]]] = {}
    rows = session.execute(
        select(PriceTick.pair, PriceTick.ts, PriceTick.price)
        .where(PriceTick.pair.in_(list(pairs)), PriceTick.ts > since, PriceTick.ts <= until)
        .order_by(PriceTick.ts, PriceTick.id)
    )
    for pair, ts, value in rows:
        found.setdefault(pair, []).append((ensure_utc(ts), value))
    return found


_LATEST_PRICES = select(LatestPrice.pair, LatestPrice.price)


def latest_prices(session: Session) -> dict[str, Decimal]:
    """``{pair: price}`` of every pair that has a price (two columns, not whole rows)."""
    return {pair: value for pair, value in session.execute(_LATEST_PRICES)}


def candles_frame(rows: list[Candle]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime([row.ts for row in rows], utc=True),
            "open": [float(row.open) for row in rows],
            "high": [float(row.high) for row in rows],
            "low": [float(row.low) for row in rows],
            "close": [float(row.close) for row in rows],
            "volume": [float(row.volume) for row in rows],
        }
    )
