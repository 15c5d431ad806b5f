"""The benchmark's Freqtrade strategy: the same EMA12/EMA26 cross as Helios' ``ema-cross``
(long entry when EMA12 crosses above EMA26; ``ewm(span, adjust=False)`` seeded at the first
candle), with the parity rules of issue 19: a stop 2% below the entry, a 6% target, exit at any
price after 72 h (``minimal_roi``), no exit signal. Freqtrade finds it by its class name."""

from freqtrade.strategy import IStrategy
from pandas import DataFrame


class EmaCross(IStrategy):
    """EMA12/EMA26 cross, long only. Entry when ema12 crosses above ema26."""

    INTERFACE_VERSION = 3
    timeframe = "5m"
    can_short = False
    stoploss = -0.02
    minimal_roi = {"0": 0.06, "4320": -1}  # noqa: RUF012 (Freqtrade's own attribute)
    trailing_stop = False
    use_exit_signal = False
    process_only_new_candles = True
    startup_candle_count = 0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema12"] = dataframe["close"].ewm(span=12, adjust=False).mean()
        dataframe["ema26"] = dataframe["close"].ewm(span=26, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        cross = (dataframe["ema12"] > dataframe["ema26"]) & (
            dataframe["ema12"].shift(1) <= dataframe["ema26"].shift(1)
        )
        dataframe.loc[cross, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe
