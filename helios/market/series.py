"""Candle tables and return series, for analysis: floats, indexed by the bar open time.

The exact values stay in the database (decimals); what leaves as a table is float, for pandas
and numpy. A return is close-to-close between consecutive stored bars, log (default, additive
over time, what volatility and covariance are fitted on) or simple; the first bar has none.
Pure: rows in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helios.db.models import Candle


def candles_frame(rows: list[Candle]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime([row.ts for row in rows], utc=True),
            "open": [float(row.open) for row in rows],
            "high": [float(row.high) for row in rows],
            "low": [float(row.low) for row in rows],
            "close": [float(row.close) for row in rows],
            "volume": [float(row.volume) for row in rows],
        }
    )


def close_returns(frame: pd.DataFrame, kind: str, name: str) -> pd.Series:
    """Close-to-close returns of a candle table (``kind`` 'log' or 'simple'), indexed by the bar
    open time, named ``name``."""
    closes = frame.set_index("timestamp")["close"]
    series = np.log(closes).diff() if kind == "log" else closes.pct_change()
    return series.dropna().rename(name)
