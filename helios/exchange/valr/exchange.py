"""``ValrExchange``: the LIVE ``Exchange`` on VALR, a small composite of the adapter's concepts.

The rule it owns: one object with the ``Exchange`` interface (``submit_market_order``,
``get_order``) plus VALR's account reads, each delegated to the collaborator that owns its rule:
``PairCatalog`` (pair rules and fees, cached), ``OrderPlacer`` (placing exactly once),
``OrderLookup`` (finding an order by ``customerOrderId``), ``FillPoller`` (waiting for the fill),
all over ONE ``ValrClient`` and one ``OrderTiming`` that its attributes read and set.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from helios.config import Settings
from helios.exchange.base import Exchange, OrderRequest, OrderResult
from helios.exchange.valr.account import ApiKeyInfo, OpenOrder, TradeFee
from helios.exchange.valr.catalog import PairCatalog
from helios.exchange.valr.client import ValrClient
from helios.exchange.valr.fills import FillPoller, OrderTiming
from helios.exchange.valr.lookup import OrderLookup
from helios.exchange.valr.pairs import PairRules
from helios.exchange.valr.parsing import api_key_info, balances, margin_enabled
from helios.exchange.valr.placement import OrderPlacer
from helios.exchange.valr.routes import (
    API_KEY_PATH,
    BALANCES_PATH,
    MARGIN_STATUS_PATH,
    logger,
)

log = logger()


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
        self.timing = OrderTiming(
            fill_wait_seconds=settings.valr_fill_wait_seconds,
            poll_interval_seconds=poll_interval_seconds,
            unknown_confirm_seconds=unknown_confirm_seconds,
        )
        self.catalog = PairCatalog(
            self.client,
            default_taker_fee=settings.paper_fee_pct,  # VALR ZAR tier 1 taker, 0.35 %
            pairs_ttl_seconds=pairs_ttl_seconds,
            fees_ttl_seconds=fees_ttl_seconds,
        )
        self.lookup = OrderLookup(self.client, self.catalog)
        self.fills = FillPoller(self.client, self.lookup, self.timing)
        self.placer = OrderPlacer(
            self.client, self.catalog, self.lookup, self.fills, self.timing, self._market_price
        )

    def __repr__(self) -> str:
        return f"ValrExchange({self.client!r})"

    # --- tuning (read and set on the collaborators) -----------------------------------------
    @property
    def fill_wait_seconds(self) -> float:
        return self.timing.fill_wait_seconds

    @fill_wait_seconds.setter
    def fill_wait_seconds(self, value: float) -> None:
        self.timing.fill_wait_seconds = value

    @property
    def poll_interval_seconds(self) -> float:
        return self.timing.poll_interval_seconds

    @poll_interval_seconds.setter
    def poll_interval_seconds(self, value: float) -> None:
        self.timing.poll_interval_seconds = value

    @property
    def unknown_confirm_seconds(self) -> float:
        return self.timing.unknown_confirm_seconds

    @unknown_confirm_seconds.setter
    def unknown_confirm_seconds(self, value: float) -> None:
        self.timing.unknown_confirm_seconds = value

    @property
    def pairs_ttl_seconds(self) -> float:
        return self.catalog.pairs_ttl_seconds

    @pairs_ttl_seconds.setter
    def pairs_ttl_seconds(self, value: float) -> None:
        self.catalog.pairs_ttl_seconds = value

    @property
    def fees_ttl_seconds(self) -> float:
        return self.catalog.fees_ttl_seconds

    @fees_ttl_seconds.setter
    def fees_ttl_seconds(self, value: float) -> None:
        self.catalog.fees_ttl_seconds = value

    @property
    def default_taker_fee(self) -> Decimal:
        return self.catalog.default_taker_fee

    @default_taker_fee.setter
    def default_taker_fee(self, value: Decimal) -> None:
        self.catalog.default_taker_fee = value

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
        return self.catalog.all_pair_rules(refresh=refresh)

    def pair_rules(self, pair: str) -> PairRules:
        """The rules of ``pair``, or ``InvalidInput`` if VALR does not list it."""
        return self.catalog.pair_rules(pair)

    def fees(self, *, refresh: bool = False) -> dict[str, TradeFee]:
        """The account's fees per pair (``GET /v1/account/fees/trade``), as fractions."""
        return self.catalog.fees(refresh=refresh)

    def taker_fee(self, pair: str) -> Decimal:
        """The taker fee of ``pair`` as a fraction: the account's own when VALR tells it, else
        the configured default (PAPER_FEE_PCT, VALR's ZAR tier 1 taker 0.35 %)."""
        return self.catalog.taker_fee(pair)

    # --- account ----------------------------------------------------------------------------
    def balances(self) -> dict[str, Decimal]:
        """Available balance per currency (``GET /v1/account/balances``)."""
        return balances(self.client.get(BALANCES_PATH))

    def api_key_info(self) -> ApiKeyInfo:
        return api_key_info(self.client.get(API_KEY_PATH))

    def margin_enabled(self) -> bool:
        return margin_enabled(self.client.get(MARGIN_STATUS_PATH))

    def open_orders(self) -> list[OpenOrder]:
        return self.lookup.open_orders()

    # --- orders -----------------------------------------------------------------------------
    def submit_market_order(self, request: OrderRequest) -> OrderResult:
        """Place a market order and wait (up to ``valr_fill_wait_seconds``) for its fill.

        InvalidInput before anything is sent (pair rules). An order VALR already knows under
        the client order id is returned (``duplicate=True``), never placed again. A definitive
        refusal is REJECTED; an order accepted whose fill is not known in time is PENDING.
        Raises ``ValrUnavailable`` when the order may exist but VALR cannot be asked,
        ``ValrRateLimited``/``ValrAuthError`` when VALR refused to take it."""
        return self.placer.submit(request)

    def get_order(self, client_order_id: str, pair: str | None = None) -> OrderResult | None:
        """The order VALR knows under ``client_order_id``: FILLED/REJECTED when completed,
        PENDING while open or accepted; None only when VALR answered that it does not know it.
        Raises ``ValrError`` when VALR cannot be asked (a reconcile must not resend then).

        ``pair`` (optional; else the one remembered from ``submit_market_order``) lets the
        status route see an order VALR accepted but has not placed yet."""
        return self.lookup.get_order(client_order_id, pair)
