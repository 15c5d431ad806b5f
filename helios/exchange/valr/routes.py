"""Where the LIVE adapter talks to VALR: the REST routes it uses (``shared/VALR_API.md``
§3-§7), how an id becomes one URL path segment, and the tags every VALR log line carries.

The rule it owns: an id (ours or VALR's) is quoted into exactly ONE path segment, so no id can
change the route it is looked up on; and every line about real money is logged under
``helios.exchange.valr`` with ``mode=LIVE``, so one grep finds every live order.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

LOGGER = "helios.exchange.valr"  # every module of the adapter logs here (operators filter on it)
MODE = "LIVE"

PAIRS_PATH = "/v1/public/pairs"
FEES_PATH = "/v1/account/fees/trade"
BALANCES_PATH = "/v1/account/balances"
API_KEY_PATH = "/v1/account/api-keys/current"
MARGIN_STATUS_PATH = "/v1/margin/account/status"
OPEN_ORDERS_PATH = "/v1/orders/open"
MARKET_ORDER_PATH = "/v1/orders/market"


def seg(value: str) -> str:
    """One URL path segment (ids are alphanumeric with dashes; quote anything else)."""
    return quote(str(value), safe="-")


def summary_by_customer_id(coid: str) -> str:
    """The history summary of a COMPLETED order, by our ``customerOrderId`` (API §4.3)."""
    return f"/v1/orders/history/summary/customerorderid/{seg(coid)}"


def summary_by_order_id(order_id: str) -> str:
    """The history summary of a COMPLETED order, by VALR's order id (API §4.3)."""
    return f"/v1/orders/history/summary/orderid/{seg(order_id)}"


def status_by_customer_id(pair: str, coid: str) -> str:
    """The status route (any state, the pair in the path): sees an order accepted, not placed."""
    return f"/v1/orders/{pair.upper()}/customerorderid/{seg(coid)}"


def logger() -> logging.Logger:
    """The adapter's logger (``helios.exchange.valr``)."""
    return logging.getLogger(LOGGER)
