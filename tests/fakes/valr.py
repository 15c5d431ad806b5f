"""A fake VALR REST API: a real HTTP server on 127.0.0.1 that answers like api.valr.com.

It follows ``shared/VALR_API.md`` (sections 2 to 5).

Public market-data routes (no keys):

- ``GET /v1/public/{pair}/buckets``: query ``periodSeconds`` (60 default, 300, 900, 1800, 3600,
  21600, 86400), ``startTime``/``endTime`` in epoch **seconds** (both inclusive here, the harder
  case for a paginating client), ``skip``, ``limit`` (max 300). Items newest first with
  ``currencyPairSymbol``, ``bucketPeriodInSeconds``, ``startTime`` (ISO), ``open``, ``high``,
  ``low``, ``close``, ``volume``, ``quoteVolume`` (numbers as strings, as VALR sends them).
- ``GET /v1/public/{pair}/marketsummary``: one object built from the newest bucket;
  ``GET /v1/public/marketsummary``: the same for every pair that has a bucket, in one array.
- ``GET /v1/public/pairs``: one entry per pair the fake lists (``set_pair_rules`` changes one).
- an unknown pair gets ``400 {"code": -21, "message": "Unsupported Currency Pair"}``.

The prices are whatever the test puts in (``set_candles``). The fake has a clock (a ``Clock`` such
as the test's ``ManualClock``): buckets that open after "now" are not served, as the real exchange
does not know the future. Every request is recorded (``requests``, ``requests_to``) so a test can
check what the client asked for; each records the fake clock's time it arrived (``at``), so a
test can count the calls in any window of simulated time.

Private routes (signed, one account; ``add_private_route`` adds more) check every request as
VALR does (API §2): the signature is recomputed over ``timestamp + VERB + path-with-query as sent
+ raw body + X-VALR-SUB-ACCOUNT-ID`` with the fake's secret. Refusals:

- no ``X-VALR-API-KEY``: 403 ``{"code": -11268, ...}``; an unknown key: 401 code -11250 (the
  code is the fake's own: VALR documents none);
- POST/PUT/PATCH (and DELETE with a body) without ``Content-Type: application/json``: 403;
- a timestamp that is not Unix milliseconds, or further than ``timestamp_window_seconds``
  (5 s) from the fake's ``auth_time()`` (the wall clock): 401 code -11253 with a message about
  the timestamp (VALR documents neither the window nor the answer);
- a wrong signature: 401 ``{"code": -11252, "message": "Request has an invalid signature"}``.

The account: ``balances`` (``set_balance``), the key's ``permissions`` (``["View access",
"Trade"]``; add ``"Withdraw"`` to test the checklist), ``is_sub_account``, ``margin_enabled``,
fees in percent (``maker_fee_pct``/``taker_fee_pct``; ``fees_available = False`` makes the fee
route 404). Routes: ``GET /v1/account/balances``, ``/v1/account/api-keys/current``,
``/v1/margin/account/status``, ``/v1/account/fees/trade``, ``POST /v1/orders/market``,
``GET /v1/orders/open``, ``/v1/orders/history``, ``/v1/orders/{pair}/orderid/{id}``,
``/v1/orders/{pair}/customerorderid/{id}``, ``/v1/orders/history/summary/orderid/{id}`` and
``.../customerorderid/{id}`` (the summaries only for completed orders).

Market orders: ``POST /v1/orders/market`` checks the body (JSON, ``side`` BUY/SELL, exactly one of
``baseAmount``/``quoteAmount`` as strings, ``customerOrderId`` ``[0-9A-Za-z-]{1,50}``, the pair
active, VALR's minimums: 400 -12007 below them), answers **202** ``{"id", "customerOrderId"}`` and
fills ``fill_delay_seconds`` (0.05 s) later at the pair's price (``set_price``, else the newest
bucket's close), with the taker fee charged as VALR does: a BUY pays it in the base asset it
receives, a SELL in ZAR. Balances move. It ends ``Failed`` (with ``failedReason``) on an
insufficient balance, a ``customerOrderId`` already used by an OPEN order, no price, or when a
test forced it (``fail_next_order``); ``partial_fill_next`` executes only part of one;
``place_resting_order`` puts an order on the book that stays open (``Placed``). An order
unknown (or not completed, for the summaries) gets ``unknown_order_reply``: 400
``{"code": -1, "message": "Invalid Order. "}``. ``orders_placed()`` counts the orders the fake
accepted; ``orders()`` lists them.

Failures are injected per request, first in first out (``fail_next``, ``rate_limit_next``,
``slow_next``, ``malformed_next``, ``drop_next``, ``accept_then_timeout_next``): the next N
requests get that answer instead of the real one; ``after=K`` lets K requests through normally
first (a failure on the second page of a backfill); ``method``/``path`` (a regex on the path)
aim a fault at some requests only (the others pass it by). ``process_first=True`` lets the route
act first (the order is placed) and then answers with the fault: VALR took the order but the
client hears an error, late, or nothing.

Use it as a context manager (``with FakeValr() as fake: fake.url``) or through a pytest fixture.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

MAX_LIMIT = 300
PERIODS = (60, 300, 900, 1800, 3600, 21600, 86400)
DEFAULT_PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR", "XRPZAR", "USDTZAR")
REAL_ANSWER = object()  # a Reply body meaning "what the route answers" (for slow replies)
# the documented test secret of API §2, and a made-up key in VALR's format (64 hex digits)
FAKE_API_SECRET = "4961b74efac86b25cce8fbe4c9811c4c7a787b7a5996660afcc2e287ad864363"
FAKE_API_KEY = "2bd7c3f4b0a5e6d1c8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1"
MARKET_ORDER_PATH = "/v1/orders/market"
COMPLETED = ("Filled", "Failed", "Cancelled", "Expired")
CUSTOMER_ORDER_ID = re.compile(r"^[0-9A-Za-z-]{1,50}$")
EIGHT = Decimal("1e-8")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string
    target: str  # the path with the query string, exactly as sent (what VALR signs)
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: datetime | None = None  # the fake clock's time when it arrived

    def int_param(self, name: str) -> int:
        return int(self.query[name])

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """What a route (or an injected fault) answers."""

    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    drop: bool = False  # close the connection without answering (after the delay)
    process_first: bool = False  # a fault: run the real route first, then answer this

    @classmethod
    def error(cls, status: int, code: int, message: str) -> Reply:
        """VALR's error body: ``{"code": <negative int>, "message": "..."}``."""
        return cls(status, {"code": code, "message": message})


@dataclass
class _Fault:
    reply: Reply | None  # None: a request let through (``after``)
    method: str | None = None
    path: re.Pattern[str] | None = None

    def matches(self, request: RecordedRequest) -> bool:
        if self.method is not None and self.method != request.method:
            return False
        return self.path is None or self.path.fullmatch(request.path) is not None


@dataclass
class FakeOrder:
    """An order on the fake exchange (numbers exact)."""

    order_id: str
    customer_order_id: str | None
    pair: str
    side: str  # BUY / SELL
    base_amount: Decimal | None
    quote_amount: Decimal | None
    allow_margin: bool
    created_at: datetime
    updated_at: datetime
    status: str = "Placed"
    failed_reason: str = ""
    executed_quantity: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    total: Decimal = Decimal(0)  # quote (ZAR) executed
    fee: Decimal = Decimal(0)
    fee_currency: str = ""
    fail_with: str | None = None  # decided at acceptance, applied when it settles
    fill_fraction: Decimal | None = None
    partial_status: str = "Cancelled"

    @property
    def is_open(self) -> bool:
        return self.status not in COMPLETED


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


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def valr_signature(secret: str, timestamp: str, verb: str, target: str, body: str, sub: str) -> str:
    """The fake's own signing (kept apart from the client's, so a test is not circular)."""
    text = timestamp + verb + target + body + sub
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


class FakeValr:
    """The fake exchange. ``start()``/``stop()`` or ``with``; ``url`` is the base URL."""

    def __init__(
        self,
        pairs: tuple[str, ...] = DEFAULT_PAIRS,
        clock: Any = None,
        *,
        api_key: str = FAKE_API_KEY,
        api_secret: str = FAKE_API_SECRET,
    ) -> None:
        self.pairs = list(pairs)
        self.clock = clock or _Clock()
        self.requests: list[RecordedRequest] = []
        self._candles: dict[tuple[str, int], pd.DataFrame] = {}
        self._faults: list[_Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._released = threading.Event()  # wakes slow replies when the server stops
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # --- the account (private routes) ---
        self.api_key = api_key
        self.api_secret = api_secret
        self.auth_time: Callable[[], float] = time.time  # what "now" is for timestamps
        self.timestamp_window_seconds = 5.0
        self.permissions: list[str] = ["View access", "Trade"]
        self.key_label = "helios-test"
        self.is_sub_account = False
        self.margin_enabled = False
        self.maker_fee_pct = Decimal("0.18")
        self.taker_fee_pct = Decimal("0.35")
        self.fees_available = True
        self.fill_delay_seconds = 0.05
        self.unknown_order_reply = Reply.error(400, -1, "Invalid Order. ")
        self._state = threading.RLock()
        self._balances: dict[str, Decimal] = {"ZAR": Decimal("1000000")}
        self._prices: dict[str, Decimal] = {}
        self._pair_rules: dict[str, dict[str, Any]] = {}
        self._orders: list[FakeOrder] = []
        self._order_fates: list[tuple[str | None, Decimal | None, str]] = []
        self._timers: list[threading.Timer] = []
        self.add_route("GET", r"/v1/public/pairs", self._pairs_route)
        self.add_route("GET", r"/v1/public/(?P<pair>[A-Za-z0-9]+)/buckets", self._buckets_route)
        self.add_route(
            "GET", r"/v1/public/(?P<pair>[A-Za-z0-9]+)/marketsummary", self._summary_route
        )
        self.add_route("GET", r"/v1/public/marketsummary", self._summaries_route)
        self._add_private_routes()

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

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

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
        with self._state:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
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

    def set_price(self, pair: str, price: Any) -> None:
        """The price market orders on ``pair`` fill at from now on (else the newest bucket's
        close)."""
        with self._state:
            self._prices[pair.upper()] = Decimal(str(price))

    def set_pair_rules(self, pair: str, **fields: Any) -> None:
        """Change what ``GET /v1/public/pairs`` says about ``pair`` (VALR's field names, e.g.
        ``active=False``, ``minBaseAmount="0.0001"``, ``marginTradingAllowed=True``)."""
        with self._state:
            self._pair_rules.setdefault(pair.upper(), {}).update(fields)

    def pair_rules(self, pair: str) -> dict[str, Any]:
        """The pair entry the fake serves (and enforces on orders)."""
        symbol = pair.upper()
        entry = {
            "symbol": symbol,
            "baseCurrency": symbol[:-3],
            "quoteCurrency": symbol[-3:],
            "shortName": f"{symbol[:-3]}/{symbol[-3:]}",
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
        with self._state:
            entry.update(self._pair_rules.get(symbol, {}))
        return entry

    # --- the account ----------------------------------------------------------------------------
    def set_balance(self, currency: str, amount: Any) -> None:
        with self._state:
            self._balances[currency.upper()] = Decimal(str(amount))

    def balance(self, currency: str) -> Decimal:
        with self._state:
            return self._balances.get(currency.upper(), Decimal(0))

    def orders(self) -> list[FakeOrder]:
        """Every order the fake accepted, oldest first (copies)."""
        with self._state:
            return [replace(order) for order in self._orders]

    def orders_placed(self, customer_order_id: str | None = None) -> int:
        """How many market orders the fake accepted (with that customerOrderId, if given)."""
        with self._state:
            return sum(
                1
                for order in self._orders
                if customer_order_id is None or order.customer_order_id == customer_order_id
            )

    def place_resting_order(
        self, pair: str, side: str, base_amount: Any, customer_order_id: str | None = None
    ) -> str:
        """An order that rests on the book (``Placed``, never filled: a limit order far from
        the market, as a person or another program might place). Balances do not move. Returns
        VALR's order id."""
        now = datetime.now(UTC)
        with self._state:
            order = FakeOrder(
                order_id=str(uuid.uuid4()),
                customer_order_id=customer_order_id,
                pair=pair.upper(),
                side=side.upper(),
                base_amount=Decimal(str(base_amount)),
                quote_amount=None,
                allow_margin=False,
                created_at=now,
                updated_at=now,
            )
            self._orders.append(order)
        return order.order_id

    def fail_next_order(self, reason: str = "Insufficient liquidity") -> None:
        """The next market order accepted ends ``Failed`` with ``reason``."""
        with self._state:
            self._order_fates.append((reason, None, "Cancelled"))

    def partial_fill_next(self, fraction: Any, status: str = "Cancelled") -> None:
        """The next market order executes only ``fraction`` of its amount (IOC: the rest is
        cancelled) and ends with ``status``."""
        with self._state:
            self._order_fates.append((None, Decimal(str(fraction)), status))

    def wait_settled(self, timeout: float = 5.0) -> None:
        """Wait until no order is waiting for its fill."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._state:
                if not any(order.is_open for order in self._orders):
                    return
            time.sleep(0.01)
        raise TimeoutError("orders on the fake VALR did not settle")

    # --- injected failures (consumed one per request, first in first out) ---------------------
    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
        process_first: bool = False,
    ) -> None:
        """The next ``count`` requests (after ``after`` normal answers) get ``status``; the
        default body is VALR's error JSON. ``process_first``: the route acts first (an order is
        placed), then this answer goes out instead of its own."""
        reply_body = body if body is not None else {"code": -1, "message": "Internal Server Error"}
        reply = Reply(status, reply_body, dict(headers or {}), process_first=process_first)
        self._push(count, reply, after, method, path)

    def clear_faults(self) -> None:
        """Drop every fault not yet served: the fake answers normally again."""
        with self._lock:
            self._faults.clear()

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """429 with ``x-valr-ratelimited: true``, as VALR answers above its rate limits
        (``retry_after``: also a ``Retry-After`` header, which VALR may or may not send)."""
        headers = {"x-valr-ratelimited": "true"}
        if retry_after is not None:
            headers["Retry-After"] = _text(retry_after)
        reply = Reply(429, {"code": -429, "message": "Rate limited"}, headers)
        self._push(count, reply, after, method, path)

    def slow_next(
        self,
        count: int = 1,
        seconds: float = 5.0,
        *,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
        process_first: bool = False,
    ) -> None:
        """The next ``count`` requests get their real answer ``seconds`` late (a client
        timeout). By default the route acts late too; ``process_first``: it acts at once and
        only the answer is late."""
        reply = Reply(200, REAL_ANSWER, delay_seconds=seconds, process_first=process_first)
        self._push(count, reply, after, method, path)

    def accept_then_timeout_next(self, seconds: float = 5.0) -> None:
        """The next market order is placed at once, but its 202 comes ``seconds`` late (after
        the client gave up)."""
        self.slow_next(1, seconds, method="POST", path=MARKET_ORDER_PATH, process_first=True)

    def drop_next(
        self,
        count: int = 1,
        *,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
        process_first: bool = True,
    ) -> None:
        """The next ``count`` requests get no answer at all: the connection is closed (after
        the route acted, by default)."""
        reply = Reply(0, None, drop=True, process_first=process_first)
        self._push(count, reply, after, method, path)

    def malformed_next(
        self,
        count: int = 1,
        body: bytes = b"<html>502 Bad Gateway</html>",
        *,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``count`` requests get HTTP 200 with a body that is not JSON."""
        self._push(count, Reply(200, body, {"Content-Type": "text/html"}), after, method, path)

    def _push(
        self,
        count: int,
        reply: Reply,
        after: int = 0,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        pattern = re.compile(path) if path is not None else None
        verb = method.upper() if method is not None else None
        with self._lock:
            self._faults.extend(
                [_Fault(None, verb, pattern)] * after + [_Fault(reply, verb, pattern)] * count
            )

    def _take_fault(self, request: RecordedRequest) -> Reply | None:
        """The first queued fault aimed at ``request`` (called under the lock)."""
        for index, fault in enumerate(self._faults):
            if fault.matches(request):
                del self._faults[index]
                return fault.reply
        return None

    # --- inspection ---------------------------------------------------------------------------
    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path is ``path`` (query string not included)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.path == path and (method is None or request.method == method)
            ]

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- routing ------------------------------------------------------------------------------
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose whole path matches ``pattern`` with ``handler``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def add_private_route(self, method: str, pattern: str, handler: Handler) -> None:
        """As ``add_route``, for a signed route: the request is authenticated first."""

        def checked(request: RecordedRequest, match: re.Match[str]) -> Reply:
            refusal = self._authenticate(request)
            return refusal if refusal is not None else handler(request, match)

        self.add_route(method, pattern, checked)

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
            at=self.clock.now(),
        )
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request)
        if fault is None:
            reply = self._route(request)
        elif fault.process_first:
            real = self._route(request)
            reply = real if fault.body is REAL_ANSWER else fault
            reply = replace(reply, delay_seconds=fault.delay_seconds, drop=fault.drop)
        else:
            reply = fault
        if reply.delay_seconds and self._released.wait(reply.delay_seconds):
            return  # the server is stopping: drop the connection
        if reply.drop:
            http.close_connection = True
            return
        if reply.body is REAL_ANSWER:
            reply = self._route(request)
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        if reply.body is None and reply.status in (202, 204):
            payload = b""
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
        items = [self.pair_rules(pair) for pair in self.pairs]
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

    def _newest_bucket(self, pair: str) -> Any:
        """The newest bucket the fake may serve for ``pair`` (finest period), or None."""
        now = pd.Timestamp(self.clock.now())
        with self._lock:
            tables = [table for (p, _), table in sorted(self._candles.items()) if p == pair]
        seen = [table[table["timestamp"] <= now] for table in tables]
        seen = [table for table in seen if len(table)]
        return seen[0].iloc[-1] if seen else None

    def _summary_route(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        pair, error = self._pair_or_error(match["pair"])
        if error:
            return error
        item = self._summary_item(pair)
        if item is None:
            return Reply.error(404, -111, "Market summary not found")
        return Reply(200, item, {"cache-control": "max-age=10,public"})

    def _summaries_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        """Every pair's summary in one array (pairs without a bucket yet are left out)."""
        items = [item for pair in self.pairs if (item := self._summary_item(pair)) is not None]
        return Reply(200, items, {"cache-control": "max-age=60,public"})

    def _summary_item(self, pair: str) -> dict[str, Any] | None:
        now = pd.Timestamp(self.clock.now())
        last = self._newest_bucket(pair)
        if last is None:
            return None
        close = Decimal(_text(last["close"]))
        return {
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
        }

    # --- authentication -----------------------------------------------------------------------
    def _authenticate(self, request: RecordedRequest) -> Reply | None:
        """None when the request is signed as VALR wants, else VALR's refusal."""
        key = request.headers.get("x-valr-api-key", "")
        if not key:
            return Reply.error(403, -11268, "API key header missing")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        needs_json = request.method in ("POST", "PUT", "PATCH") or (
            request.method == "DELETE" and request.body
        )
        if needs_json and content_type != "application/json":
            return Reply.error(403, -11, "Forbidden: Content-Type must be application/json")
        if not hmac.compare_digest(key, self.api_key):
            return Reply.error(401, -11250, "Invalid API key")
        stamp = request.headers.get("x-valr-timestamp", "")
        if not stamp.isdigit():
            return Reply.error(
                401, -11253, "Request timestamp is missing or not Unix time in milliseconds"
            )
        skew = abs(self.auth_time() * 1000 - int(stamp)) / 1000
        if skew > self.timestamp_window_seconds:
            return Reply.error(
                401,
                -11253,
                f"Request timestamp is outside the allowed window "
                f"({skew:.1f} s off, at most {self.timestamp_window_seconds:g} s)",
            )
        expected = valr_signature(
            self.api_secret,
            stamp,
            request.method,
            request.target,
            request.body.decode("utf-8", "replace"),
            request.headers.get("x-valr-sub-account-id", ""),
        )
        if not hmac.compare_digest(request.headers.get("x-valr-signature", ""), expected):
            return Reply.error(401, -11252, "Request has an invalid signature")
        return None

    # --- private routes -------------------------------------------------------------------------
    def _add_private_routes(self) -> None:
        order = r"(?P<id>[^/]+)"
        pair = r"(?P<pair>[A-Za-z0-9]+)"
        for method, pattern, handler in (
            ("GET", r"/v1/account/balances", self._balances_route),
            ("GET", r"/v1/account/api-keys/current", self._api_key_route),
            ("GET", r"/v1/margin/account/status", self._margin_route),
            ("GET", r"/v1/account/fees/trade", self._fees_route),
            ("POST", MARKET_ORDER_PATH, self._market_order_route),
            ("GET", r"/v1/orders/open", self._open_orders_route),
            ("GET", r"/v1/orders/history", self._history_route),
            ("GET", rf"/v1/orders/history/summary/orderid/{order}", self._summary_by_id),
            (
                "GET",
                rf"/v1/orders/history/summary/customerorderid/{order}",
                self._summary_by_customer_id,
            ),
            ("GET", rf"/v1/orders/{pair}/orderid/{order}", self._status_by_id),
            ("GET", rf"/v1/orders/{pair}/customerorderid/{order}", self._status_by_customer_id),
        ):
            self.add_private_route(method, pattern, handler)

    def _balances_route(self, request: RecordedRequest, _match: re.Match[str]) -> Reply:
        skip_zero = request.query.get("excludeZeroBalances", "false").lower() == "true"
        now = _iso(datetime.now(UTC))
        with self._state:
            items = [
                {
                    "currency": currency,
                    "available": _text(amount),
                    "reserved": "0",
                    "total": _text(amount),
                    "updatedAt": now,
                    "lendReserved": "0",
                    "borrowReserved": "0",
                    "borrowedAmount": "0",
                }
                for currency, amount in sorted(self._balances.items())
                if not (skip_zero and amount == 0)
            ]
        return Reply(200, items)

    def _api_key_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        return Reply(
            200,
            {
                "label": self.key_label,
                "permissions": list(self.permissions),
                "addedAt": "2026-01-05T10:00:00.000Z",
                "isSubAccount": self.is_sub_account,
            },
        )

    def _margin_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        return Reply(
            200,
            {"futuresEnabled": False, "marginEnabled": self.margin_enabled, "inLiquidation": False},
        )

    def _fees_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        if not self.fees_available:
            return Reply.error(404, -1, "Not Found")
        items = [
            {
                "currencyPair": pair,
                "makerPercentage": _text(self.maker_fee_pct),
                "takerPercentage": _text(self.taker_fee_pct),
                "simplePercentage": "1.6",
            }
            for pair in self.pairs
        ]
        return Reply(200, items)

    def _market_order_route(self, request: RecordedRequest, _match: re.Match[str]) -> Reply:
        try:
            body = json.loads(request.body)
        except ValueError:
            return Reply.error(400, -113, "Invalid JSON payload")
        if not isinstance(body, dict):
            return Reply.error(400, -113, "Invalid JSON payload")
        side = body.get("side")
        if side not in ("BUY", "SELL"):
            return Reply.error(400, -11, "Invalid Request: side must be BUY or SELL")
        symbol = str(body.get("pair", "")).upper()
        if symbol not in self.pairs:
            return Reply.error(400, -21, "Unsupported Currency Pair")
        rules = self.pair_rules(symbol)
        if not rules["active"]:
            return Reply.error(400, -32, "Currency pair is not active")
        amounts = [name for name in ("baseAmount", "quoteAmount") if name in body]
        if len(amounts) != 1 or not isinstance(body[amounts[0]], str):
            return Reply.error(
                400, -11, "Invalid Request: exactly one of baseAmount, quoteAmount (a string)"
            )
        try:
            amount = Decimal(body[amounts[0]])
        except InvalidOperation:
            return Reply.error(400, -11, f"Invalid Request: {amounts[0]}")
        if not amount.is_finite() or amount <= 0:
            return Reply.error(400, -11, f"Invalid Request: {amounts[0]}")
        coid = body.get("customerOrderId")
        if coid is not None and (not isinstance(coid, str) or not CUSTOMER_ORDER_ID.match(coid)):
            return Reply.error(400, -11, "Invalid Request: customerOrderId")
        allow_margin = body.get("allowMargin", False)
        if not isinstance(allow_margin, bool):
            return Reply.error(400, -11, "Invalid Request: allowMargin")
        if allow_margin and not self.margin_enabled:
            return Reply.error(400, -19213, "Margin trading is not enabled")
        places = Decimal(1).scaleb(-int(rules["baseDecimalPlaces"]))
        if amounts[0] == "baseAmount":
            amount = amount.quantize(places, rounding=ROUND_DOWN)  # VALR truncates
            low, high = Decimal(rules["minBaseAmount"]), Decimal(rules["maxBaseAmount"])
        else:
            low, high = Decimal(rules["minQuoteAmount"]), Decimal(rules["maxQuoteAmount"])
        if amount < low:
            return Reply.error(400, -12007, "Minimum order size not met")
        if amount > high:
            return Reply.error(400, -12008, "Maximum order size exceeded")
        now = datetime.now(UTC)
        with self._state:
            fail_with, fraction, partial_status = (
                self._order_fates.pop(0) if self._order_fates else (None, None, "Cancelled")
            )
            if coid is not None and any(
                o.customer_order_id == coid and o.is_open for o in self._orders
            ):
                fail_with = "Duplicate customerOrderId: an open order already uses it"
            order = FakeOrder(
                order_id=str(uuid.uuid4()),
                customer_order_id=coid,
                pair=symbol,
                side=side,
                base_amount=amount if amounts[0] == "baseAmount" else None,
                quote_amount=amount if amounts[0] == "quoteAmount" else None,
                allow_margin=allow_margin,
                created_at=now,
                updated_at=now,
                fail_with=fail_with,
                fill_fraction=fraction,
                partial_status=partial_status,
            )
            self._orders.append(order)
            if self.fill_delay_seconds <= 0:
                self._settle(order.order_id)
            else:
                timer = threading.Timer(self.fill_delay_seconds, self._settle, (order.order_id,))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
        answer: dict[str, Any] = {"id": order.order_id}
        if coid is not None:
            answer["customerOrderId"] = coid
        return Reply(202, answer)

    def _market_price(self, pair: str) -> Decimal | None:
        with self._state:
            if pair in self._prices:
                return self._prices[pair]
        last = self._newest_bucket(pair)
        return Decimal(_text(last["close"])) if last is not None else None

    def _settle(self, order_id: str) -> None:
        """Fill (or fail) an accepted order, as VALR does asynchronously after the 202."""
        price = None
        with self._state:
            order = next((o for o in self._orders if o.order_id == order_id), None)
            if order is None or not order.is_open:
                return
        price = self._market_price(order.pair)
        with self._state:
            order.updated_at = datetime.now(UTC)
            if order.fail_with is not None:
                self._fail(order, order.fail_with)
                return
            if price is None or price <= 0:
                self._fail(order, "No liquidity: there is no price to fill this market order at")
                return
            rules = self.pair_rules(order.pair)
            places = Decimal(1).scaleb(-int(rules["baseDecimalPlaces"]))
            base_ccy, quote_ccy = rules["baseCurrency"], rules["quoteCurrency"]
            if order.base_amount is not None:
                quantity = order.base_amount
            else:
                assert order.quote_amount is not None
                quantity = (order.quote_amount / price).quantize(places, rounding=ROUND_DOWN)
            if order.fill_fraction is not None:
                quantity = (quantity * order.fill_fraction).quantize(places, rounding=ROUND_DOWN)
            if quantity <= 0:
                self._fail(order, "Order amount too small to execute")
                return
            value = quantity * price
            rate = self.taker_fee_pct / 100
            if order.side == "BUY":
                if not order.allow_margin and self.balance(quote_ccy) < value:
                    self._fail(order, "Insufficient Balance")
                    return
                fee = (quantity * rate).quantize(EIGHT, rounding=ROUND_HALF_EVEN)
                self._balances[quote_ccy] = self.balance(quote_ccy) - value
                self._balances[base_ccy] = self.balance(base_ccy) + quantity - fee
                order.fee_currency = base_ccy
            else:
                if not order.allow_margin and self.balance(base_ccy) < quantity:
                    self._fail(order, "Insufficient Balance")
                    return
                fee = (value * rate).quantize(EIGHT, rounding=ROUND_HALF_EVEN)
                self._balances[base_ccy] = self.balance(base_ccy) - quantity
                self._balances[quote_ccy] = self.balance(quote_ccy) + value - fee
                order.fee_currency = quote_ccy
            order.executed_quantity = quantity
            order.average_price = price
            order.total = value
            order.fee = fee
            order.status = "Filled" if order.fill_fraction is None else order.partial_status

    @staticmethod
    def _fail(order: FakeOrder, reason: str) -> None:
        order.status = "Failed"
        order.failed_reason = reason

    # --- order look-ups -----------------------------------------------------------------------
    def _find(self, *, order_id: str | None = None, coid: str | None = None) -> FakeOrder | None:
        with self._state:
            for order in reversed(self._orders):  # the newest with that id
                if order_id is not None and order.order_id == order_id:
                    return replace(order)
                if coid is not None and order.customer_order_id == coid:
                    return replace(order)
        return None

    def _original_quantity(self, order: FakeOrder) -> Decimal:
        if order.base_amount is not None:
            return order.base_amount
        return order.executed_quantity

    def _status_item(self, order: FakeOrder) -> dict[str, Any]:
        original = self._original_quantity(order)
        item: dict[str, Any] = {
            "orderId": order.order_id,
            "orderStatusType": order.status,
            "currencyPair": order.pair,
            "originalPrice": _text(order.average_price),
            "remainingQuantity": _text(
                original - order.executed_quantity if not order.is_open else original
            ),
            "originalQuantity": _text(original),
            "orderSide": order.side.lower(),
            "orderType": "market",
            "failedReason": order.failed_reason,
            "orderUpdatedAt": _iso(order.updated_at),
            "orderCreatedAt": _iso(order.created_at),
            "timeInForce": "IOC",
        }
        if order.customer_order_id is not None:
            item["customerOrderId"] = order.customer_order_id
        return item

    def _history_item(self, order: FakeOrder) -> dict[str, Any]:
        base_ccy = self.pair_rules(order.pair)["baseCurrency"]
        item = self._status_item(order)
        item.update(
            {
                "averagePrice": _text(order.average_price),
                "total": _text(order.total),
                "totalExecutedQuantity": _text(order.executed_quantity),
                "totalFee": _text(order.fee),
                "feeCurrency": order.fee_currency or (base_ccy if order.side == "BUY" else "ZAR"),
            }
        )
        return item

    def _summary_by_id(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        order = self._find(order_id=match["id"])
        if order is None or order.is_open:
            return self.unknown_order_reply
        return Reply(200, self._history_item(order))

    def _summary_by_customer_id(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        with self._state:
            done = [o for o in self._orders if o.customer_order_id == match["id"] and not o.is_open]
            order = replace(done[-1]) if done else None
        if order is None:
            return self.unknown_order_reply
        return Reply(200, self._history_item(order))

    def _status_by_id(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        order = self._find(order_id=match["id"])
        if order is None or order.pair != match["pair"].upper():
            return self.unknown_order_reply
        return Reply(200, self._status_item(order))

    def _status_by_customer_id(self, _request: RecordedRequest, match: re.Match[str]) -> Reply:
        order = self._find(coid=match["id"])
        if order is None or order.pair != match["pair"].upper():
            return self.unknown_order_reply
        return Reply(200, self._status_item(order))

    def _open_orders_route(self, _request: RecordedRequest, _match: re.Match[str]) -> Reply:
        with self._state:
            open_orders = [replace(o) for o in self._orders if o.is_open]
        items = []
        for order in open_orders:
            item = {
                "orderId": order.order_id,
                "side": order.side.lower(),
                "remainingQuantity": _text(self._original_quantity(order)),
                "price": "0",
                "currencyPair": order.pair,
                "createdAt": _iso(order.created_at),
                "originalQuantity": _text(self._original_quantity(order)),
                "filledPercentage": "0.00",
                "updatedAt": _iso(order.updated_at),
                "status": order.status,
                "type": "market",
                "timeInForce": "IOC",
                "allowMargin": order.allow_margin,
            }
            if order.customer_order_id is not None:
                item["customerOrderId"] = order.customer_order_id
            items.append(item)
        return Reply(200, items)

    def _history_route(self, request: RecordedRequest, _match: re.Match[str]) -> Reply:
        try:
            skip = int(request.query.get("skip", "0"))
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return Reply.error(400, -11, "Invalid Request")
        if skip < 0 or not 0 < limit <= 100:
            return Reply.error(400, -11, "Invalid Request")
        with self._state:
            done = [replace(o) for o in reversed(self._orders) if not o.is_open]
        return Reply(200, [self._history_item(o) for o in done[skip : skip + limit]])


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
