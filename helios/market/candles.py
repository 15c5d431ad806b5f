"""Validation of candle tables (timestamp, open, high, low, close, volume).

A candle table enters Helios through ``hx.market.ingest`` or a feed. Bad rows are refused with the
row, the column and the rule, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from helios.errors import InvalidInput
from helios.money import price as to_price
from helios.money import qty as to_qty

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
SUPPORTED_INTERVALS = (60, 300, 900, 1800, 3600, 14400, 21600, 43200, 86400)
DAY = 86400
# No price or volume of a candle reaches 1e15 (ZAR or units): the bound keeps every figure inside
# the exact columns (a price is rounded to 8 places, a volume to 12; 1e20 overflowed the Decimal
# context and raised a bare decimal.InvalidOperation that named nothing). ``set_price`` uses it.
MAX_CANDLE_VALUE = Decimal("1e15")


@dataclass(frozen=True)
class CandleRow:
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def validate_candles(frame: pd.DataFrame, field: str = "candles") -> pd.DataFrame:
    """Check a candle table and return it sorted by timestamp with UTC timestamps."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            field, type(frame).__name__, "a pandas DataFrame with columns " + ", ".join(COLUMNS)
        )
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{field}.columns",
            list(frame.columns),
            f"must include {', '.join(COLUMNS)} (missing {', '.join(missing)})",
        )
    if frame.empty:
        raise InvalidInput(field, "an empty table", "at least one candle")
    table = frame.loc[:, list(COLUMNS)].copy()
    try:
        table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{field}.timestamp", str(exc)[:80], "ISO 8601 times (UTC)") from None
    if table["timestamp"].isna().any():
        row = int(np.flatnonzero(table["timestamp"].isna().to_numpy())[0])
        raise InvalidInput(f"{field}.timestamp[{row}]", None, "a time, not empty")
    for column in COLUMNS[1:]:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInput(
                f"{field}.{column}[{row}]", frame[column].iloc[row], "a finite number"
            )
        limit_ok = (values >= 0 if column == "volume" else values > 0) & (
            values <= float(MAX_CANDLE_VALUE)
        )
        if not limit_ok.all():
            row = int(np.flatnonzero(~limit_ok.to_numpy())[0])
            rule = (">= 0" if column == "volume" else "> 0") + f" and <= {MAX_CANDLE_VALUE:f}"
            raise InvalidInput(f"{field}.{column}[{row}]", frame[column].iloc[row], rule)
    table = table.sort_values("timestamp", kind="stable")
    if table["timestamp"].duplicated().any():
        dup = table.loc[table["timestamp"].duplicated(), "timestamp"].iloc[0]
        raise InvalidInput(f"{field}.timestamp", dup.isoformat(), "each timestamp once")
    numeric = table[["open", "high", "low", "close"]].apply(pd.to_numeric)
    bad_high = numeric["high"] < numeric[["open", "close", "low"]].max(axis=1)
    bad_low = numeric["low"] > numeric[["open", "close"]].min(axis=1)
    if bad_high.any() or bad_low.any():
        position = int(np.flatnonzero((bad_high | bad_low).to_numpy())[0])
        row = table.iloc[position]
        column = "high" if bad_high.iloc[position] else "low"
        raise InvalidInput(
            f"{field}.{column}[{row['timestamp'].isoformat()}]",
            {k: _plain(row[k]) for k in ("open", "high", "low", "close")},
            "high >= open, close, low and low <= open, close",
        )
    return table.reset_index(drop=True)


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (readable in error messages)."""
    return value.item() if isinstance(value, np.generic) else value


def infer_interval(table: pd.DataFrame) -> int:
    """The bar length in seconds: the most common step between timestamps (a day if one row)."""
    if len(table) < 2:
        return DAY
    steps = table["timestamp"].diff().dropna().dt.total_seconds().astype(int)
    step = int(steps.mode().iloc[0])
    return step


def check_interval(seconds: int, field: str = "interval") -> int:
    if seconds not in SUPPORTED_INTERVALS:
        raise InvalidInput(field, seconds, f"one of {SUPPORTED_INTERVALS} seconds")
    return seconds


def parse_interval(value: int | str) -> int:
    """``"1d"``, ``"1h"``, ``"5m"``, ``"60s"`` or a number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return check_interval(value)
    if isinstance(value, str):
        units = {"s": 1, "m": 60, "h": 3600, "d": DAY}
        text = value.strip().lower()
        if text[-1:] in units and text[:-1].isdigit():
            return check_interval(int(text[:-1]) * units[text[-1]], "interval")
        if text.isdigit():
            return check_interval(int(text))
    raise InvalidInput("interval", value, "like '1d', '1h', '5m', '1m' or seconds")


def to_rows(table: pd.DataFrame) -> list[CandleRow]:
    """Exact candle rows (Decimal prices) from a validated table."""
    rows = []
    for record in table.itertuples(index=False):
        rows.append(
            CandleRow(
                ts=record.timestamp.to_pydatetime(),
                open=to_price(_plain(record.open), "open"),
                high=to_price(_plain(record.high), "high"),
                low=to_price(_plain(record.low), "low"),
                close=to_price(_plain(record.close), "close"),
                volume=to_qty(_plain(record.volume), "volume"),
            )
        )
    return rows
