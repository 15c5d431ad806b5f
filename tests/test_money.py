"""The ledger's number rules: Decimals in, Decimals out, never a binary float."""

from decimal import Decimal

import numpy as np
import pytest

from helios.errors import InvalidInput
from helios.money import fmt_zar, price, qty, to_decimal, zar


def test_floats_enter_through_their_shortest_repr_not_their_binary_value() -> None:
    assert to_decimal(0.1, "x") == Decimal("0.1")
    assert to_decimal(np.float64(1200000.5), "x") == Decimal("1200000.5")
    assert to_decimal(np.int64(3), "x") == Decimal(3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", None, True, [1], np.nan])
def test_non_numbers_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput, match="position_size_zar"):
        to_decimal(bad, "position_size_zar")


def test_kinds_round_half_even_to_their_places() -> None:
    assert zar("0.000000005") == Decimal("0")  # half-even: down to the even 0
    assert zar("0.000000015") == Decimal("0.00000002")
    assert price("1199999.999999995") == Decimal("1199999.99999999") + Decimal("0.00000001")
    assert qty("0.0000000000005") == Decimal("0")
    assert fmt_zar(Decimal("-1234.565")) == "-R1,234.56"
    assert fmt_zar(Decimal("1234.575")) == "R1,234.58"
