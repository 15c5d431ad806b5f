"""The replay's source of prices: candle files (CSV or Parquet) or a candle table, checked, cut to
the period, converted to ZAR and with their gaps reported and filled. Pure except for reading the
file: no database, no clock.

Rules:

- **Files.** CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) in the common OHLCV layout
  ``timestamp, open, high, low, close, volume`` (column names are matched ignoring case and
  surrounding spaces; other columns are ignored). ``timestamp`` is the bar's OPEN time: ISO 8601
  (an offset is converted to UTC, no offset is read as UTC), epoch seconds or epoch milliseconds
  (integers; milliseconds when the largest is at least 10^11), or a Parquet timestamp column.
- **Checks.** Every error is an ``InvalidInput`` whose field names the source (the file), the
  1-based data row (the header is not counted), the bar's time when it is known, and the column:
  a missing, unreadable or unsupported file; missing columns; an empty table; a timestamp that is
  not a time; a price that is not a finite number > 0 or a volume that is not a finite number
  >= 0; high below low; open or close outside [low, high]; a timestamp repeated or earlier than
  the row before (rows must be in ascending time order, each time once); an interval not in
  ``helios.market.candles.SUPPORTED_INTERVALS``; a bar whose open time is off the interval grid
  (multiples of the interval since 1970-01-01 UTC, as exchanges open their bars). The whole file is
  checked, not only the period.
- **Interval.** The most common step between timestamps (``helios.market.candles.infer_interval``;
  a one-row table is a day).
- **Period.** ``start`` inclusive, ``end`` exclusive, on the bar open time (naive datetimes are
  UTC). A period with no bars is an ``InvalidInput`` naming the source, the period and the range
  the file covers.
- **Gaps.** Bars missing between two bars inside the period are reported as ``Gap`` (the first
  missing bar's open time and the count). With ``fill_gaps`` (the default) each is filled with flat
  candles at the previous close: open = high = low = close = the previous bar's close, volume 0,
  marked in ``filled`` (Freqtrade's rule). With ``fill_gaps=False`` a gap is an ``InvalidInput``
  ("a hole in the candles") naming the pair, the first missing bar and the count. Bars missing
  before the first or after the last bar of the data are not gaps: the data start or end there.
- **Factor.** ``factor`` (> 0, finite) multiplies open, high, low and close (a conversion to ZAR);
  volume is unchanged. A factor of 1 leaves the prices exactly as read.
- **Several pairs.** ``align`` checks that every pair has the same interval.

Prices here are float64 arrays (fast scans over many bars); whatever reaches the ledger is
converted to ``Decimal`` by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helios.clock import ensure_utc
from helios.errors import InvalidInput
from helios.market.candles import COLUMNS, SUPPORTED_INTERVALS, infer_interval

PRICE_COLUMNS = ("open", "high", "low", "close")
SUFFIXES = (".csv", ".parquet", ".pq")
SPEC_FORM = (
    "PAIR=PATH or PAIR=PATH*FACTOR (e.g. BTCZAR=data/BTC-USDT_5m.csv*18.5): a ZAR pair "
    "(2-12 letters or digits then ZAR), a CSV or Parquet file, and an optional factor > 0 that "
    "converts the prices to ZAR"
)
PAIR_PATTERN = re.compile(r"^[A-Z0-9]{2,12}ZAR$")
EPOCH_MS_FROM = 10**11  # an epoch in seconds reaches 10^11 in the year 5138
NS = 1_000_000_000


@dataclass(frozen=True)
class Gap:
    pair: str
    start: datetime  # open time of the first missing bar (UTC)
    bars: int  # how many bars were missing
    filled: bool  # True when filled with flat candles


@dataclass(frozen=True, eq=False)
class PairCandles:
    """One pair's bars on one interval grid, ascending, with no holes once filled."""

    pair: str
    interval: int  # seconds, one of SUPPORTED_INTERVALS
    ts: np.ndarray  # int64 epoch seconds of the bar open times
    open: np.ndarray  # float64, in ZAR (after the factor)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    filled: np.ndarray  # bool, True for the bars made by filling a gap
    gaps: tuple[Gap, ...]
    source: str  # the file path, or "stored"

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def frame(self) -> pd.DataFrame:
        """The bars as a candle table: timestamp (aware UTC), open, high, low, close, volume."""
        return pd.DataFrame(
            {
                "timestamp": pd.to_datetime(self.ts, unit="s", utc=True),
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            }
        )

    def time(self, i: int) -> datetime:
        """Bar ``i``'s open time, aware UTC."""
        return datetime.fromtimestamp(int(self.ts[i]), UTC)

    def between(self, start: datetime | None, end: datetime | None) -> PairCandles:
        """The bars with ``start <= open time < end`` (either bound may be None); may be empty.
        Gaps are cut to the part inside the period."""
        lo, hi = _bounds(start, end)
        first = 0 if lo is None else int(np.searchsorted(self.ts, lo, side="left"))
        last = len(self) if hi is None else int(np.searchsorted(self.ts, hi, side="left"))
        last = max(first, last)
        gaps = []
        for gap in self.gaps:
            gap_lo = int(gap.start.timestamp())
            gap_hi = gap_lo + gap.bars * self.interval
            cut_lo = gap_lo if lo is None else max(gap_lo, _ceil_grid(lo, self.interval))
            cut_hi = gap_hi if hi is None else min(gap_hi, _ceil_grid(hi, self.interval))
            if cut_hi > cut_lo:
                bars = (cut_hi - cut_lo) // self.interval
                start_at = datetime.fromtimestamp(cut_lo, UTC)
                gaps.append(Gap(gap.pair, start_at, bars, gap.filled))
        return _frozen(
            self.pair,
            self.interval,
            self.ts[first:last],
            [getattr(self, name)[first:last] for name in PRICE_COLUMNS],
            self.volume[first:last],
            self.filled[first:last],
            tuple(gaps),
            self.source,
        )


def parse_candle_spec(spec: str) -> tuple[str, str, Decimal]:
    """``"BTCZAR=PATH"`` or ``"BTCZAR=PATH*18.5"`` -> (pair, path, factor)."""
    if not isinstance(spec, str) or "=" not in spec:
        raise InvalidInput("--candles", spec, SPEC_FORM)
    pair, _, rest = spec.partition("=")
    pair = pair.strip().upper()
    path, factor = rest.strip(), Decimal(1)
    if "*" in path:
        head, _, tail = path.rpartition("*")
        try:
            factor = Decimal(tail.strip())
        except InvalidOperation:
            raise InvalidInput("--candles", spec, SPEC_FORM + f" (factor {tail!r})") from None
        path = head.strip()
        if not factor.is_finite() or factor <= 0:
            raise InvalidInput("--candles", spec, SPEC_FORM + f" (factor {tail.strip()} <= 0)")
    if not PAIR_PATTERN.fullmatch(pair) or not path:
        raise InvalidInput("--candles", spec, SPEC_FORM)
    return pair, path, factor


def load_candle_file(
    pair: str,
    path: str | Path,
    *,
    factor: Decimal | float = 1,
    start: datetime | None = None,
    end: datetime | None = None,
    fill_gaps: bool = True,
) -> PairCandles:
    """Read, check, cut, convert and fill one pair's candle file (see the module's rules)."""
    file = Path(path)
    source = str(file)
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(source, file.suffix or "no suffix", "a .csv, .parquet or .pq file")
    if not file.is_file():
        raise InvalidInput(source, "no such file", "an existing CSV or Parquet candle file")
    try:
        frame = pd.read_csv(file) if suffix == ".csv" else pd.read_parquet(file)
    except Exception as exc:  # any reader failure is an unreadable file
        detail = f"{type(exc).__name__}: {str(exc).strip()[:160]}"
        raise InvalidInput(source, detail, _readable(suffix)) from None
    return from_frame(
        pair, frame, source=source, factor=factor, start=start, end=end, fill_gaps=fill_gaps
    )


def from_frame(
    pair: str,
    frame: pd.DataFrame,
    *,
    source: str,
    factor: Decimal | float = 1,
    start: datetime | None = None,
    end: datetime | None = None,
    fill_gaps: bool = True,
    interval: int | None = None,
) -> PairCandles:
    """Check, cut, convert and fill one pair's candle table (see the module's rules).
    ``interval`` (seconds): the bar length when it is known (the stored candles of one
    interval) rather than inferred from the steps (one bar, or gaps, would mislead it)."""
    scale = _factor(factor, source)
    lo, hi = _bounds(start, end)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            source, type(frame).__name__, "a table with columns " + ", ".join(COLUMNS)
        )
    names = {str(column).strip().lower(): column for column in frame.columns}
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise InvalidInput(
            f"{source} columns",
            [str(column) for column in frame.columns],
            f"must include {', '.join(COLUMNS)} (missing {', '.join(missing)})",
        )
    if frame.empty:
        raise InvalidInput(source, "no rows", "at least one candle")
    ns = _timestamps(frame[names["timestamp"]], source)
    values = {column: _numbers(frame[names[column]], column, ns, source) for column in COLUMNS[1:]}
    _check_prices(values, ns, source)
    _check_order(ns, source)
    interval = _interval(ns, source) if interval is None else _known(interval, source)
    off = np.flatnonzero(ns % (interval * NS))
    if off.size:
        row = int(off[0])
        raise InvalidInput(
            _where(source, row, ns[row], "timestamp"),
            _iso(ns[row]),
            f"a bar open time on the {interval} s grid (multiples of {interval} s since "
            "1970-01-01 UTC)",
        )
    ts = ns // NS
    first = 0 if lo is None else int(np.searchsorted(ts, lo, side="left"))
    last = ts.size if hi is None else int(np.searchsorted(ts, hi, side="left"))
    if last <= first:
        period = f"{_when(lo)} .. {_when(hi)} (start inclusive, end exclusive)"
        raise InvalidInput(
            f"{source} period ({pair})",
            period,
            f"a period with bars: the file covers {_iso(ns[0])} .. {_iso(ns[-1])} "
            f"({ts.size} bars of {interval} s)",
        )
    ts = ts[first:last]
    prices = [values[column][first:last] for column in PRICE_COLUMNS]
    if scale != 1.0:
        prices = [column * scale for column in prices]
    volume = values["volume"][first:last]
    return _fill(pair, interval, ts, prices, volume, source, fill_gaps)


def align(candles: Mapping[str, PairCandles]) -> dict[str, PairCandles]:
    """The pairs' candles, checked to share one interval."""
    if not candles:
        raise InvalidInput("candles", {}, "at least one pair's candles")
    for key, pair_candles in candles.items():
        if pair_candles.pair != key:
            raise InvalidInput(f"candles[{key}]", pair_candles.pair, f"the candles of {key}")
    intervals = {pair: pair_candles.interval for pair, pair_candles in candles.items()}
    if len(set(intervals.values())) > 1:
        raise InvalidInput(
            "candles interval",
            intervals,
            "one interval (seconds) for every pair: give files of the same bar length",
        )
    return dict(candles)


# --- checks ---------------------------------------------------------------------------------


def _timestamps(column: pd.Series, source: str) -> np.ndarray:
    """The open times as int64 nanoseconds since 1970-01-01 UTC."""
    allowed = "a bar open time: ISO 8601 (UTC), epoch seconds or epoch milliseconds"
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        times = column if column.dt.tz is not None else column.dt.tz_localize(UTC)
        times = times.dt.tz_convert(UTC)
    elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype=float)
        bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInput(
                _where(source, row, None, "timestamp"), _plain(column.iloc[row]), allowed
            )
        unit = "ms" if np.abs(numbers).max() >= EPOCH_MS_FROM else "s"
        times = pd.Series(pd.to_datetime(column.to_numpy(dtype=np.int64), unit=unit, utc=True))
    else:
        times = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    bad = times.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(
            _where(source, row, None, "timestamp"), _plain(column.iloc[row]), allowed
        )
    naive = times.dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[ns]").astype(np.int64)


def _numbers(column: pd.Series, name: str, ns: np.ndarray, source: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if name == "volume":
        bad, rule = ~(values >= 0) | ~np.isfinite(values), "a finite number >= 0"
    else:
        bad, rule = ~(values > 0) | ~np.isfinite(values), "a finite number > 0"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(_where(source, row, ns[row], name), _plain(column.iloc[row]), rule)
    return values


def _check_prices(values: dict[str, np.ndarray], ns: np.ndarray, source: str) -> None:
    high, low = values["high"], values["low"]
    bad = np.flatnonzero(high < low)
    if bad.size:
        row = int(bad[0])
        raise InvalidInput(
            _where(source, row, ns[row], "high"),
            {"high": _plain(high[row]), "low": _plain(low[row])},
            "high >= low",
        )
    for name in ("open", "close"):
        column = values[name]
        bad = np.flatnonzero((column < low) | (column > high))
        if bad.size:
            row = int(bad[0])
            raise InvalidInput(
                _where(source, row, ns[row], name),
                {name: _plain(column[row]), "low": _plain(low[row]), "high": _plain(high[row])},
                f"low <= {name} <= high",
            )


def _check_order(ns: np.ndarray, source: str) -> None:
    steps = np.diff(ns)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        row = int(bad[0]) + 1
        what = "repeated" if steps[row - 1] == 0 else "earlier than"
        raise InvalidInput(
            _where(source, row, ns[row], "timestamp"),
            _iso(ns[row]),
            f"ascending times, each once ({what} row {row}: {_iso(ns[row - 1])})",
        )


def _known(interval: int, source: str) -> int:
    if interval not in SUPPORTED_INTERVALS:
        raise InvalidInput(f"{source} interval", interval, f"one of {SUPPORTED_INTERVALS} seconds")
    return interval


def _interval(ns: np.ndarray, source: str) -> int:
    seconds = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), name="timestamp")
    interval = infer_interval(seconds.to_frame())
    if interval not in SUPPORTED_INTERVALS:
        raise InvalidInput(
            f"{source} interval",
            interval,
            f"one of {SUPPORTED_INTERVALS} seconds (the most common step between timestamps)",
        )
    return interval


# --- gaps -----------------------------------------------------------------------------------


def _fill(
    pair: str,
    interval: int,
    ts: np.ndarray,
    prices: list[np.ndarray],
    volume: np.ndarray,
    source: str,
    fill_gaps: bool,
) -> PairCandles:
    steps = np.diff(ts)
    holes = np.flatnonzero(steps != interval)
    gaps = tuple(
        Gap(
            pair,
            datetime.fromtimestamp(int(ts[i]) + interval, UTC),
            int(steps[i] // interval) - 1,
            True,
        )
        for i in holes
    )
    if not gaps:
        return _frozen(pair, interval, ts, prices, volume, np.zeros(ts.size, bool), (), source)
    if not fill_gaps:
        gap = gaps[0]
        raise InvalidInput(
            f"{source} candles of {pair}",
            f"{gap.bars} bars missing from {gap.start.isoformat()}",
            f"no hole in the candles (a hole in the candles: {len(gaps)} in the period; "
            "fill the gaps with flat candles or give complete data)",
        )
    position = (ts - ts[0]) // interval
    size = int(position[-1]) + 1
    grid = ts[0] + np.arange(size, dtype=np.int64) * interval
    present = np.zeros(size, bool)
    present[position] = True
    source_row = np.full(size, -1, np.int64)
    source_row[position] = np.arange(ts.size)
    previous = np.maximum.accumulate(source_row)  # the last real bar at or before each slot
    close = prices[3][previous]
    full = []
    for column in prices:
        values = close.copy()
        values[position] = column
        full.append(values)
    full_volume = np.zeros(size)
    full_volume[position] = volume
    return _frozen(pair, interval, grid, full, full_volume, ~present, gaps, source)


# --- helpers --------------------------------------------------------------------------------


def _frozen(
    pair: str,
    interval: int,
    ts: np.ndarray,
    prices: list[np.ndarray],
    volume: np.ndarray,
    filled: np.ndarray,
    gaps: tuple[Gap, ...],
    source: str,
) -> PairCandles:
    arrays = [
        np.ascontiguousarray(ts, dtype=np.int64),
        *(np.ascontiguousarray(column, dtype=np.float64) for column in prices),
        np.ascontiguousarray(volume, dtype=np.float64),
        np.ascontiguousarray(filled, dtype=bool),
    ]
    for array in arrays:
        array.flags.writeable = False
    ts_, open_, high, low, close, volume_, filled_ = arrays
    return PairCandles(pair, interval, ts_, open_, high, low, close, volume_, filled_, gaps, source)


def _factor(factor: Decimal | float, source: str) -> float:
    try:
        value = float(factor)
    except (TypeError, ValueError, InvalidOperation):
        value = float("nan")
    if isinstance(factor, bool) or not np.isfinite(value) or value <= 0:
        raise InvalidInput(
            f"{source} factor", factor, "a finite number > 0 (prices x factor = ZAR)"
        )
    return value


def _bounds(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    """The period as epoch seconds (start inclusive, end exclusive); naive datetimes are UTC."""
    bounds = []
    for name, when in (("start", start), ("end", end)):
        if when is not None and not isinstance(when, datetime):
            raise InvalidInput(name, when, "a datetime (UTC) or None")
        bounds.append(None if when is None else _seconds(ensure_utc(when)))
    lo, hi = bounds
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput("period", f"{_when(lo)} .. {_when(hi)}", "a start before the end")
    return lo, hi


def _seconds(when: datetime) -> int:
    """Epoch seconds, rounded up (a bar opening at or after ``when``)."""
    stamp = when.timestamp()
    whole = int(stamp)
    return whole + 1 if stamp > whole else whole


def _ceil_grid(seconds: int, interval: int) -> int:
    return -(-seconds // interval) * interval


def _where(source: str, row: int, ns: int | None, column: str) -> str:
    """A field naming the file, the 1-based data row, the bar time when known and the column."""
    at = "" if ns is None else f" ({_iso(ns)})"
    return f"{source} row {row + 1}{at} column {column}"


def _iso(ns: int | np.integer) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz=UTC).isoformat()


def _when(seconds: int | None) -> str:
    return "open" if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (readable in error messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _readable(suffix: str) -> str:
    kind = "CSV" if suffix == ".csv" else "Parquet"
    return f"a readable {kind} file with columns {', '.join(COLUMNS)}"
