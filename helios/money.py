"""Exact numbers for the ledger.

Money, prices and quantities are ``Decimal`` from the moment they enter Helios until they are shown:
floats never touch the ledger. Each kind has a fixed number of decimal places so that what Python
computes and what the database stores are the same number (PostgreSQL ``NUMERIC(38, 18)`` and the
SQLite text form both hold these exactly):

- ZAR amounts (cash, fees, P&L, margin, notional): 8 places
- prices (ZAR per unit of the base asset): 8 places
- quantities (units of the base asset): 12 places

Rounding is banker's rounding (half-even), the same everywhere.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from helios.errors import InvalidInput

ZAR_EXP = Decimal("1e-8")
PRICE_EXP = Decimal("1e-8")
QTY_EXP = Decimal("1e-12")
ZERO = Decimal(0)


def to_decimal(value: Any, field: str) -> Decimal:
    """Turn an int, str, Decimal or finite float into a Decimal, or raise InvalidInput.

    Floats are converted through their shortest repr (``0.1`` becomes ``Decimal("0.1")``), so a
    notebook can type ``10000.0`` without smuggling binary noise into the ledger.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidInput(field, value, "a finite number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(field, value, "a finite number")
        result = Decimal(repr(float(value)))  # np.float64 is a float subclass
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(field, value, "a finite number") from None
    else:
        try:  # numpy scalars and friends
            as_float = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(field, value, "a finite number") from None
        return to_decimal(as_float, field)
    if not result.is_finite():
        raise InvalidInput(field, value, "a finite number")
    return result


def zar(value: Any, field: str = "amount") -> Decimal:
    """A ZAR amount rounded to 8 places."""
    return to_decimal(value, field).quantize(ZAR_EXP, rounding=ROUND_HALF_EVEN)


def price(value: Any, field: str = "price") -> Decimal:
    """A price rounded to 8 places."""
    return to_decimal(value, field).quantize(PRICE_EXP, rounding=ROUND_HALF_EVEN)


def qty(value: Any, field: str = "quantity") -> Decimal:
    """A base-asset quantity rounded to 12 places."""
    return to_decimal(value, field).quantize(QTY_EXP, rounding=ROUND_HALF_EVEN)


def qty_down(value: Any, field: str = "quantity") -> Decimal:
    """A base-asset quantity truncated to 12 places: what a quote amount buys, never more (a
    venue does not spend more than the amount it was given)."""
    return to_decimal(value, field).quantize(QTY_EXP, rounding=ROUND_DOWN)


def positive(value: Any, field: str, *, maximum: Decimal | None = None) -> Decimal:
    """A Decimal strictly above zero (and at most ``maximum``), or InvalidInput."""
    number = to_decimal(value, field)
    if number <= 0 or (maximum is not None and number > maximum):
        allowed = "a number > 0" + (f" and <= {maximum:f}" if maximum is not None else "")
        raise InvalidInput(field, value, allowed)
    return number


def fmt_zar(value: Decimal | float | None) -> str:
    """``R1,234.56`` for screens and logs (rounded to cents for display only)."""
    if value is None:
        return "-"
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    sign = "-" if number < 0 else ""
    return f"{sign}R{abs(number).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"
