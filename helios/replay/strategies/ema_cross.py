"""EMA12/EMA26 cross, long only: the example strategy that ships with Helios (``ema-cross``).

The rule: EMA12 and EMA26 of the close, each ``close.ewm(span=N, adjust=False).mean()`` seeded at
the first candle given (so the EMAs, and the crossings, depend on where the candles start); a BUY
on each bar where EMA12 crosses above EMA26, that is ``ema12 > ema26`` on this bar and
``ema12 <= ema26`` on the bar before (the first bar has no bar before: never a signal). No exit
signal, no short, confidence 0.6, and no size, stop or target: the rules profile (``--rules``)
supplies them. The signal is known at the bar's close, so the replay enters at the next bar's
open.

It mirrors the Freqtrade strategy of the parity test of issue 19 (``EmaCross``:
``populate_indicators`` with the same two ``ewm`` calls, ``populate_entry_trend`` with
``(ema12 > ema26) & (ema12.shift(1) <= ema26.shift(1))``), so both pick the same bars.

Vectorised: two ``ewm`` passes and a comparison, milliseconds for a year of 5m bars (105k).
"""

from __future__ import annotations

import pandas as pd

FAST = 12
SLOW = 26
CONFIDENCE = 0.6


def signals(pair: str, candles: pd.DataFrame) -> pd.DataFrame:
    """The bars (their open time) where EMA12 crosses above EMA26: columns timestamp, side
    (BUY), confidence (0.6). ``candles``: timestamp, open, high, low, close, volume, oldest
    first."""
    close = candles["close"].astype("float64")
    fast = close.ewm(span=FAST, adjust=False).mean()
    slow = close.ewm(span=SLOW, adjust=False).mean()
    fast_now, slow_now = fast.to_numpy(), slow.to_numpy()
    crossed = fast_now > slow_now
    if len(crossed):
        crossed[0] = False  # the first bar has no bar before it
        crossed[1:] &= fast_now[:-1] <= slow_now[:-1]  # as Freqtrade's shift(1) <= shift(1)
    fired = candles["timestamp"].iloc[crossed.nonzero()[0]].reset_index(drop=True)
    return pd.DataFrame({"timestamp": fired, "side": "BUY", "confidence": CONFIDENCE})
