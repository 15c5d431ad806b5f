"""The Exact column's text fast paths give what the general path gives (helios.db.types)."""

from __future__ import annotations

import random
import re
from decimal import Decimal

from helios.db.types import Exact, plain_text, trim


class _Dialect:
    def __init__(self, name: str) -> None:
        self.name = name


def _values() -> list[Decimal]:
    rng = random.Random(19)
    fixed = ["0", "-0", "0.0", "-0.000", "1E+5", "1e-20", "100", "100.00", "5E-19", "0.5", "007"]
    values = [Decimal(text) for text in fixed]
    for _ in range(3000):
        values.append(Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 25)))
        values.append(Decimal(repr(rng.uniform(-1e6, 1e6))))
    return values


def test_stored_text_reads_back_as_the_trimmed_number() -> None:
    exact, sqlite = Exact(), _Dialect("sqlite")
    for value in _values():
        stored = exact.process_bind_param(value, sqlite)  # type: ignore[arg-type]
        assert stored == format(trim(Decimal(stored)), "f") == plain_text(Decimal(stored))
        for text in (stored, str(value), format(value, "f"), f" {stored}"):
            read = exact.process_result_value(text, sqlite)  # type: ignore[arg-type]
            assert repr(read) == repr(trim(Decimal(text.strip())))


def test_the_fast_stored_form_is_the_rounded_one() -> None:
    """``stored_form``'s SQLite text without the rounding (a number that needs none, in range)
    is exactly the text of its definition (rounded half-even to 18 places, range-checked), and
    whatever needs rounding or is out of range still takes the definition."""
    import pytest

    from helios.db.types import _rounded, stored_form

    edge = ["1E+19", "99999999999999999999", "1E+20", "-1E+20", "123456789012345678901", "NaN",
            "Infinity", "-Infinity", "0.000000000000000001", "0.0000000000000000005",
            "0.0000000000000000015", "-0E+3", "1.000000000000000000000"]  # fmt: skip
    for value in _values() + [Decimal(text) for text in edge]:
        try:
            expected = _rounded(value, "sqlite")
        except ValueError as exc:
            with pytest.raises(ValueError, match=re.escape(str(exc))):
                stored_form(value, "sqlite")
            continue
        assert stored_form(value, "sqlite") == expected, value
        assert stored_form(value, "postgresql") == _rounded(value, "postgresql")
