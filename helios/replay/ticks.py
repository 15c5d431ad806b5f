"""The price grid a candle file is quoted on (pure).

Freqtrade places a stop on the price precision of the data it backtests (the most decimals its
prices show); the ``freqtrade`` rules profile does the same through ``PRICE_TICK`` (a stop on
the grid, rounded toward the entry), so the replay's stops are its stops. The rule: the tick is
``10 ** -d`` for the fewest decimals ``d`` (at most 8, the ledger's) that every open, high, low
and close of every pair is a whole multiple of.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import numpy as np

MAX_DECIMALS = 8


def data_tick(columns: Iterable[np.ndarray]) -> Decimal:
    """The tick the prices in ``columns`` are quoted on (``Decimal("0.01")`` for prices with
    at most two decimals)."""
    chosen = 0
    for values in columns:
        finite = values[np.isfinite(values)]
        while chosen < MAX_DECIMALS:
            scaled = finite * 10.0**chosen
            if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
                break
            chosen += 1
    return Decimal(1).scaleb(-chosen)
