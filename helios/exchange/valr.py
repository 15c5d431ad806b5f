"""VALR: the LIVE venue (issue #8). A signed REST client, VALR's pair rules and fees, and the
``Exchange`` adapter that places market orders and finds their fills.

Facts about the API come from ``shared/VALR_API.md`` (sections cited as "API §n"). The rules that
keep real money safe:

- Every private request is signed (API §2): HMAC-SHA512 over timestamp (ms) + VERB + the path
  with its query string + the body text + the subaccount id, keyed by the secret's UTF-8 bytes.
  The JSON body is serialised once and the signature is computed over the very bytes sent (the
  signing happens on the prepared request, after ``requests`` has built URL and body).
- A read (GET) is retried on a 429, a 5xx, a non-JSON answer or no answer, with exponential
  backoff and jitter (VALR's ``Retry-After`` wins when it sends one). An order placement is
  retried only when VALR certainly did not take it: a 429 (refused by the rate limiter) or a
  connection that was never made. After an AMBIGUOUS failure (a read timeout, a 5xx, a
  connection dropped after sending) the order may exist, so it is looked up by its
  ``customerOrderId``; only when VALR answers that it does not know the id is it placed again,
  once. If the look-up itself fails the ambiguous error is raised: it is never resent blind.
- ``customerOrderId`` is unique only among OPEN orders on VALR (API §5): a market order closes at
  once, so VALR would accept the same id again and fill twice. ``submit_market_order`` therefore
  looks the id up before placing and returns the known order (``duplicate=True``) instead.
- Keys come from the settings as ``SecretStr``; they are read only to sign, and never appear in
  an exception, a log record or a repr (any echo of them in VALR's text is replaced by ``***``).

Decisions where the API facts are uncertain (U in VALR_API.md):

- HTTP status of a bad signature: any 401/403, or a body code -11252/-11268/-11272, or a message
  about the timestamp, is a ``ValrAuthError``.
- ``Retry-After`` on a 429 is honoured when present (seconds or an HTTP date), capped at
  ``max_backoff_seconds``; otherwise exponential backoff. A 429 body may be HTML: not needed.
- The timestamp window is undocumented: the client signs each attempt afresh with the clock.
- The history summary answers only for completed orders (API §4.3); an order not completed yet
  (or unknown) gets a 4xx there, which means "not yet": the fill is polled until
  ``valr_fill_wait_seconds`` and the order is returned PENDING if still unknown.
- ``totalExecutedQuantity`` is taken as the gross quantity; on a BUY the taker fee is charged in
  the base asset (API §4.2), so the quantity we hold is executed minus fee. On a SELL the fee is
  in ZAR. The fee currency VALR reports (``feeCurrency``) decides, the side only when it is absent.
- ``get_order`` needs no pair for completed orders (history summary by customerOrderId) or open
  ones (``GET /v1/orders/open``); for an order between acceptance and placement it uses the
  status route, whose path needs the pair: the pair given by the caller, else the one remembered
  from ``submit_market_order`` in this process. An order accepted here (202 with an id) but not
  visible yet is PENDING, never None.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from pydantic import SecretStr
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from helios.clock import Clock, SystemClock
from helios.config import Settings
from helios.errors import HeliosError, InvalidInput
from helios.exchange.base import Exchange, OrderRequest, OrderResult, OrderStatus, Side
from helios.money import ZERO, qty, zar
from helios.money import price as as_price

log = logging.getLogger("helios.exchange.valr")

MODE = "LIVE"
CENT = Decimal("0.01")
AUTH_CODES = {-11252: "signature", -11268: "missing key", -11272: "ip"}
# statuses of an order VALR is still working on (API §4.3, §6)
OPEN_STATUSES = frozenset(
    {"Placed", "Active", "Partially Filled", "Order Modified", "Instant Order Balance Reserved"}
)
MARKET_ORDER_PATH = "/v1/orders/market"


# --- signing ----------------------------------------------------------------------------------
def sign_request(
    secret: str,
    timestamp: int | str,
    verb: str,
    path: str,
    body: str = "",
    subaccount_id: str = "",
) -> str:
    """VALR's request signature (API §2): lowercase hex HMAC-SHA512 of
    ``timestamp + VERB + path (with query) + body + subaccountId``, keyed by the secret's UTF-8
    bytes (not hex-decoded)."""
    message = f"{timestamp}{verb.upper()}{path}{body}{subaccount_id}"
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha512).hexdigest()


# --- errors -----------------------------------------------------------------------------------
class ValrError(HeliosError):
    """A VALR request that did not succeed. Carries the HTTP ``status`` (None: no answer),
    VALR's ``code`` and ``valr_message`` (from its ``{"code","message"}`` body, when there is
    one), and the request's ``method`` and ``path``. Never carries keys or secrets."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        code: int | None = None,
        valr_message: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.valr_message = valr_message
        self.detail = message
        facts = []
        if status is not None:
            facts.append(f"HTTP {status}")
        if code is not None:
            facts.append(f"code {code}")
        if valr_message:
            facts.append(repr(valr_message))
        shown = f" [{', '.join(facts)}]" if facts else ""
        super().__init__(f"VALR {method} {path}{shown}: {message}")

    @property
    def ambiguous(self) -> bool:
        """True when the request may have taken effect on VALR although it failed."""
        return False


class ValrRejected(ValrError):
    """VALR said no (a 4xx with its error body, or an order that ended ``Failed``): the request
    took no effect, the order does not exist or never executed."""


class ValrAuthError(ValrError):
    """VALR refused the credentials (bad signature, stale timestamp, IP not whitelisted,
    missing key, 401/403). The message says what the operator should check."""


class ValrRateLimited(ValrError):
    """Still 429 after the retries. VALR refused the request: nothing took effect."""

    def __init__(self, message: str, *, retry_after: float | None = None, **facts: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **facts)


class ValrUnavailable(ValrError):
    """No usable answer: no connection, a timeout, a 5xx, or an answer that is not JSON.

    ``sent`` is False only when the request certainly never reached VALR (the connection was
    never made); otherwise it may have taken effect: an order may exist (``ambiguous``)."""

    def __init__(self, message: str, *, sent: bool = True, **facts: Any) -> None:
        self.sent = sent
        super().__init__(message, **facts)

    @property
    def ambiguous(self) -> bool:
        return self.sent


# --- the HTTP client --------------------------------------------------------------------------
class _Signer(AuthBase):
    """Signs the PREPARED request: the path and body exactly as they go on the wire."""

    def __init__(self, client: ValrClient) -> None:
        self._client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._client._sign(request)
        return request

    def __repr__(self) -> str:
        return "<VALR request signer>"


class ValrClient:
    """One ``requests.Session`` to VALR's REST API: timeouts, signing, retries, typed errors.

    ``clock`` stamps signatures (``X-VALR-TIMESTAMP``); ``sleep``, ``monotonic`` and ``jitter``
    (a ``random()`` in [0, 1)) are injectable so tests observe the backoff without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.base_url = settings.valr_base_url.rstrip("/")
        self.timeout = settings.valr_timeout_seconds
        self.max_retries = settings.valr_max_retries
        self.backoff_seconds = settings.valr_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.subaccount_id = settings.valr_subaccount_id
        self._key: SecretStr | None = settings.valr_api_key
        self._secret: SecretStr | None = settings.valr_api_secret
        self.clock: Clock = clock or SystemClock()
        self.sleep = sleep
        self.monotonic = monotonic
        self._jitter = jitter
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "helios-pm"})
        self._signer = _Signer(self)

    def __repr__(self) -> str:
        key = "set" if self.has_keys else "missing"
        sub = f", subaccount={self.subaccount_id!r}" if self.subaccount_id else ""
        return f"ValrClient(base_url={self.base_url!r}, keys={key}{sub})"

    @property
    def has_keys(self) -> bool:
        return bool(
            self._key
            and self._secret
            and self._key.get_secret_value()
            and self._secret.get_secret_value()
        )

    # --- verbs ------------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, signed: bool = True
    ) -> Any:
        return self.request("GET", path, params=params, signed=signed)

    def post(self, path: str, body: Mapping[str, Any], *, idempotent: bool = False) -> Any:
        """POST a JSON body. Not idempotent by default: retried only when VALR certainly did
        not take it (429, connection never made)."""
        return self.request("POST", path, body=body, idempotent=idempotent)

    def put(self, path: str, body: Mapping[str, Any], *, idempotent: bool = False) -> Any:
        return self.request("PUT", path, body=body, idempotent=idempotent)

    def delete(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, body=body, idempotent=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        signed: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request (with the retries its kind allows) and return the parsed JSON
        (None for an empty 2xx body), or raise a ``ValrError``."""
        method = method.upper()
        safe_to_repeat = method == "GET" if idempotent is None else idempotent
        target = path + ("?" + urlencode(list(params.items())) if params else "")
        payload = None if body is None else json.dumps(body, separators=(",", ":"))
        facts: dict[str, Any] = {"method": method, "path": target}
        if signed and not self.has_keys:
            raise ValrAuthError(
                "no VALR API key is configured: set VALR_API_KEY and VALR_API_SECRET "
                "(a key with View access and Trade permissions)",
                **facts,
            )
        attempt = 0
        while True:
            try:
                response = self._send(method, target, payload, signed)
            except requests.RequestException as exc:
                sent = not _never_sent(exc)
                what = f"no answer ({type(exc).__name__}: {self._scrub(str(exc))})"
                if (safe_to_repeat or not sent) and attempt < self.max_retries:
                    attempt = self._pause(attempt, None, f"{method} {target}: {what}")
                    continue
                if sent:
                    what += "; the request may have reached VALR"
                else:
                    what += "; the connection was never made, so VALR did not get the request"
                raise ValrUnavailable(what, sent=sent, **facts) from None
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if attempt < self.max_retries:
                    attempt = self._pause(attempt, retry_after, f"{method} {target}: HTTP 429")
                    continue
                code, message = self._error_body(response)
                limited = response.headers.get("x-valr-ratelimited", "absent")
                raise ValrRateLimited(
                    f"rate limited by VALR after {attempt + 1} attempts "
                    f"(x-valr-ratelimited: {limited}); nothing took effect, try again later",
                    retry_after=retry_after,
                    status=status,
                    code=code,
                    valr_message=message,
                    **facts,
                )
            if status >= 500:
                code, message = self._error_body(response)
                if safe_to_repeat and attempt < self.max_retries:
                    attempt = self._pause(attempt, None, f"{method} {target}: HTTP {status}")
                    continue
                raise ValrUnavailable(
                    "VALR failed to answer (server error); the request may have taken effect",
                    status=status,
                    code=code,
                    valr_message=message,
                    **facts,
                )
            if 200 <= status < 300:
                if not response.content.strip():
                    return None
                try:
                    return response.json()
                except ValueError:
                    if safe_to_repeat and attempt < self.max_retries:
                        attempt = self._pause(attempt, None, f"{method} {target}: not JSON")
                        continue
                    raise ValrUnavailable(
                        "the answer is not JSON (a proxy page?); the request may have taken effect",
                        status=status,
                        **facts,
                    ) from None
            raise self._refusal(response, facts)

    # --- internals ----------------------------------------------------------------------------
    def _send(
        self, method: str, target: str, payload: str | None, signed: bool
    ) -> requests.Response:
        headers: dict[str, str] = {}
        data: bytes | None = None
        if payload is not None:
            data = payload.encode("utf-8")
            headers["Content-Type"] = "application/json"
        return self.session.request(
            method,
            self.base_url + target,
            data=data,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
            auth=self._signer if signed else None,
        )

    def _sign(self, request: requests.PreparedRequest) -> None:
        assert self._key is not None and self._secret is not None
        timestamp = str(int(self.clock.now().timestamp() * 1000))
        raw = request.body or b""
        body = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        signature = sign_request(
            self._secret.get_secret_value(),
            timestamp,
            request.method or "GET",
            request.path_url,
            body,
            self.subaccount_id,
        )
        request.headers["X-VALR-API-KEY"] = self._key.get_secret_value()
        request.headers["X-VALR-SIGNATURE"] = signature
        request.headers["X-VALR-TIMESTAMP"] = timestamp
        if self.subaccount_id:
            request.headers["X-VALR-SUB-ACCOUNT-ID"] = self.subaccount_id

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> int:
        if retry_after is not None:
            delay = min(retry_after, self.max_backoff_seconds)
        else:
            step = min(self.backoff_seconds * (2**attempt), self.max_backoff_seconds)
            delay = step * (0.5 + 0.5 * self._jitter())  # "equal jitter"
        log.warning("VALR %s; retry %d of %d in %.3f s", why, attempt + 1, self.max_retries, delay)
        self.sleep(delay)
        return attempt + 1

    def _scrub(self, text: str) -> str:
        """``text`` with any echo of the key or the secret replaced by ``***``."""
        for secret in (self._key, self._secret):
            value = secret.get_secret_value() if secret is not None else ""
            if value:
                text = text.replace(value, "***")
        return text

    def _error_body(self, response: requests.Response) -> tuple[int | None, str | None]:
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            return None, self._scrub(text[:200]) if text else None
        if isinstance(body, dict):
            code = body.get("code")
            message = body.get("message")
            return (
                code if isinstance(code, int) and not isinstance(code, bool) else None,
                self._scrub(str(message)) if message is not None else None,
            )
        return None, None

    def _refusal(self, response: requests.Response, facts: dict[str, Any]) -> ValrError:
        status = response.status_code
        code, message = self._error_body(response)
        about_time = "timestamp" in (message or "").lower()
        details = {"status": status, "code": code, "valr_message": message, **facts}
        if status in (401, 403) or code in AUTH_CODES or about_time:
            return ValrAuthError(_auth_hint(status, code, about_time), **details)
        if 400 <= status < 500:
            return ValrRejected("VALR refused the request; it took no effect", **details)
        return ValrUnavailable(f"unexpected HTTP {status} from VALR", **details)


def _auth_hint(status: int, code: int | None, about_time: bool) -> str:
    if about_time:
        return (
            "VALR refused the request's timestamp: check this machine's clock (NTP); "
            "X-VALR-TIMESTAMP is the current Unix time in milliseconds"
        )
    if code == -11252:
        return (
            "VALR says the signature is invalid: check that VALR_API_SECRET is the secret of "
            "VALR_API_KEY (and VALR_SUBACCOUNT_ID, if set, is right)"
        )
    if code == -11272:
        return (
            "VALR refuses this machine's IP address: add it to the API key's IP whitelist on "
            "VALR, or use a key without one"
        )
    if code == -11268:
        return "VALR got no API key: set VALR_API_KEY and VALR_API_SECRET"
    if status == 401:
        return (
            "VALR refused the credentials: check VALR_API_KEY and VALR_API_SECRET, the key's "
            "IP whitelist, this machine's clock, and that a primary-only route is not called "
            "with VALR_SUBACCOUNT_ID"
        )
    return (
        "VALR refused the request: check that the API key exists and has the permission this "
        "needs (View access; Trade for orders), and that JSON bodies are sent as "
        "application/json"
    )


def _never_sent(exc: requests.RequestException) -> bool:
    """True only when the connection was never made, so the request cannot have reached VALR."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer


# --- pair rules -------------------------------------------------------------------------------
def truncate_base(amount: Decimal, places: int) -> Decimal:
    """A base quantity cut (rounded DOWN) to ``places`` decimals, as VALR truncates it."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def gross_for_fee(net: Decimal, fee: Decimal, places: int) -> Decimal:
    """The base amount to buy so that, after a fee of ``fee`` (a fraction) taken in that coin,
    at least ``net`` arrives: ``net / (1 - fee)`` rounded UP to ``places`` decimals."""
    if not Decimal(0) <= fee < Decimal(1):
        raise InvalidInput("fee", fee, "a fraction from 0 up to (not including) 1")
    gross = Decimal(net) / (Decimal(1) - fee)
    return gross.quantize(Decimal(1).scaleb(-places), rounding=ROUND_UP)


def round_to_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """A price on VALR's grid: a whole multiple of ``tick`` (nearest by default)."""
    if tick <= 0:
        return Decimal(value)
    steps = (Decimal(value) / tick).quantize(Decimal(1), rounding=rounding)
    return steps * tick


def round_quote_down(amount: Decimal) -> Decimal:
    """A ZAR amount rounded DOWN to cents (never spend more than asked)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class PairRules:
    """What VALR allows on one pair (``GET /v1/public/pairs``, API §3 and §7)."""

    symbol: str
    active: bool
    base_currency: str
    quote_currency: str
    tick_size: Decimal
    base_decimal_places: int
    min_base: Decimal
    max_base: Decimal
    min_quote: Decimal
    max_quote: Decimal
    margin_trading_allowed: bool = False

    @classmethod
    def from_valr(cls, item: Mapping[str, Any]) -> PairRules:
        """One item of ``GET /v1/public/pairs`` (numbers arrive as strings)."""
        try:
            return cls(
                symbol=str(item["symbol"]).upper(),
                active=bool(item.get("active", False)),
                base_currency=str(item["baseCurrency"]).upper(),
                quote_currency=str(item["quoteCurrency"]).upper(),
                tick_size=Decimal(str(item["tickSize"])),
                base_decimal_places=int(str(item["baseDecimalPlaces"])),
                min_base=Decimal(str(item["minBaseAmount"])),
                max_base=Decimal(str(item["maxBaseAmount"])),
                min_quote=Decimal(str(item["minQuoteAmount"])),
                max_quote=Decimal(str(item["maxQuoteAmount"])),
                margin_trading_allowed=bool(item.get("marginTradingAllowed", False)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"malformed VALR pair entry {dict(item)!r}: {exc!r}") from None

    def truncate_base(self, amount: Decimal) -> Decimal:
        return truncate_base(amount, self.base_decimal_places)

    def round_price(self, value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        return round_to_tick(value, self.tick_size, rounding)

    def check_market_order(
        self,
        *,
        base_amount: Decimal | None = None,
        quote_amount: Decimal | None = None,
        price: Decimal | None = None,
    ) -> tuple[Decimal | None, Decimal | None]:
        """The amounts as VALR takes them (base truncated to ``baseDecimalPlaces``, ZAR rounded
        down to cents), or ``InvalidInput`` naming the field, the value and the limit, before
        anything is sent. ``price`` (the market price, when known) also checks the other side
        of the order: the ZAR worth of a base amount, the base worth of a ZAR amount."""
        if not self.active:
            raise InvalidInput(
                "pair", self.symbol, "an active VALR pair: VALR lists this pair as inactive"
            )
        if (base_amount is None) == (quote_amount is None):
            raise InvalidInput(
                "base_amount/quote_amount", (base_amount, quote_amount), "exactly one of them"
            )
        base_ccy, quote_ccy = self.base_currency, self.quote_currency
        if base_amount is not None:
            base = self.truncate_base(base_amount)
            if base < self.min_base:
                raise InvalidInput(
                    "base_amount",
                    base_amount,
                    f"at least {self.min_base:f} {base_ccy} on {self.symbol} "
                    f"(VALR minBaseAmount; cut to {self.base_decimal_places} decimal places it "
                    f"is {base:f})",
                )
            if base > self.max_base:
                raise InvalidInput(
                    "base_amount",
                    base_amount,
                    f"at most {self.max_base:f} {base_ccy} on {self.symbol} (VALR maxBaseAmount)",
                )
            if price is not None and price > 0:
                worth = base * price
                if worth < self.min_quote:
                    raise InvalidInput(
                        "base_amount",
                        base_amount,
                        f"worth at least {self.min_quote:f} {quote_ccy} on {self.symbol} "
                        f"(VALR minQuoteAmount; at {price:f} it is worth {worth:f})",
                    )
                if worth > self.max_quote:
                    raise InvalidInput(
                        "base_amount",
                        base_amount,
                        f"worth at most {self.max_quote:f} {quote_ccy} on {self.symbol} "
                        f"(VALR maxQuoteAmount; at {price:f} it is worth {worth:f})",
                    )
            return base, None
        assert quote_amount is not None
        quote = round_quote_down(quote_amount)
        if quote < self.min_quote:
            raise InvalidInput(
                "quote_amount",
                quote_amount,
                f"at least {self.min_quote:f} {quote_ccy} on {self.symbol} (VALR minQuoteAmount)",
            )
        if quote > self.max_quote:
            raise InvalidInput(
                "quote_amount",
                quote_amount,
                f"at most {self.max_quote:f} {quote_ccy} on {self.symbol} (VALR maxQuoteAmount)",
            )
        if price is not None and price > 0:
            units = quote / price
            if units < self.min_base:
                raise InvalidInput(
                    "quote_amount",
                    quote_amount,
                    f"enough for at least {self.min_base:f} {base_ccy} on {self.symbol} "
                    f"(VALR minBaseAmount; at {price:f} it buys {units:.12f})",
                )
            if units > self.max_base:
                raise InvalidInput(
                    "quote_amount",
                    quote_amount,
                    f"at most {self.max_base:f} {base_ccy} worth on {self.symbol} "
                    f"(VALR maxBaseAmount; at {price:f} it buys {units:.12f})",
                )
        return None, quote


# --- account facts ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TradeFee:
    """The account's fee on a pair, as fractions (VALR sends percent: 0.35 -> 0.0035)."""

    pair: str
    maker: Decimal
    taker: Decimal


@dataclass(frozen=True)
class ApiKeyInfo:
    """``GET /v1/account/api-keys/current``: what the configured key may do."""

    label: str
    permissions: tuple[str, ...]
    is_sub_account: bool
    allowed_ip_cidr: str | None = None
    added_at: str | None = None

    def has(self, permission: str) -> bool:
        return any(p.strip().lower() == permission.lower() for p in self.permissions)

    @property
    def can_view(self) -> bool:
        return self.has("View access")

    @property
    def can_trade(self) -> bool:
        return self.has("Trade")

    @property
    def can_withdraw(self) -> bool:
        return self.has("Withdraw")


@dataclass(frozen=True)
class OpenOrder:
    """One item of ``GET /v1/orders/open``."""

    order_id: str
    customer_order_id: str | None
    pair: str
    side: str  # BUY / SELL
    status: str
    type: str
    price: Decimal | None
    original_quantity: Decimal | None
    remaining_quantity: Decimal | None
    created_at: datetime | None


# --- the exchange -----------------------------------------------------------------------------
class ValrExchange(Exchange):
    """Market orders on VALR (LIVE mode).

    ``price_source(pair)`` (optional) gives the latest known market price, so an order is
    checked against both of VALR's minimums before sending. ``poll_interval_seconds`` spaces the
    fill look-ups; ``unknown_confirm_seconds`` is how long an order whose answer was lost must
    stay unknown to VALR before it is placed again (once).
    """

    name = "valr"

    def __init__(
        self,
        settings: Settings,
        *,
        client: ValrClient | None = None,
        price_source: Callable[[str], Decimal | None] | None = None,
        poll_interval_seconds: float = 0.25,
        unknown_confirm_seconds: float = 1.0,
        pairs_ttl_seconds: float = 60.0,
        fees_ttl_seconds: float = 300.0,
    ) -> None:
        self.settings = settings
        self.client = client or ValrClient(settings)
        self.price_source = price_source
        self.fill_wait_seconds = settings.valr_fill_wait_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.unknown_confirm_seconds = unknown_confirm_seconds
        self.pairs_ttl_seconds = pairs_ttl_seconds
        self.fees_ttl_seconds = fees_ttl_seconds
        self.default_taker_fee = settings.paper_fee_pct  # VALR ZAR tier 1 taker, 0.35 %
        self._lock = threading.Lock()
        self._pairs: tuple[float, dict[str, PairRules]] | None = None
        self._fees: tuple[float, dict[str, TradeFee]] | None = None
        self._placed: dict[str, tuple[str, str | None]] = {}  # coid -> (pair, VALR order id)

    def __repr__(self) -> str:
        return f"ValrExchange({self.client!r})"

    def _market_price(self, pair: str) -> Decimal | None:
        """The latest price the caller knows (for the minimum checks), or None: a price source
        that fails (the database away during a close-out) never stops an order."""
        if self.price_source is None:
            return None
        try:
            return self.price_source(pair)
        except Exception as exc:
            log.warning("no market price for %s (%s): minimums checked without it", pair, exc)
            return None

    def close(self) -> None:
        """Release the HTTP session (its pooled connections)."""
        self.client.session.close()

    # --- pair rules and fees ----------------------------------------------------------------
    def all_pair_rules(self, *, refresh: bool = False) -> dict[str, PairRules]:
        """Every pair VALR lists, cached for ``pairs_ttl_seconds`` (VALR caches 60 s)."""
        now = self.client.monotonic()
        with self._lock:
            cached = self._pairs
        if cached is not None and not refresh and now - cached[0] < self.pairs_ttl_seconds:
            return cached[1]
        items = self.client.get("/v1/public/pairs", signed=False)
        if not isinstance(items, list):
            raise ValrUnavailable(
                f"expected a list of pairs, got {type(items).__name__}",
                method="GET",
                path="/v1/public/pairs",
            )
        table: dict[str, PairRules] = {}
        for item in items:
            if isinstance(item, dict) and item.get("currencyPairType", "SPOT") == "SPOT":
                try:
                    rules = PairRules.from_valr(item)
                except ValueError as exc:
                    log.warning("VALR pair list: %s (skipped)", exc)
                    continue
                table[rules.symbol] = rules
        with self._lock:
            self._pairs = (now, table)
        return table

    def pair_rules(self, pair: str) -> PairRules:
        """The rules of ``pair``, or ``InvalidInput`` if VALR does not list it."""
        symbol = pair.strip().upper()
        table = self.all_pair_rules()
        rules = table.get(symbol)
        if rules is None:
            raise InvalidInput("pair", pair, "a spot pair VALR lists (GET /v1/public/pairs)")
        return rules

    def fees(self, *, refresh: bool = False) -> dict[str, TradeFee]:
        """The account's fees per pair (``GET /v1/account/fees/trade``), as fractions."""
        now = self.client.monotonic()
        with self._lock:
            cached = self._fees
        if cached is not None and not refresh and now - cached[0] < self.fees_ttl_seconds:
            return cached[1]
        items = self.client.get("/v1/account/fees/trade")
        table: dict[str, TradeFee] = {}
        for item in items if isinstance(items, list) else []:
            try:
                pair = str(item["currencyPair"]).upper()
                table[pair] = TradeFee(
                    pair,
                    Decimal(str(item["makerPercentage"])) / 100,
                    Decimal(str(item["takerPercentage"])) / 100,
                )
            except (KeyError, TypeError, ValueError, InvalidOperation):
                log.warning("VALR fees: malformed entry %r (skipped)", item)
        with self._lock:
            self._fees = (now, table)
        return table

    def taker_fee(self, pair: str) -> Decimal:
        """The taker fee of ``pair`` as a fraction: the account's own when VALR tells it, else
        the configured default (PAPER_FEE_PCT, VALR's ZAR tier 1 taker 0.35 %)."""
        try:
            fee = self.fees().get(pair.upper())
        except ValrError as exc:
            log.warning(
                "VALR fees unavailable (%s); using the default %s", exc, self.default_taker_fee
            )
            return self.default_taker_fee
        return fee.taker if fee is not None else self.default_taker_fee

    # --- account ----------------------------------------------------------------------------
    def balances(self) -> dict[str, Decimal]:
        """Available balance per currency (``GET /v1/account/balances``)."""
        items = self.client.get("/v1/account/balances")
        if not isinstance(items, list):
            raise _malformed("GET", "/v1/account/balances", items)
        result: dict[str, Decimal] = {}
        for item in items:
            try:
                currency = item["currency"]
                if isinstance(currency, dict):  # the WebSocket form, just in case
                    currency = currency["symbol"]
                result[str(currency).upper()] = Decimal(str(item["available"]))
            except (KeyError, TypeError, ValueError, InvalidOperation):
                raise _malformed("GET", "/v1/account/balances", item) from None
        return result

    def api_key_info(self) -> ApiKeyInfo:
        item = self.client.get("/v1/account/api-keys/current")
        if not isinstance(item, dict):
            raise _malformed("GET", "/v1/account/api-keys/current", item)
        permissions = item.get("permissions") or []
        return ApiKeyInfo(
            label=str(item.get("label", "")),
            permissions=tuple(str(p) for p in permissions),
            is_sub_account=bool(item.get("isSubAccount", False)),
            allowed_ip_cidr=item.get("allowedIpAddressCidr"),
            added_at=item.get("addedAt"),
        )

    def margin_enabled(self) -> bool:
        item = self.client.get("/v1/margin/account/status")
        if not isinstance(item, dict):
            raise _malformed("GET", "/v1/margin/account/status", item)
        return bool(item.get("marginEnabled", False))

    def open_orders(self) -> list[OpenOrder]:
        items = self.client.get("/v1/orders/open")
        if not isinstance(items, list):
            raise _malformed("GET", "/v1/orders/open", items)
        return [
            OpenOrder(
                order_id=str(item.get("orderId", "")),
                customer_order_id=item.get("customerOrderId") or None,
                pair=str(item.get("currencyPair", "")).upper(),
                side=str(item.get("side", "")).upper(),
                status=str(item.get("status", "")),
                type=str(item.get("type", "")),
                price=_decimal(item.get("price")),
                original_quantity=_decimal(item.get("originalQuantity")),
                remaining_quantity=_decimal(item.get("remainingQuantity")),
                created_at=_time(item.get("createdAt")),
            )
            for item in items
            if isinstance(item, dict)
        ]

    # --- orders -----------------------------------------------------------------------------
    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        """Place a market order and wait (up to ``valr_fill_wait_seconds``) for its fill.

        InvalidInput before anything is sent (pair rules). An order VALR already knows under
        the client order id is returned (``duplicate=True``), never placed again. A definitive
        refusal is REJECTED; an order accepted whose fill is not known in time is PENDING.
        Raises ``ValrUnavailable`` when the order may exist but VALR cannot be asked,
        ``ValrRateLimited``/``ValrAuthError`` when VALR refused to take it."""
        request = request.validated()
        rules = self.pair_rules(request.pair)
        market_price = self._market_price(request.pair)
        asked = request.base_amount
        if request.side is Side.BUY and asked is not None:
            # A BUY by base amount covers a short: VALR takes its taker fee in the coin bought,
            # so ask for enough that what arrives, net of the fee, covers the amount (rounded
            # UP to the pair's decimals), or the short would stay open by the fee.
            asked = gross_for_fee(asked, self.taker_fee(request.pair), rules.base_decimal_places)
        base, quote = rules.check_market_order(
            base_amount=asked, quote_amount=request.quote_amount, price=market_price
        )
        if request.margin and not rules.margin_trading_allowed:
            raise InvalidInput(
                "margin",
                True,
                f"False on {rules.symbol}: VALR does not allow margin trading on it",
            )
        try:
            known = self._find(request.client_order_id, request.pair)
        except ValrUnavailable as exc:
            raise ValrUnavailable(
                f"could not ask VALR whether it already knows customerOrderId="
                f"{request.client_order_id} ({exc.detail}): the order was NOT placed",
                sent=False,
                method=exc.method,
                path=exc.path,
                status=exc.status,
                code=exc.code,
                valr_message=exc.valr_message,
            ) from None
        if known is not None:
            log.info(
                "mode=%s VALR already knows customerOrderId=%s (VALR id %s, %s): not placed again",
                MODE,
                request.client_order_id,
                known.exchange_order_id,
                known.status.value,
            )
            self._remember(request.client_order_id, request.pair, known.exchange_order_id)
            return replace(self._follow(known, request), duplicate=True)
        body: dict[str, Any] = {"side": request.side.value, "pair": rules.symbol}
        if base is not None:
            body["baseAmount"] = format(base, "f")
        else:
            assert quote is not None
            body["quoteAmount"] = format(quote, "f")
        body["customerOrderId"] = request.client_order_id
        if request.margin:
            body["allowMargin"] = True
        return self._place(request, body)

    def get_order(self, client_order_id: str, pair: str | None = None) -> OrderResult | None:
        """The order VALR knows under ``client_order_id``: FILLED/REJECTED when completed,
        PENDING while open or accepted; None only when VALR answered that it does not know it.
        Raises ``ValrError`` when VALR cannot be asked (a reconcile must not resend then).

        ``pair`` (optional; else the one remembered from ``submit_market_order``) lets the
        status route see an order VALR accepted but has not placed yet."""
        with self._lock:
            remembered = self._placed.get(client_order_id)
        pair = (pair or (remembered[0] if remembered else None) or "").upper() or None
        summary = self._lookup(
            f"/v1/orders/history/summary/customerorderid/{_seg(client_order_id)}"
        )
        if summary is not None:
            return self._from_summary(summary, client_order_id)
        for order in self.open_orders():
            if order.customer_order_id == client_order_id:
                return OrderResult(
                    client_order_id=client_order_id,
                    exchange_order_id=order.order_id,
                    status=OrderStatus.PENDING,
                    pair=order.pair,
                    side=order.side,
                    reason=f"open on VALR ({order.status})",
                    created_at=order.created_at,
                )
        if pair is not None:
            status = self._lookup(f"/v1/orders/{pair}/customerorderid/{_seg(client_order_id)}")
            if status is not None:
                return self._from_status(status, client_order_id, pair)
        if remembered is not None and remembered[1]:
            by_id = self._lookup(f"/v1/orders/history/summary/orderid/{_seg(remembered[1])}")
            if by_id is not None:
                return self._from_summary(by_id, client_order_id)
            return OrderResult(
                client_order_id=client_order_id,
                exchange_order_id=remembered[1],
                status=OrderStatus.PENDING,
                pair=remembered[0],
                side="",
                reason="accepted by VALR (202), not visible in its order routes yet",
            )
        return None

    # --- placing ----------------------------------------------------------------------------
    def _place(self, request: OrderRequest, body: dict[str, Any]) -> OrderResult:
        coid = request.client_order_id
        amount = body.get("baseAmount") or body.get("quoteAmount")
        amount_kind = "baseAmount" if "baseAmount" in body else "quoteAmount"
        for sending in (1, 2):
            log.info(
                "mode=%s sending VALR market order: %s %s %s=%s customerOrderId=%s%s%s",
                MODE,
                request.side.value,
                body["pair"],
                amount_kind,
                amount,
                coid,
                " allowMargin=true" if request.margin else "",
                " (placed again: VALR did not know it)" if sending == 2 else "",
            )
            try:
                answer = self.client.post(MARKET_ORDER_PATH, body)
                if not isinstance(answer, dict) or not answer.get("id"):
                    raise ValrUnavailable(
                        f"VALR accepted without an order id ({answer!r})",
                        method="POST",
                        path=MARKET_ORDER_PATH,
                        status=202,
                    )
            except ValrRejected as exc:
                log.warning(
                    "mode=%s VALR refused market order customerOrderId=%s: %s", MODE, coid, exc
                )
                return self._rejected(request, f"VALR refused the order: {_said(exc)}")
            except ValrUnavailable as exc:
                if not exc.sent:
                    raise  # the connection was never made: nothing was placed
                found = self._recover(request, exc)
                if found is not None:
                    return self._follow(found, request)
                if sending == 2:
                    raise ValrUnavailable(
                        f"the order's answer was lost twice ({exc.detail}) and VALR does not "
                        "know it: not sent a third time; reconcile settles it",
                        method="POST",
                        path=MARKET_ORDER_PATH,
                        status=exc.status,
                        code=exc.code,
                        valr_message=exc.valr_message,
                    ) from None
                continue
            order_id = str(answer["id"])
            log.info(
                "mode=%s VALR market order placed: %s %s %s=%s customerOrderId=%s VALR orderId=%s",
                MODE,
                request.side.value,
                body["pair"],
                amount_kind,
                amount,
                coid,
                order_id,
            )
            self._remember(coid, request.pair, order_id)
            return self._await_fill(request, order_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _recover(self, request: OrderRequest, error: ValrUnavailable) -> OrderResult | None:
        """After an ambiguous failure: the order if VALR knows it, None if VALR says (for
        ``unknown_confirm_seconds``) that it does not. Raises the ambiguous error when the
        look-up itself fails."""
        coid = request.client_order_id
        log.warning(
            "mode=%s VALR market order customerOrderId=%s: answer lost (%s); looking it up "
            "before anything else",
            MODE,
            coid,
            error,
        )
        deadline = self.client.monotonic() + self.unknown_confirm_seconds
        while True:
            try:
                found = self._find(coid, request.pair)
            except ValrError as lookup:
                log.error(
                    "mode=%s customerOrderId=%s: the order may exist on VALR and the look-up "
                    "failed (%s): not resent",
                    MODE,
                    coid,
                    lookup,
                )
                raise ValrUnavailable(
                    f"the order may exist on VALR ({error.detail}) and looking it up by "
                    f"customerOrderId failed ({lookup}): not resent; reconcile settles it",
                    method="POST",
                    path=MARKET_ORDER_PATH,
                    status=error.status,
                    code=error.code,
                    valr_message=error.valr_message,
                ) from None
            if found is not None:
                log.info(
                    "mode=%s customerOrderId=%s found on VALR after the lost answer: "
                    "VALR orderId=%s (%s)",
                    MODE,
                    coid,
                    found.exchange_order_id,
                    found.status.value,
                )
                self._remember(coid, request.pair, found.exchange_order_id)
                return found
            if self.client.monotonic() >= deadline:
                log.warning(
                    "mode=%s customerOrderId=%s: VALR does not know it; safe to place again",
                    MODE,
                    coid,
                )
                return None
            self.client.sleep(self.poll_interval_seconds)

    def _follow(self, found: OrderResult, request: OrderRequest) -> OrderResult:
        if found.status is OrderStatus.PENDING and found.exchange_order_id:
            return self._await_fill(request, found.exchange_order_id)
        return found

    def _await_fill(self, request: OrderRequest, order_id: str) -> OrderResult:
        coid = request.client_order_id
        deadline = self.client.monotonic() + self.fill_wait_seconds
        path = f"/v1/orders/history/summary/orderid/{_seg(order_id)}"
        problem = ""
        while True:
            try:
                summary = self._lookup(path)
            except ValrError as exc:
                summary, problem = None, f"; last look-up failed: {exc}"
            if summary is not None:
                result = self._from_summary(summary, coid)
                if result.status is not OrderStatus.PENDING:
                    self._log_outcome(result)
                    return result
            remaining = deadline - self.client.monotonic()
            if remaining <= 0:
                log.warning(
                    "mode=%s VALR orderId=%s customerOrderId=%s: fill not known after %.1f s; "
                    "PENDING%s",
                    MODE,
                    order_id,
                    coid,
                    self.fill_wait_seconds,
                    problem,
                )
                return OrderResult(
                    client_order_id=coid,
                    exchange_order_id=order_id,
                    status=OrderStatus.PENDING,
                    pair=request.pair,
                    side=request.side.value,
                    reason=f"accepted by VALR, fill not known after "
                    f"{self.fill_wait_seconds:g} s{problem}",
                )
            self.client.sleep(min(self.poll_interval_seconds, remaining))

    def _log_outcome(self, result: OrderResult) -> None:
        if result.status is OrderStatus.FILLED:
            log.info(
                "mode=%s VALR order filled: %s %s quantity=%s price=%s fee=R%s "
                "customerOrderId=%s VALR orderId=%s%s",
                MODE,
                result.side,
                result.pair,
                result.quantity,
                result.price,
                result.fee,
                result.client_order_id,
                result.exchange_order_id,
                f" ({result.reason})" if result.reason else "",
            )
        else:
            log.warning(
                "mode=%s VALR order %s: %s customerOrderId=%s VALR orderId=%s",
                MODE,
                result.status.value,
                result.reason,
                result.client_order_id,
                result.exchange_order_id,
            )

    def _rejected(self, request: OrderRequest, reason: str) -> OrderResult:
        return OrderResult(
            client_order_id=request.client_order_id,
            exchange_order_id=None,
            status=OrderStatus.REJECTED,
            pair=request.pair,
            side=request.side.value,
            reason=reason,
        )

    def _remember(self, coid: str, pair: str, order_id: str | None) -> None:
        with self._lock:
            self._placed[coid] = (pair.upper(), order_id)

    # --- looking orders up ------------------------------------------------------------------
    def _find(self, coid: str, pair: str) -> OrderResult | None:
        """The order under ``coid`` (completed, or known to the status route), None when VALR
        answers that it does not know it; raises when VALR cannot be asked."""
        summary = self._lookup(f"/v1/orders/history/summary/customerorderid/{_seg(coid)}")
        if summary is not None:
            return self._from_summary(summary, coid)
        status = self._lookup(f"/v1/orders/{pair.upper()}/customerorderid/{_seg(coid)}")
        if status is not None:
            return self._from_status(status, coid, pair)
        return None

    def _lookup(self, path: str) -> dict[str, Any] | None:
        """A GET of one order: its record, None when VALR answers 4xx (unknown, or not in this
        route yet), or a ``ValrError`` when VALR cannot be asked (auth, rate limit, transport)."""
        try:
            item = self.client.get(path)
        except ValrRejected:
            return None
        if not isinstance(item, dict) or not (item.get("orderId") or item.get("orderStatusType")):
            raise _malformed("GET", path, item)
        return item

    def _currencies(self, pair: str) -> tuple[str, str]:
        with self._lock:
            table = self._pairs[1] if self._pairs else {}
        rules = table.get(pair.upper())
        if rules is not None:
            return rules.base_currency, rules.quote_currency
        return pair[:-3].upper(), pair[-3:].upper()

    def _from_status(self, item: dict[str, Any], coid: str, pair: str) -> OrderResult:
        status = str(item.get("orderStatusType", ""))
        side = str(item.get("orderSide", "")).upper()
        order_id = str(item.get("orderId")) if item.get("orderId") else None
        created = _time(item.get("orderCreatedAt"))
        symbol = str(item.get("currencyPair") or pair).upper()
        if status == "Failed":
            return OrderResult(
                client_order_id=coid,
                exchange_order_id=order_id,
                status=OrderStatus.REJECTED,
                pair=symbol,
                side=side,
                quantity=ZERO,
                reason=f"VALR: {item.get('failedReason') or 'Failed'}",
                created_at=created,
            )
        return OrderResult(
            client_order_id=coid,
            exchange_order_id=order_id,
            status=OrderStatus.PENDING,
            pair=symbol,
            side=side,
            reason=f"on VALR ({status or 'status unknown'})",
            created_at=created,
        )

    def _from_summary(self, item: dict[str, Any], coid: str) -> OrderResult:
        """A completed order (history summary) as an ``OrderResult``: quantity held after the
        fee, average price, fee in ZAR."""
        status = str(item.get("orderStatusType", ""))
        pair = str(item.get("currencyPair", "")).upper()
        side = str(item.get("orderSide", "")).upper()
        order_id = str(item.get("orderId")) if item.get("orderId") else None
        created = _time(item.get("orderCreatedAt"))
        coid = str(item.get("customerOrderId") or coid)
        common: dict[str, Any] = {
            "client_order_id": coid,
            "exchange_order_id": order_id,
            "pair": pair,
            "side": side,
            "created_at": created,
        }
        if status in OPEN_STATUSES:
            return OrderResult(status=OrderStatus.PENDING, reason=f"on VALR ({status})", **common)
        failed_reason = str(item.get("failedReason") or "")
        if status == "Failed":
            return OrderResult(
                status=OrderStatus.REJECTED,
                quantity=ZERO,
                reason=f"VALR: {failed_reason or 'Failed'}",
                **common,
            )
        executed = _decimal(item.get("totalExecutedQuantity")) or ZERO
        if executed <= 0:
            why = f" ({failed_reason})" if failed_reason else ""
            return OrderResult(
                status=OrderStatus.REJECTED,
                quantity=ZERO,
                reason=f"VALR: {status or 'completed'} with nothing executed{why}",
                **common,
            )
        average = _decimal(item.get("averagePrice")) or ZERO
        if average <= 0:
            total = _decimal(item.get("total")) or ZERO
            average = total / executed
        fee = _decimal(item.get("totalFee")) or ZERO
        base_ccy, quote_ccy = self._currencies(pair)
        fee_ccy = str(item.get("feeCurrency") or (base_ccy if side == "BUY" else quote_ccy))
        fee_ccy = fee_ccy.upper()
        quantity = executed
        fee_zar: Decimal | None
        if fee_ccy == base_ccy:  # a taker BUY pays in the base asset it receives
            quantity = executed - fee
            fee_zar = fee * average
        elif fee_ccy == quote_ccy:  # a taker SELL pays in ZAR
            fee_zar = fee
        else:
            log.warning(
                "VALR order %s: fee in %s, neither %s nor %s",
                order_id,
                fee_ccy,
                base_ccy,
                quote_ccy,
            )
            fee_zar = None
        reason = None if status == "Filled" else f"partly executed: VALR status {status}"
        return OrderResult(
            status=OrderStatus.FILLED,
            quantity=qty(quantity),
            price=as_price(average),
            fee=zar(fee_zar) if fee_zar is not None else None,
            reason=reason,
            **common,
        )


# --- small helpers ----------------------------------------------------------------------------
def _seg(value: str) -> str:
    """One URL path segment (ids are alphanumeric with dashes; quote anything else)."""
    return quote(str(value), safe="-")


def _said(error: ValrError) -> str:
    text = error.valr_message or error.detail
    return f"{text} (code {error.code})" if error.code is not None else text


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _malformed(method: str, path: str, item: Any) -> ValrUnavailable:
    shown = repr(item)
    return ValrUnavailable(
        f"unexpected answer from VALR: {shown[:200]}", method=method, path=path, status=200
    )


__all__ = [
    "ApiKeyInfo",
    "OpenOrder",
    "PairRules",
    "TradeFee",
    "ValrAuthError",
    "ValrClient",
    "ValrError",
    "ValrExchange",
    "ValrRateLimited",
    "ValrRejected",
    "ValrUnavailable",
    "round_quote_down",
    "round_to_tick",
    "sign_request",
    "truncate_base",
]
