"""The result of one reconciliation pass: per currency, per order, and the pass as a whole.

Frozen values, no I/O (L2). A pass's ``status`` says what it could claim: ``ok``, ``mismatch``,
``baseline_recorded`` (first pass of a LIVE period: nothing to compare yet), ``waiting`` (an
order of ours in flight, or the ledger moved while VALR was asked), ``unreachable`` (VALR could
not be asked: nothing is claimed) or ``not_live``. Amounts are kept as ``Decimal`` and shown as
text (``to_dict``) so that the stored state and the dashboard show exactly what was compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")

# report statuses
OK = "ok"
MISMATCH = "mismatch"
UNREACHABLE = "unreachable"
NOT_LIVE = "not_live"
BASELINE_RECORDED = "baseline_recorded"
WAITING = "waiting"

# order differences
UNEXPECTED_OPEN_ORDER = "unexpected_open_order"
ORDER_UNKNOWN_TO_VALR = "order_unknown_to_valr"


def as_text(value: Decimal | None) -> str | None:
    """An amount as plain text, without trailing zeros (None stays None)."""
    return None if value is None else format(value.normalize(), "f")


def as_money(value: Decimal | None) -> str | None:
    """Rand to the cent as text (None stays None)."""
    return None if value is None else format(value.quantize(CENT), "f")


@dataclass(frozen=True)
class CurrencyCheck:
    """One currency: what the ledger expects VALR to hold, what VALR holds, the difference
    (actual - expected) and whether it is rounding (``within_tolerance``). ``in_flight``: not
    judged this pass (an order of ours is between VALR and the ledger)."""

    currency: str
    baseline: Decimal
    movements: Decimal
    expected: Decimal
    actual: Decimal
    difference: Decimal
    tolerance: Decimal
    within_tolerance: bool
    value_zar: Decimal | None  # |difference| in rand at the latest price (None: no price)
    in_flight: bool = False
    fills: int = 0

    @property
    def mismatched(self) -> bool:
        return not self.in_flight and not self.within_tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "baseline": as_text(self.baseline),
            "movements": as_text(self.movements),
            "expected": as_text(self.expected),
            "actual": as_text(self.actual),
            "difference": as_text(self.difference),
            "tolerance": as_text(self.tolerance),
            "within_tolerance": self.within_tolerance,
            "value_zar": as_money(self.value_zar),
            "in_flight": self.in_flight,
            "fills": self.fills,
        }


@dataclass(frozen=True)
class OrderIssue:
    """An order that does not fit the ledger (``kind``: ``unexpected_open_order``, an open order
    of ours on VALR whose position is not OPENING/CLOSING; ``order_unknown_to_valr``, a position
    OPENING/CLOSING past the grace whose order VALR does not know)."""

    kind: str
    client_order_id: str
    position_id: int | None
    pair: str
    detail: str
    value_zar: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "client_order_id": self.client_order_id,
            "position_id": self.position_id,
            "pair": self.pair,
            "detail": self.detail,
            "value_zar": as_money(self.value_zar),
        }


@dataclass(frozen=True)
class ReconcileReport:
    """One pass. ``status``: ``ok``, ``mismatch``, ``baseline_recorded`` (first pass of a LIVE
    period: nothing to compare yet), ``waiting`` (in flight, or the ledger moved during the
    pass), ``unreachable`` (VALR could not be asked; nothing claimed), ``not_live``."""

    checked_at: datetime
    status: str
    message: str
    currencies: tuple[CurrencyCheck, ...] = ()
    orders: tuple[OrderIssue, ...] = ()
    total_value_zar: Decimal = Decimal(0)
    threshold_zar: Decimal = Decimal(0)
    over_threshold: bool = False
    halted: bool = False  # this pass asked for the reconciliation halt
    baseline_at: datetime | None = None
    error: str | None = None
    unvalued: tuple[str, ...] = field(default=())  # differing currencies without a price

    @property
    def matches(self) -> bool:
        return self.status in (OK, BASELINE_RECORDED)

    @property
    def mismatched(self) -> bool:
        return self.status == MISMATCH

    def currency(self, code: str) -> CurrencyCheck:
        for line in self.currencies:
            if line.currency == code.upper():
                return line
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "status": self.status,
            "message": self.message,
            "currencies": [line.to_dict() for line in self.currencies],
            "orders": [issue.to_dict() for issue in self.orders],
            "total_value_zar": as_money(self.total_value_zar),
            "threshold_zar": as_money(self.threshold_zar),
            "over_threshold": self.over_threshold,
            "halted": self.halted,
            "baseline_at": self.baseline_at.isoformat() if self.baseline_at else None,
            "error": self.error,
            "unvalued": list(self.unvalued),
        }


__all__ = [
    "BASELINE_RECORDED",
    "CENT",
    "MISMATCH",
    "NOT_LIVE",
    "OK",
    "ORDER_UNKNOWN_TO_VALR",
    "UNEXPECTED_OPEN_ORDER",
    "UNREACHABLE",
    "WAITING",
    "CurrencyCheck",
    "OrderIssue",
    "ReconcileReport",
    "as_money",
    "as_text",
]
