"""Market feeds: where prices come from. One interface, four implementations.

- ``sim``: the embedded default. A seeded, correlated random walk with realistic daily
  volatilities and correlations (GARCH(1,1)-like volatility clustering in the daily history, one
  volatility regime shared by all pairs so the correlations come out as configured; Gaussian
  steps intraday), so a new install trades offline. Clearly simulated: never for LIVE.
- ``replay``: candles from CSV files ``<REPLAY_PATH>/<PAIR>.csv`` (timestamp, open, high, low,
  close, volume), one bar per poll after a history backfill; a bar played is observed when it is
  played (the poll's time), so the price-age rules treat the replay as the live market.
- ``valr``: VALR's public market data over ``requests``: the all-pairs market summary for the
  latest prices, ``/v1/public/{pair}/buckets`` for minute and daily history, within VALR's
  public rate limit (``CallBudget``).
- ``manual``: nothing arrives by itself; tests and notebooks call ``hx.market.set_price``.

A feed returns candle tables; ``MarketData.pull`` and ``MarketData.backfill``
(in ``helios.market.store``) validate and store them. Feeds never write to the database.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

from helios.config import FeedKind, Settings
from helios.errors import HeliosError, InvalidInput
from helios.market.candles import DAY, infer_interval, validate_candles

log = logging.getLogger(__name__)
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


# --- sim -------------------------------------------------------------------------------------
# Annualised volatility and a ZAR starting price per base asset; pairs not listed get defaults.
SIM_ASSETS: dict[str, tuple[float, float]] = {
    "BTC": (0.55, 1_200_000.0),  # the seed's R1,200,000 BTC
    "ETH": (0.68, 60_000.0),
    "SOL": (0.95, 2_500.0),
    "XRP": (0.85, 40.0),
    "USDT": (0.08, 18.0),
}
SIM_DEFAULT_ASSET = (0.80, 100.0)
# Daily log-return correlations, close to 2023-2024 Binance data (shared/data README).
SIM_CORRELATIONS: dict[frozenset[str], float] = {
    frozenset({"BTC", "ETH"}): 0.81,
    frozenset({"BTC", "SOL"}): 0.74,
    frozenset({"ETH", "SOL"}): 0.74,
    frozenset({"BTC", "XRP"}): 0.60,
    frozenset({"ETH", "XRP"}): 0.60,
    frozenset({"SOL", "XRP"}): 0.58,
}
SIM_DEFAULT_CORRELATION = 0.6
SECONDS_PER_YEAR = 365 * DAY


def base_asset(pair: str) -> str:
    return pair[:-3] if pair.endswith("ZAR") else pair


def sim_correlation(pairs: list[str]) -> np.ndarray:
    """The correlation matrix the simulation uses for ``pairs`` (positive definite)."""
    n = len(pairs)
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = base_asset(pairs[i]), base_asset(pairs[j])
            if "USDT" in (a, b):
                rho = 0.05
            else:
                rho = SIM_CORRELATIONS.get(frozenset({a, b}), SIM_DEFAULT_CORRELATION)
            matrix[i, j] = matrix[j, i] = rho
    values, vectors = np.linalg.eigh(matrix)
    if values.min() < 1e-6:  # repair to the nearest positive definite correlation matrix
        values = np.clip(values, 1e-6, None)
        matrix = vectors @ np.diag(values) @ vectors.T
        scale = np.sqrt(np.diag(matrix))
        matrix = matrix / np.outer(scale, scale)
    return matrix


@dataclass
class _SimState:
    now: datetime
    prices: np.ndarray
    # (bar open epoch, pair index) -> {open, high, low, close} of the bars still open
    bars: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    fresh: bool = True  # no step walked yet: the first poll walks one second to show a price


class SimFeed(MarketFeed):
    """Correlated random walk over all configured pairs at once (so correlations are real)."""

    kind = FeedKind.SIM
    partial_bars = True  # after a restart the walk sees only the rest of the current minute

    def __init__(self, settings: Settings, latest: dict[str, float] | None = None) -> None:
        self.pairs = list(settings.pairs)
        self.seed = settings.sim_seed
        self.vols = np.array(
            [SIM_ASSETS.get(base_asset(p), SIM_DEFAULT_ASSET)[0] for p in self.pairs]
        )
        self.start_prices = np.array(
            [SIM_ASSETS.get(base_asset(p), SIM_DEFAULT_ASSET)[1] for p in self.pairs]
        )
        self.cholesky = np.linalg.cholesky(sim_correlation(self.pairs))
        self._latest = latest or {}
        self._state: _SimState | None = None
        self._history_cache: dict[str, pd.DataFrame] = {}

    # history: GARCH(1,1)-like daily returns ending at the starting price yesterday
    def daily_history(self, now: datetime, days: int) -> dict[str, pd.DataFrame]:
        """``days`` daily candles per pair, the last one yesterday (UTC), closing at the start
        price. Deterministic for a seed.

        Volatility clusters as in a GARCH(1,1) (alpha 0.08, beta 0.90) through one variance
        multiplier ``h`` (mean 1) shared by every pair and driven by their average squared
        shock: crypto calms down and panics together, and a shared regime keeps the correlation
        of the returns equal to the configured one (a separate variance path per pair would
        shrink it by about 0.02).
        """
        rng = np.random.default_rng(self.seed)
        n = len(self.pairs)
        daily_vol = self.vols / math.sqrt(365)
        alpha, beta = 0.08, 0.90
        h = 1.0
        shocks = rng.standard_normal((days, n)) @ self.cholesky.T
        returns = np.empty((days, n))
        for t in range(days):
            variance = daily_vol**2 * h
            returns[t] = np.sqrt(variance) * shocks[t] - 0.5 * variance
            h = (1 - alpha - beta) + alpha * h * float(np.mean(shocks[t] ** 2)) + beta * h
        # closes end at the start price on the last day
        log_closes = np.log(self.start_prices) - returns[::-1].cumsum(axis=0)[::-1] + returns
        closes = np.exp(log_closes)
        opens = np.vstack([closes[0] * np.exp(-returns[0]), closes[:-1]])
        intraday = np.abs(rng.standard_normal((days, n))) * daily_vol * 0.6
        highs = np.maximum(opens, closes) * np.exp(intraday)
        lows = np.minimum(opens, closes) * np.exp(
            -np.abs(rng.standard_normal((days, n))) * daily_vol * 0.6
        )
        last_day = pd.Timestamp(now).floor("D") - pd.Timedelta(days=1)
        stamps = pd.date_range(end=last_day, periods=days, freq="D", tz="UTC")
        volumes = np.abs(rng.normal(1000, 200, (days, n)))
        history = {}
        for i, pair in enumerate(self.pairs):
            history[pair] = pd.DataFrame(
                {
                    "timestamp": stamps,
                    "open": np.round(opens[:, i], 2),
                    "high": np.round(highs[:, i], 2),
                    "low": np.round(lows[:, i], 2),
                    "close": np.round(closes[:, i], 2),
                    "volume": np.round(volumes[:, i] / max(closes[-1, i], 1) * 1e4, 6),
                }
            )
        return history

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        if days <= 0:
            return []
        if pair not in self._history_cache:
            self._history_cache = self.daily_history(now, days)
        return [Batch(pair, DAY, self._history_cache[pair])]

    def _ensure_state(self, now: datetime) -> _SimState:
        if self._state is None:
            prices = np.array(
                [float(self._latest.get(p, self.start_prices[i])) for i, p in enumerate(self.pairs)]
            )
            self._state = _SimState(now=now, prices=prices)
            self._rng = np.random.default_rng([self.seed, int(now.timestamp())])
        return self._state

    def set_latest(self, latest: dict[str, float]) -> None:
        """Continue the walk from these prices (the database's, after a restart)."""
        self._latest = latest
        self._state = None

    def advance(self, now: datetime) -> dict[int, dict[str, dict[str, float]]]:
        """Walk from the last step to ``now`` in one-second steps (at most an hour of them).

        Returns the minute bars touched: {bar open epoch: {pair: {open, high, low, close}}}.
        """
        state = self._ensure_state(now)
        elapsed = (now - state.now).total_seconds()
        steps = int(min(max(elapsed, 0.0), 3600.0))
        if steps == 0 and state.fresh:
            steps = 1
        if elapsed < 0:  # the clock went back: wait until it passes the last step again
            return {}
        step_vol = self.vols / math.sqrt(SECONDS_PER_YEAR)
        touched: dict[int, dict[str, dict[str, float]]] = {}
        start_epoch = int(now.timestamp()) - steps
        if steps:
            shocks = self._rng.standard_normal((steps, len(self.pairs))) @ self.cholesky.T
            paths = state.prices * np.exp(np.cumsum(shocks * step_vol - 0.5 * step_vol**2, axis=0))
            for k in range(steps):
                epoch = start_epoch + k + 1
                bar = epoch - epoch % MINUTE
                for i, pair in enumerate(self.pairs):
                    key = (bar, i)
                    price = float(paths[k, i])
                    current = state.bars.get(key)
                    if current is None:
                        opening = float(state.prices[i]) if k == 0 else float(paths[k - 1, i])
                        current = {
                            "open": opening,
                            "high": max(opening, price),
                            "low": min(opening, price),
                            "close": price,
                        }
                        state.bars[key] = current
                    else:
                        current["high"] = max(current["high"], price)
                        current["low"] = min(current["low"], price)
                        current["close"] = price
                    touched.setdefault(bar, {})[pair] = current
            state.prices = paths[-1]
            state.fresh = False
        state.now = now
        # forget closed bars older than the newest one
        newest = max((bar for bar, _ in state.bars), default=None)
        state.bars = {key: value for key, value in state.bars.items() if key[0] == newest}
        return touched

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        # one walk serves all pairs: advance once per "now", then hand out per pair
        if getattr(self, "_polled_at", None) != now:
            self._touched = self.advance(now)
            self._polled_at = now
        bars = sorted(self._touched.items())
        rows = [
            {
                "timestamp": datetime.fromtimestamp(bar, UTC),
                "open": round(v[pair]["open"], 2),
                "high": round(v[pair]["high"], 2),
                "low": round(v[pair]["low"], 2),
                "close": round(v[pair]["close"], 2),
                "volume": 0.0,
            }
            for bar, v in bars
            if pair in v
        ]
        if not rows:
            return []
        return [Batch(pair, MINUTE, pd.DataFrame(rows), observed=now)]


# --- replay ----------------------------------------------------------------------------------
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


# --- valr ------------------------------------------------------------------------------------
SUMMARY_PATH = "/v1/public/marketsummary"


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


class ManualFeed(MarketFeed):
    """No prices arrive by themselves: call ``hx.market.set_price`` or ``hx.market.ingest``."""

    kind = FeedKind.MANUAL

    def backfill(self, pair: str, now: datetime, days: int) -> list[Batch]:
        return []

    def poll(self, pair: str, now: datetime, last: dict[int, datetime]) -> list[Batch]:
        return []


def build_feed(settings: Settings, latest: dict[str, float] | None = None) -> MarketFeed:
    if settings.market_feed is FeedKind.SIM:
        return SimFeed(settings, latest)
    if settings.market_feed is FeedKind.REPLAY:
        return ReplayFeed(settings)
    if settings.market_feed is FeedKind.VALR:
        return ValrPublicFeed(settings)
    return ManualFeed()
