"""The ``valr`` feed: VALR's public market data (no keys) over ``requests``.

The all-pairs market summary gives the latest prices, ``/v1/public/{pair}/buckets`` the minute
and daily history. The rule it owns: every call stays within VALR's public rate limit
(``CallBudget``; the summary is required, buckets optional), and a failed call is a
``FeedError``, never a price.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import requests

from helios.config import FeedKind, Settings
from helios.market.candles import DAY
from helios.market.feeds.base import MINUTE, Batch, FeedError, MarketFeed
from helios.market.feeds.call_budget import CallBudget

log = logging.getLogger("helios.market.feeds")  # one logger for every feed, as before the split
SUMMARY_PATH = "/v1/public/marketsummary"


class ValrPublicFeed(MarketFeed):
    """VALR's public market data (no keys), within VALR's public rate limit.

    - **Latest prices**: one ``GET /v1/public/marketsummary`` per poll for every pair at once
      (``lastTradedPrice``; ``markPrice`` when no trade price is given). Each price extends the
      current minute bar the feed keeps per pair (open = first price seen in the minute unless
      VALR's bucket told it, high/low widened, close = the latest), so the stop monitor sees it.
    - **Minute history**: ``GET /v1/public/{pair}/buckets`` (60 s buckets, from the newest stored
      minute; 30 minutes the first time, 4 hours at most) once a minute per pair, replacing the
      bars built from the summaries with VALR's own open, high, low, close and volume.
    - **Daily history** (``backfill``): ``buckets`` of 86400 s, 300 a page, newest page first.
    - **Rate limit**: VALR allows 30 calls a minute per IP on ``/v1/public/*``; the feed makes at
      most ``VALR_FEED_CALLS_PER_MINUTE`` in any 60 s (``CallBudget``). The summary is required;
      buckets are optional and may use only what the summaries of a minute leave (the budget
      less one summary per ``PRICE_INTERVAL_SECONDS``, at most half of it reserved). When the
      optional share is spent, the bucket calls are skipped (the summary still comes) and a
      backfill stops paginating: the pages left are fetched by later polls, one per pair per
      poll while the share allows, instead of in a burst.
    - A failed call raises ``FeedError``; a failed summary fails the poll of every pair (no
      bucket is asked for then). The summary itself is skipped only when the whole budget is
      spent (a poll faster than the budget allows): nothing arrives that poll, without an error.
    - VALR's WebSocket (``wss://api.valr.com/ws/trade``) is not used: polling keeps one code
      path for every feed, and the summary every few seconds is enough for stops on minute bars.
    """

    kind = FeedKind.VALR
    MAX_BUCKETS = 300  # VALR's limit per request
    MINUTE_REFRESH_SECONDS = 60.0  # minute buckets of a pair at most this often
    FIRST_MINUTES = timedelta(minutes=30)
    MOST_MINUTES = timedelta(hours=4)

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.base_url = settings.valr_base_url
        self.timeout = settings.valr_timeout_seconds
        self.http = session or requests.Session()
        self.http.headers.update({"Accept": "application/json", "User-Agent": "helios-pm"})
        limit = settings.valr_feed_calls_per_minute
        summaries = min(math.ceil(60.0 / settings.price_interval_seconds), limit // 2)
        self.budget = CallBudget(limit, 60.0, optional_limit=limit - summaries)
        self._summary_at: datetime | None = None
        self._summary: dict[str, Any] | FeedError | None = None  # None: no budget for it
        self._served: set[str] = set()  # pairs the current summary was handed to
        self._minutes_at: dict[str, datetime] = {}
        self._bars: dict[str, dict[str, Any]] = {}  # pair -> the current minute bar
        self._pending: dict[str, tuple[datetime, datetime, datetime]] = {}  # backfill left

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = self.base_url + path
        try:
            response = self.http.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise FeedError(f"VALR {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            detail = response.text[:200]
            try:
                body = response.json()
                if isinstance(body, dict) and "message" in body:
                    detail = f"code {body.get('code')}: {body['message']}"
            except ValueError:
                pass
            if response.status_code == 429:
                limited = response.headers.get("x-valr-ratelimited", "")
                detail = f"rate limited (x-valr-ratelimited: {limited or 'absent'}); {detail}"
            raise FeedError(f"VALR {path}: HTTP {response.status_code} ({detail})")
        try:
            return response.json()
        except ValueError as exc:
            raise FeedError(f"VALR {path}: response is not JSON") from exc

    # --- the market summary ---------------------------------------------------------------
    def _summary_for(self, pair: str, now: datetime) -> dict[str, Any] | None:
        """{pair: price or the problem with its entry} from one summary call per poll (a poll
        asks for every pair at the same ``now``; a pair asked for again starts the next poll);
        None when the budget had no room."""
        if self._summary_at != now or pair in self._served:
            self._summary_at = now
            self._served = set()
            if not self.budget.take(now):
                log.warning("VALR public call budget spent: no market summary this poll")
                self._summary = None
            else:
                try:
                    self._summary = self._parse_summary(self._get(SUMMARY_PATH, {}))
                except FeedError as exc:
                    self._summary = exc
        self._served.add(pair)
        if isinstance(self._summary, FeedError):
            raise FeedError(str(self._summary))
        return self._summary

    @staticmethod
    def _parse_summary(items: Any) -> dict[str, Any]:
        if not isinstance(items, list):
            raise FeedError(f"VALR {SUMMARY_PATH}: expected a list, got {type(items).__name__}")
        prices: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            pair = str(item.get("currencyPair") or item.get("currencyPairSymbol") or "").upper()
            if not pair:
                continue
            value = item.get("lastTradedPrice")
            if value in (None, "", "0"):
                value = item.get("markPrice")
            try:
                number = Decimal(str(value))
            except (InvalidOperation, ValueError):
                number = Decimal(0)
            if not number.is_finite() or number <= 0:
                prices[pair] = f"VALR {SUMMARY_PATH}: malformed item for {pair} ({value!r})"
            else:
                prices[pair] = number
        return prices

    def _summary_bar(self, pair: str, now: datetime, value: Decimal) -> pd.DataFrame:
        """The current minute bar of ``pair`` extended by a summary price."""
        minute = pd.Timestamp(now).floor("min").to_pydatetime()
        bar = self._bars.get(pair)
        if bar is None or bar["timestamp"] != minute:
            bar = {
                "timestamp": minute,
                "open": value,
                "high": value,
                "low": value,
                "close": value,
                "volume": Decimal(0),
            }
        else:
            bar["high"], bar["low"] = max(bar["high"], value), min(bar["low"], value)
            bar["close"] = value
        self._bars[pair] = bar
        return pd.DataFrame([{key: str(v) if key != "timestamp" else v for key, v in bar.items()}])

    def _seed_bar(self, pair: str, table: pd.DataFrame, now: datetime) -> None:
        """After a bucket fetch: VALR's bar of the current minute is where summaries continue."""
        minute = pd.Timestamp(now).floor("min")
        newest = table.iloc[-1]
        if pd.Timestamp(newest["timestamp"]) != minute:
            self._bars.pop(pair, None)
            return
        self._bars[pair] = {
            "timestamp": minute.to_pydatetime(),
            **{c: Decimal(str(newest[c])) for c in ("open", "high", "low", "close", "volume")},
        }

    # --- buckets --------------------------------------------------------------------------
    def _page(
        self, pair: str, period: int, start: datetime, window_end: datetime
    ) -> tuple[pd.DataFrame, datetime]:
        """One request: the buckets from ``start`` (or 300 buckets back) to ``window_end``, and
        where the next (older) page ends."""
        window_start = max(start, window_end - timedelta(seconds=period * self.MAX_BUCKETS))
        items = self._get(
            f"/v1/public/{pair}/buckets",
            {
                "periodSeconds": period,
                "startTime": int(window_start.timestamp()),
                "endTime": int(window_end.timestamp()),
                "limit": self.MAX_BUCKETS,
            },
        )
        if not isinstance(items, list):
            raise FeedError(f"VALR buckets for {pair}: expected a list, got {type(items)}")
        return self._to_frame(pair, items), window_start

    @staticmethod
    def _to_frame(pair: str, items: list[dict[str, Any]]) -> pd.DataFrame:
        if not items:
            return pd.DataFrame(columns=["timestamp", "open", "high", "low", "close", "volume"])
        try:
            table = pd.DataFrame(
                {
                    "timestamp": pd.to_datetime([item["startTime"] for item in items], utc=True),
                    **{
                        column: [str(item[column]) for item in items]
                        for column in ("open", "high", "low", "close", "volume")
                    },
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FeedError(f"VALR buckets for {pair}: malformed item ({exc})") from exc
        return table.sort_values("timestamp").reset_index(drop=True)

    @staticmethod
    def _combine(frames: list[pd.DataFrame], before: datetime | None = None) -> pd.DataFrame:
        frames = [frame for frame in frames if len(frame)]
        if not frames:
            return pd.DataFrame(columns=["timestamp", "open", "high", "low", "close", "volume"])
        table = pd.concat(frames).drop_duplicates("timestamp").sort_values("timestamp")
        if before is not None:
            table = table[table["timestamp"] < pd.Timestamp(before)]
        return table.reset_index(drop=True)

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        """Complete daily buckets of the last ``days`` days, newest page first, while the
        optional budget allows; the pages left come with later polls."""
        self._pending.pop(pair, None)
        if days <= 0:
            return []
        today = pd.Timestamp(now).floor("D").to_pydatetime()
        start = today - timedelta(days=days)
        frames, window_end = [], today
        while window_end > start:
            if not self.budget.take(now, optional=True):
                self._pending[pair] = (start, window_end, today)
                log.info(
                    "VALR backfill of %s: public call budget spent; the days before %s follow "
                    "with the next polls",
                    pair,
                    window_end.date(),
                )
                break
            frame, window_end = self._page(pair, DAY, start, window_end)
            frames.append(frame)
        table = self._combine(frames, before=today)  # only complete days
        return [Batch(pair, DAY, table)] if len(table) else []

    def _backfill_page(self, pair: str, now: datetime) -> Batch | None:
        """One more page of a backfill the budget cut short, if the optional share allows."""
        pending = self._pending.get(pair)
        if pending is None or not self.budget.take(now, optional=True):
            return None
        start, window_end, today = pending
        frame, window_end = self._page(pair, DAY, start, window_end)
        if window_end > start:
            self._pending[pair] = (start, window_end, today)
        else:
            del self._pending[pair]
        table = self._combine([frame], before=today)
        return Batch(pair, DAY, table) if len(table) else None

    def continue_from(self, previous: MarketFeed) -> None:
        """Keep counting the calls of the feed this one replaces (a scheduler that takes the lead
        builds a new feed): VALR's limit is per IP, not per feed object."""
        if isinstance(previous, ValrPublicFeed) and previous.base_url == self.base_url:
            self.budget = previous.budget

    @property
    def backfill_pending(self) -> dict[str, datetime]:
        """Pairs whose daily history is still being fetched: {pair: oldest day fetched}."""
        return {pair: window_end for pair, (_s, window_end, _t) in self._pending.items()}

    # --- the poll -------------------------------------------------------------------------
    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        summary = self._summary_for(pair, now)  # raises FeedError when the summary failed
        batches: list[Batch] = []
        fetched = False
        previous = self._minutes_at.get(pair)
        due = previous is None or (now - previous).total_seconds() >= self.MINUTE_REFRESH_SECONDS
        if due and self.budget.take(now, optional=True):
            self._minutes_at[pair] = now  # a failing pair is asked again a minute later
            newest = last.get(MINUTE)
            start = newest if newest is not None else now - self.FIRST_MINUTES
            start = max(start, now - self.MOST_MINUTES)
            table, _ = self._page(pair, MINUTE, start, now + timedelta(seconds=MINUTE))
            if len(table):
                batches.append(Batch(pair, MINUTE, table, observed=now))
                self._seed_bar(pair, table, now)
                fetched = True
        if not fetched and summary is not None:
            found = summary.get(pair)
            if found is None:
                raise FeedError(f"VALR {SUMMARY_PATH}: {pair} is not in the market summary")
            if isinstance(found, str):
                raise FeedError(found)
            batches.append(Batch(pair, MINUTE, self._summary_bar(pair, now, found), observed=now))
        page = self._backfill_page(pair, now)
        if page is not None:
            batches.append(page)
        return batches

    def close(self) -> None:
        self.http.close()
