"""CSV candles (``timestamp, open, high, low, close, volume``, as in ``../shared/data``) to
Freqtrade's feather files, for the benchmark's Freqtrade side. Runs in the Freqtrade venv.

    python convert.py SRC_DIR DST_DIR BTC ETH SOL

reads ``SRC_DIR/{BASE}-USDT_5m.csv`` and writes ``DST_DIR/{BASE}_USDT-5m.feather`` through
Freqtrade's own ``FeatherDataHandler`` (so the layout is the one its backtest reads).
"""

import sys
from pathlib import Path

import pandas as pd
from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
from freqtrade.enums import CandleType

COLUMNS = ["open", "high", "low", "close", "volume"]


def main(argv: list[str]) -> int:
    src, dst, bases = Path(argv[0]), Path(argv[1]), argv[2:]
    dst.mkdir(parents=True, exist_ok=True)
    handler = FeatherDataHandler(dst)
    for base in bases:
        frame = pd.read_csv(src / f"{base}-USDT_5m.csv")
        frame["date"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame[["date", *COLUMNS]].astype(dict.fromkeys(COLUMNS, "float64"))
        handler.ohlcv_store(f"{base}/USDT", "5m", frame, CandleType.SPOT)
        print(base, len(frame), frame["date"].iloc[0], frame["date"].iloc[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
