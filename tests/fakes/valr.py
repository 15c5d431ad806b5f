"""A fake VALR REST API: a real HTTP server on 127.0.0.1 that answers like api.valr.com.

It follows ``shared/VALR_API.md`` (sections 3 and 5) for the public market-data routes:

- ``GET /v1/public/{pair}/buckets``: query ``periodSeconds`` (60 default, 300, 900, 1800, 3600,
  21600, 86400), ``startTime``/``endTime`` in epoch **seconds** (both inclusive here, the harder
  case for a paginating client), ``skip``, ``limit`` (max 300). Items newest first with
  ``currencyPairSymbol``, ``bucketPeriodInSeconds``, ``startTime`` (ISO), ``open``, ``high``,
  ``low``, ``close``, ``volume``, ``quoteVolume`` (numbers as strings, as VALR sends them).
- ``GET /v1/public/{pair}/marketsummary``: one object built from the newest bucket.
- ``GET /v1/public/pairs``: one entry per pair the fake lists.
- an unknown pair gets ``400 {"code": -21, "message": "Unsupported Currency Pair"}``.

The prices are whatever the test puts in (``set_candles``). The fake has a clock (a ``Clock`` such
as the test's ``ManualClock``): buckets that open after "now" are not served, as the real exchange
does not know the future. Every request is recorded (``requests``, ``requests_to``) so a test can
check what the client asked for.

Failures are injected per request, first in first out (``fail_next``, ``rate_limit_next``,
``slow_next``, ``malformed_next``): the next N requests get that answer instead of the real one;
``after=K`` lets K requests through normally first (a failure on the second page of a backfill).

Growing it into the full fake VALR (signed private endpoints, balances, orders): add routes with
``add_route(method, pattern, handler)``; a handler receives the ``RecordedRequest`` (method, path,
query, headers, raw body) and the regex match, and returns a ``Reply``. Signature checking belongs
in such handlers (the raw body and the path with its query string are kept exactly as sent).

Use it as a context manager (``with FakeValr() as fake: fake.url``) or through a pytest fixture.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

MAX_LIMIT = 300
PERIODS = (60, 300, 900, 1800, 3600, 21600, 86400)
DEFAULT_PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR", "XRPZAR", "USDTZAR")
REAL_ANSWER = object()  # a Reply body meaning "what the route answers" (for slow replies)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string
    target: str  # the path with the query string, exactly as sent (what VALR signs)
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def int_param(self, name: str) -> int:
        return int(self.query[name])


@dataclass
class Reply:
    """What a route (or an injected fault) answers."""

    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    @classmethod
    def error(cls, status: int, code: int, message: str) -> Reply:
        """VALR's error body: ``{"code": <negative int>, "message": "..."}``."""
        return cls(status, {"code": code, "message": message})


Handler = Callable[[RecordedRequest, re.Match[str]], Reply]


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _text(value: Any) -> str:
    """A number as VALR writes it: a plain decimal string."""
    if isinstance(value, str):
        return value
    if isinstance(value, float | np.floating):
        return format(Decimal(repr(float(value))), "f")
    return format(Decimal(value), "f")


class FakeValr:
    """The fake exchange. ``start()``/``stop()`` or ``with``; ``url`` is the base URL."""

    def __init__(self, pairs: tuple[str, ...] = DEFAULT_PAIRS, clock: Any = None) -> None:
        self.pairs = list(pairs)
        self.clock = clock or _Clock()
        self.requests: list[RecordedRequest] = []
        self._candles: dict[tuple[str, int], pd.DataFrame] = {}
        self._faults: list[Reply | None] = []  # None: answer normally
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._released = threading.Event()  # wakes slow replies when the server stops
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_route("GET", r"/v1/public/pairs", self._pairs_route)
        self.add_route("GET", r"/v1/public/(?P<pair>[A-Za-z0-9]+)/buckets", self._buckets_route)
        self.add_route(
            "GET", r"/v1/public/(?P<pair>[A-Za-z0-9]+)/marketsummary", self._summary_route
        )

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeValr:
        fake = self

        class _RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll at most
            name="fake-valr",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeValr:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake VALR is not running: call start() or use 'with'")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- what the market looks like -----------------------------------------------------------
    def set_candles(self, pair: str, period_seconds: int, candles: pd.DataFrame) -> None:
        """The buckets of ``pair`` at ``period_seconds`` (columns timestamp, open, high, low,
        close, volume; timestamp = bucket open time, UTC). Replaces what was there."""
        if period_seconds not in PERIODS:
            raise ValueError(f"VALR has no {period_seconds}-second buckets ({PERIODS})")
        table = candles.loc[:, ["timestamp", "open", "high", "low", "close", "volume"]].copy()
        table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
        table = table.sort_values("timestamp").reset_index(drop=True)
        with self._lock:
            self._candles[(pair.upper(), period_seconds)] = table

    def candles(self, pair: str, period_seconds: int) -> pd.DataFrame:
        """The buckets the fake holds (as given to ``set_candles``)."""
        with self._lock:
            return self._candles[(pair.upper(), period_seconds)].copy()

    # --- injected failures (consumed one per request, first in first out) ---------------------
    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        after: int = 0,
    ) -> None:
        """The next ``count`` requests (after ``after`` normal answers) get ``status``; the
        default body is VALR's error JSON."""
        reply_body = body if body is not None else {"code": -1, "message": "Internal Server Error"}
        self._push(count, Reply(status, reply_body, dict(headers or {})), after)

    def rate_limit_next(self, count: int = 1, *, after: int = 0) -> None:
        """429 with ``x-valr-ratelimited: true``, as VALR answers above its rate limits."""
        reply = Reply(
            429, {"code": -429, "message": "Rate limited"}, {"x-valr-ratelimited": "true"}
        )
        self._push(count, reply, after)

    def slow_next(self, count: int = 1, seconds: float = 5.0, *, after: int = 0) -> None:
        """The next ``count`` requests get their real answer ``seconds`` late (a client
        timeout)."""
        self._push(count, Reply(200, REAL_ANSWER, delay_seconds=seconds), after)

    def malformed_next(
        self, count: int = 1, body: bytes = b"<html>502 Bad Gateway</html>", *, after: int = 0
    ) -> None:
        """The next ``count`` requests get HTTP 200 with a body that is not JSON."""
        self._push(count, Reply(200, body, {"Content-Type": "text/html"}), after)

    def _push(self, count: int, reply: Reply, after: int = 0) -> None:
        with self._lock:
            self._faults.extend([None] * after + [reply] * count)

    # --- inspection ---------------------------------------------------------------------------
    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path is ``path`` (query string not included)."""
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- routing ------------------------------------------------------------------------------
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose whole path matches ``pattern`` with ``handler``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=method,
            path=parts.path,
            target=http.path,
            query={key: values[-1] for key, values in parse_qs(parts.query).items()},
            headers={key.lower(): value for key, value in http.headers.items()},
            body=http.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests.append(request)
            fault = self._faults.pop(0) if self._faults else None
        reply = fault if fault is not None else self._route(request)
        if reply.delay_seconds and self._released.wait(reply.delay_seconds):
            return  # the server is stopping: drop the connection
        if reply.body is REAL_ANSWER:
            reply = self._route(request)
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            http.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for key, value in headers.items():
                http.send_header(key, value)
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _route(self, request: RecordedRequest) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, match)
        return Reply.error(404, -1, f"Not Found: {request.method} {request.path}")

    # --- public routes ------------------------------------------------------------------------
    def _pair_or_error(self, pair: str) -> tuple[str, Reply | None]:
        symbol = pair.upper()
        if symbol not in self.pairs:
            return symbol, Reply.error(400, -21, "Unsupported Currency Pair")
        return symbol, None

    def _pairs_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        items = [
            {
                "symbol": pair,
                "baseCurrency": pair[:-3],
                "quoteCurrency": pair[-3:],
                "shortName": f"{pair[:-3]}/{pair[-3:]}",
                "active": True,
                "minBaseAmount": "0.00001",
                "maxBaseAmount": "9",
                "minQuoteAmount": "10",
                "maxQuoteAmount": "5000000",
                "tickSize": "1",
                "baseDecimalPlaces": "8",
                "marginTradingAllowed": False,
                "currencyPairType": "SPOT",
            }
            for pair in self.pairs
        ]
        return Reply(200, items, {"cache-control": "max-age=60,public"})

    def _buckets_route(self, request: RecordedRequest, match: re.Match[str]) -> Reply:
        pair, error = self._pair_or_error(match["pair"])
        if error:
            return error
        try:
            period = int(request.query.get("periodSeconds", "60"))
            limit = int(request.query.get("limit", str(MAX_LIMIT)))
            skip = int(request.query.get("skip", "0"))
            start = int(request.query["startTime"]) if "startTime" in request.query else None
            end = int(request.query["endTime"]) if "endTime" in request.query else None
        except ValueError:
            return Reply.error(400, -11, "Invalid Request")
        if period not in PERIODS or not 0 < limit <= MAX_LIMIT or skip < 0:
            return Reply.error(400, -11, "Invalid Request")
        now = math.floor(self.clock.now().timestamp())
        with self._lock:
            table = self._candles.get((pair, period))
        if table is None:
            return Reply(200, [])
        epochs = table["timestamp"].map(lambda ts: int(ts.timestamp()))
        keep = epochs <= now
        if start is not None:
            keep &= epochs >= start
        if end is not None:
            keep &= epochs <= end
        chosen = table[keep].iloc[::-1].iloc[skip : skip + limit]  # newest first
        items = [
            {
                "currencyPairSymbol": pair,
                "bucketPeriodInSeconds": period,
                "startTime": row.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "open": _text(row.open),
                "high": _text(row.high),
                "low": _text(row.low),
                "close": _text(row.close),
                "volume": _text(row.volume),
                "quoteVolume": _text(Decimal(_text(row.volume)) * Decimal(_text(row.close))),
            }
            for row in chosen.itertuples(index=False)
        ]
        return Reply(200, items)

    def _summary_route(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        pair, error = self._pair_or_error(match["pair"])
        if error:
            return error
        now = pd.Timestamp(self.clock.now())
        with self._lock:  # the finest period the fake holds for the pair
            tables = [table for (p, _), table in sorted(self._candles.items()) if p == pair]
        seen = [table[table["timestamp"] <= now] for table in tables]
        seen = [table for table in seen if len(table)]
        if not seen:
            return Reply.error(404, -111, "Market summary not found")
        last = seen[0].iloc[-1]
        close = Decimal(_text(last["close"]))
        return Reply(
            200,
            {
                "currencyPair": pair,
                "askPrice": _text(close + 1),
                "bidPrice": _text(close - 1),
                "lastTradedPrice": _text(close),
                "previousClosePrice": _text(last["open"]),
                "baseVolume": _text(last["volume"]),
                "quoteVolume": _text(Decimal(_text(last["volume"])) * close),
                "highPrice": _text(last["high"]),
                "lowPrice": _text(last["low"]),
                "created": now.to_pydatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "changeFromPrevious": "0.00",
                "markPrice": _text(close),
            },
            {"cache-control": "max-age=10,public"},
        )


def random_walk_candles(
    start: datetime,
    count: int,
    period_seconds: int,
    start_price: float,
    annual_vol: float = 0.6,
    seed: int = 7,
) -> pd.DataFrame:
    """``count`` consistent OHLCV buckets from ``start`` (a seeded log-normal walk, 2 decimals)."""
    rng = np.random.default_rng(seed)
    step_vol = annual_vol * math.sqrt(period_seconds / (365 * 86400))
    closes = start_price * np.exp(np.cumsum(rng.normal(0.0, step_vol, count)))
    opens = np.concatenate([[start_price], closes[:-1]])
    wiggle = np.abs(rng.normal(0.0, step_vol / 2, (2, count)))
    highs = np.maximum(opens, closes) * np.exp(wiggle[0])
    lows = np.minimum(opens, closes) * np.exp(-wiggle[1])
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=count, freq=f"{period_seconds}s", tz="UTC"),
            "open": np.round(opens, 2),
            "high": np.round(highs, 2),
            "low": np.round(lows, 2),
            "close": np.round(closes, 2),
            "volume": np.round(rng.uniform(0.1, 5.0, count), 8),
        }
    )
