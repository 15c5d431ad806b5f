"""The bars a replay writes at each moment, as the live feed would store them (pure).

The rule (``docs/replay.md``, "One step"): at the close of the bar ending at ``t`` every bar of a
pair that opened before ``t`` and is not written yet is written whole (its close is the latest
price); at ``t`` the bar opening then is written as far as it is known, its open (open, high,
low and close all the open, no volume). Prices go to the ledger's exact 8-decimal form from the
float64 arrays by their shortest text (``repr``), so a 2-decimal price stays itself.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from helios.market.candles import CandleRow
from helios.money import price as to_price
from helios.replay.candles import PairCandles

Batches = dict[str, list[CandleRow]]


def bar_time(seconds: int | np.integer) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def exact_price(value: float) -> Decimal:
    return to_price(Decimal(repr(float(value))))


def whole_bar(c: PairCandles, j: int) -> CandleRow:
    return CandleRow(
        bar_time(c.ts[j]),
        exact_price(c.open[j]),
        exact_price(c.high[j]),
        exact_price(c.low[j]),
        exact_price(c.close[j]),
        Decimal(repr(float(c.volume[j]))),
    )


def closed_bars(
    candles: Mapping[str, PairCandles], written: MutableMapping[str, int], t: int
) -> Batches:
    """Every bar closed by ``t`` not yet written (``written``: each pair's next bar, moved on),
    whole, by pair."""
    batches: Batches = {}
    for pair, c in candles.items():
        done = int(np.searchsorted(c.ts, t))  # bars opening before t have closed
        first = written[pair]
        if done > first:
            batches[pair] = [whole_bar(c, j) for j in range(first, done)]
        written[pair] = done
    return batches


def opening_bars(
    candles: Mapping[str, PairCandles], written: Mapping[str, int], t: int, now: datetime
) -> Batches:
    """The bar opening at ``t`` of each pair that has one, as far as it is known at ``t``."""
    batches: Batches = {}
    for pair, c in candles.items():
        at = written[pair]
        if at < len(c) and int(c.ts[at]) == t:
            value = exact_price(c.open[at])
            batches[pair] = [CandleRow(now, value, value, value, value, Decimal(0))]
    return batches
