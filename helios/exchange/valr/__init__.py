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

Where each rule lives (one module per concept):

- ``signing``: ``sign_request``, the HMAC-SHA512 of exactly the bytes sent.
- ``errors``: ``ValrError`` and its kinds, and the classification of VALR's answers into them.
- ``client``: ``ValrClient``, the retrying HTTP client (429/5xx backoff, a POST never retried
  blind).
- ``pairs``: ``PairRules`` (decimals, tick, minimums, inactive pairs) and the rounding helpers.
- ``account``: ``TradeFee``, ``ApiKeyInfo``, ``OpenOrder``: the account's facts as records.
- ``parsing``: VALR's JSON into ``OrderResult`` and the records above (pure functions).
- ``routes``: the REST paths, ids as path segments, the log tags (``mode=LIVE``).
- ``catalog`` (``PairCatalog``), ``lookup`` (``OrderLookup``), ``fills`` (``FillPoller``),
  ``placement`` (``OrderPlacer``): the collaborators ``exchange.ValrExchange`` composes.

Every public name of the former single module ``helios/exchange/valr.py`` stays importable from
``helios.exchange.valr``.
"""

from helios.exchange.valr.account import ApiKeyInfo, OpenOrder, TradeFee
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.errors import (
    AUTH_CODES,
    ValrAuthError,
    ValrError,
    ValrRateLimited,
    ValrRejected,
    ValrUnavailable,
)
from helios.exchange.valr.exchange import ValrExchange
from helios.exchange.valr.pairs import (
    CENT,
    PairRules,
    gross_for_fee,
    round_quote_down,
    round_to_tick,
    truncate_base,
)
from helios.exchange.valr.parsing import OPEN_STATUSES
from helios.exchange.valr.routes import MARKET_ORDER_PATH, MODE
from helios.exchange.valr.signing import sign_request

__all__ = [
    "AUTH_CODES",
    "CENT",
    "MARKET_ORDER_PATH",
    "MODE",
    "OPEN_STATUSES",
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
    "gross_for_fee",
    "round_quote_down",
    "round_to_tick",
    "sign_request",
    "truncate_base",
]
