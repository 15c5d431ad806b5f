"""What VALR says about the account: its fee per pair, what the API key may do, its open orders.

The rule it owns: these are plain frozen records with VALR's facts already converted (fees as
FRACTIONS, VALR sends percent: 0.35 -> 0.0035; amounts as ``Decimal``; times aware UTC), so
nothing above the adapter reads VALR's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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
