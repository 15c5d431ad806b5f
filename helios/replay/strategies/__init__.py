"""Strategies that ship with Helios for replay: each module defines ``signals(pair, candles)``
returning the bars a signal fired on (``helios.replay.sources.load_strategy`` finds them by name,
e.g. ``ema-cross``). Pure: pandas in, pandas out, no database."""
