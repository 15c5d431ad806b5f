"""``PairCatalog``: VALR's pair rules and the account's fees, read through the client and cached.

The rule it owns: pair rules are read at most once per ``pairs_ttl_seconds`` (VALR itself caches
them 60 s) and fees once per ``fees_ttl_seconds``; a pair VALR does not list is ``InvalidInput``
before anything is sent; and a taker fee is always available: the account's own when VALR tells
it, else the configured default (PAPER_FEE_PCT, VALR's ZAR tier 1 taker, 0.35 %), so a fee
look-up that fails never stops an order.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from helios.errors import InvalidInput
from helios.exchange.valr.account import TradeFee
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.errors import ValrError
from helios.exchange.valr.pairs import PairRules
from helios.exchange.valr.parsing import fee_table, pair_table
from helios.exchange.valr.routes import FEES_PATH, PAIRS_PATH, logger

log = logger()


class PairCatalog:
    """The pairs VALR lists and the account's fees, cached (thread-safe)."""

    def __init__(
        self,
        client: ValrClient,
        *,
        default_taker_fee: Decimal,
        pairs_ttl_seconds: float = 60.0,
        fees_ttl_seconds: float = 300.0,
    ) -> None:
        self.client = client
        self.default_taker_fee = default_taker_fee
        self.pairs_ttl_seconds = pairs_ttl_seconds
        self.fees_ttl_seconds = fees_ttl_seconds
        self._lock = threading.Lock()
        self._pairs: tuple[float, dict[str, PairRules]] | None = None
        self._fees: tuple[float, dict[str, TradeFee]] | None = None

    def all_pair_rules(self, *, refresh: bool = False) -> dict[str, PairRules]:
        """Every pair VALR lists, cached for ``pairs_ttl_seconds`` (VALR caches 60 s)."""
        now = self.client.monotonic()
        with self._lock:
            cached = self._pairs
        if cached is not None and not refresh and now - cached[0] < self.pairs_ttl_seconds:
            return cached[1]
        table = pair_table(self.client.get(PAIRS_PATH, signed=False))
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

    def currencies(self, pair: str) -> tuple[str, str]:
        """(base, quote) of ``pair``: from the cached rules when read, else by its last three
        letters (VALR's ZAR pairs) without a request."""
        with self._lock:
            table = self._pairs[1] if self._pairs else {}
        rules = table.get(pair.upper())
        if rules is not None:
            return rules.base_currency, rules.quote_currency
        return pair[:-3].upper(), pair[-3:].upper()

    def fees(self, *, refresh: bool = False) -> dict[str, TradeFee]:
        """The account's fees per pair (``GET /v1/account/fees/trade``), as fractions."""
        now = self.client.monotonic()
        with self._lock:
            cached = self._fees
        if cached is not None and not refresh and now - cached[0] < self.fees_ttl_seconds:
            return cached[1]
        table = fee_table(self.client.get(FEES_PATH))
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
