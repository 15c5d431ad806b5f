"""Column types that keep money exact and times in UTC on both SQLite and PostgreSQL.

- ``Exact``: ``NUMERIC(38, 18)`` on PostgreSQL; on SQLite, whose NUMERIC affinity would store a
  binary float, the canonical decimal text. Values come back as ``Decimal``. Both hold the same
  number: at most 18 decimal places (rounded half-even before storing) and less than 1e20.
  Floats are refused. Consequence: on SQLite do not SUM or ORDER BY these columns in SQL; Helios
  adds them up in Python.
- ``UTCDateTime``: timezone-aware UTC in Python; ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL and
  naive UTC text on SQLite.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SCALE = Decimal("1e-18")
LIMIT = Decimal("1e20")
WIDE = Context(prec=80)  # room for any value quantize() is asked to round to 18 places


class Exact(TypeDecorator[Decimal]):
    impl = Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float | bool):
            raise TypeError(f"floats never enter the ledger: pass a Decimal, not {value!r}")
        number = value if isinstance(value, Decimal) else Decimal(value)
        return stored_form(number, dialect.name)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, str) and _CANONICAL.fullmatch(value):
            return Decimal(value)  # SQLite's stored text is trimmed already (``stored_form``)
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return trim(number)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def stored_form(number: Decimal, dialect_name: str) -> Decimal | str:
    """The value both databases store for ``number``: NUMERIC(38, 18), so at most 20 integer
    digits (larger raises on both, not only on PostgreSQL) and 18 decimal places (rounded
    half-even here, so SQLite keeps the same number PostgreSQL would, not more).

    On SQLite a number that needs no rounding and is in range (every price, quantity and
    amount Helios makes: 8 or 12 places) is its plain text at once, without the rounding
    (``_rounded``), which would only add zeros that the text then strips: every bar a feed or
    a replay writes binds five of these (``tests/test_exact_text.py`` checks the two agree).
    A number whose first digit lies beyond the 18th place (``adjusted() < -18``: it needs
    rounding, and its plain text could be as long as its exponent) takes the definition."""
    if dialect_name == "sqlite" and -18 <= number.adjusted() < 20:
        text = format(number, "f")
        dot = text.find(".")
        if dot >= 0:
            if len(text) - dot - 1 <= 18:  # no rounding needed
                return text.rstrip("0").rstrip(".") or "0"
        elif number.is_finite():  # an integer (NaN and infinities print without a dot)
            return text
    return _rounded(number, dialect_name)


def exact_value(number: Decimal) -> Decimal:
    """The value an exact column gives back for ``number`` (rounded half-even to 18 places, the
    same on both databases): what a writer that keeps a row it wrote instead of reading it back
    must compute with (``helios.market.write_plan``). A non-finite number is left for the
    binding to refuse."""
    if not number.is_finite():
        return number
    return number.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=WIDE)


def _rounded(number: Decimal, dialect_name: str) -> Decimal | str:
    """``stored_form`` by its definition: rounded to 18 places, range-checked."""
    if not number.is_finite():
        raise ValueError(f"non-finite number {number!r} cannot be stored")
    rounded = number.quantize(SCALE, rounding=ROUND_HALF_EVEN, context=WIDE)
    if rounded.copy_abs() >= LIMIT:
        raise ValueError(f"{number} is out of range: an exact column holds less than 1e20")
    if dialect_name == "sqlite":
        return plain_text(rounded)
    return rounded


def plain_text(number: Decimal) -> str:
    """``number`` in plain (not exponent) form without trailing fractional zeros (the text of
    ``trim(number)``)."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def trim(number: Decimal) -> Decimal:
    """The same number without trailing fractional zeros, in plain (not exponent) form."""
    return Decimal(plain_text(number))


# text that is its own ``plain_text``: an optional minus, digits without a leading zero (or one
# zero), and a fraction not ending in zero
_CANONICAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime(timezone=False))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {value!r}")
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime
