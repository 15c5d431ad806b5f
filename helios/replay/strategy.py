"""A strategy as a source of signals: a function from candles to signals, run over the candles
(``load_strategy`` then ``signals_from_strategy``).

A strategy is a built-in name (``ema-cross``, ``helios.replay.strategies``) or a ``.py`` file
defining ``signals(pair, candles)``, called once per pair with the whole table (columns
timestamp (the bar's open time, UTC), open, high, low, close, volume) and returning the bars it
fires on (``timestamp``, ``side`` and optionally ``confidence``, ``size``, ``stop``,
``target``). A signal on a bar becomes known at that bar's close (``ReplaySignal.at``). A file
that raises on import or when called is ``StrategyFailed`` naming the file and the exception.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helios.errors import InvalidInput
from helios.replay.sources import (
    OPTIONAL,
    STRATEGY_COLUMNS,
    ReplaySignal,
    StrategyFailed,
    _side,
    _signal,
    _sorted,
)
from helios.replay.strategies import ema_cross

Strategy = Callable[[str, pd.DataFrame], pd.DataFrame]
BUILT_IN: dict[str, Strategy] = {"ema-cross": ema_cross.signals}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _named(function: Strategy, source: str) -> Strategy:
    """``function`` whose failures name ``source`` (the file or the built-in name)."""

    @functools.wraps(function)
    def run(pair: str, candles: pd.DataFrame) -> pd.DataFrame:
        try:
            return function(pair, candles)
        except Exception as exc:
            raise _failed(source, pair, exc) from exc

    run.helios_source = source  # type: ignore[attr-defined]
    return run


def _failed(source: str, pair: str, exc: BaseException) -> StrategyFailed:
    return StrategyFailed(
        "strategy",
        source,
        f"a signals(pair, candles) that runs: for {pair} it raised {type(exc).__name__}: {exc}",
    )


def load_strategy(spec: str) -> Strategy:
    """A built-in strategy by name (``ema-cross``) or the ``signals`` function of a ``.py``
    file, imported under a unique module name (its folder is on ``sys.path`` only while it is
    imported, so it may import modules beside it)."""
    usage = (
        f"a built-in strategy ({', '.join(BUILT_IN)}) or a path to a .py file defining "
        "signals(pair, candles) -> DataFrame"
    )
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput("strategy", spec, usage)
    name = spec.strip()
    if name in BUILT_IN:
        return _named(BUILT_IN[name], name)
    path = Path(name).expanduser()
    if path.suffix != ".py":
        raise InvalidInput("strategy", spec, usage)
    if not path.is_file():
        raise InvalidInput("strategy", str(path), usage + " (no such file)")
    module_name = f"helios_replay_strategy_{uuid.uuid4().hex}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise InvalidInput("strategy", str(path), usage + " (it cannot be imported)")
    module = importlib.util.module_from_spec(module_spec)
    folder = str(path.resolve().parent)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up there
    sys.path.insert(0, folder)
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        raise StrategyFailed(
            "strategy",
            str(path),
            f"a file that imports cleanly: importing it raised {type(exc).__name__}: {exc}",
        ) from exc
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    function = getattr(module, "signals", None)
    if not callable(function):
        sys.modules.pop(module_name, None)
        raise InvalidInput(
            "strategy", str(path), "a file defining signals(pair, candles) (it has none)"
        )
    return _named(function, str(path))


def _source_of(strategy: Any) -> str:
    source = getattr(strategy, "helios_source", None)
    if isinstance(source, str):
        return source
    module = getattr(strategy, "__module__", None) or "?"
    return f"{module}.{getattr(strategy, '__qualname__', repr(strategy))}"


def _nanoseconds(stamps: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch of a parsed (aware UTC) time column."""
    return stamps.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").view("int64")


def _bar_times(pair: str, frame: Any) -> np.ndarray:
    layout = "a DataFrame of candles: timestamp (aware UTC, the bar's open), open, ..., volume"
    if not isinstance(frame, pd.DataFrame) or "timestamp" not in frame.columns:
        raise InvalidInput(f"candles[{pair}]", type(frame).__name__, layout)
    try:
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"candles[{pair}].timestamp", str(exc), layout) from None
    if stamps.isna().any():
        raise InvalidInput(f"candles[{pair}].timestamp", "a missing time", layout)
    return _nanoseconds(stamps)


def _result_times(column: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    """The strategy's timestamps as UTC nanoseconds; the first bad one raises naming its row."""
    try:
        stamps = pd.to_datetime(column, utc=True)
    except (TypeError, ValueError, OverflowError):
        stamps = None
    if stamps is None or stamps.isna().any():
        for number, value in enumerate(column, start=1):
            try:
                one = pd.to_datetime(value, utc=True)
            except (TypeError, ValueError, OverflowError):
                one = pd.NaT
            if not isinstance(one, pd.Timestamp) or pd.isna(one):
                raise InvalidInput(where(number), value, "a bar open time of the candles")
        raise InvalidInput(where(1), list(column[:5]), "bar open times of the candles")
    return _nanoseconds(stamps)


def _at(nanoseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def _among(stamps: np.ndarray, bars: np.ndarray) -> np.ndarray:
    """Which of ``stamps`` are among ``bars`` (a binary search when the bars are in order)."""
    if len(bars) == 0:
        return np.zeros(len(stamps), dtype=bool)
    if not np.all(bars[1:] > bars[:-1]):
        return np.isin(stamps, bars)
    places = np.minimum(np.searchsorted(bars, stamps), len(bars) - 1)
    return bars[places] == stamps


def _check_interval(interval: Any) -> int:
    if isinstance(interval, bool) or not isinstance(interval, int | np.integer) or interval <= 0:
        raise InvalidInput("interval", interval, "the bar length in seconds, > 0 (300 for 5m)")
    return int(interval)


def signals_from_strategy(
    strategy: Callable[[str, pd.DataFrame], pd.DataFrame],
    candles: Mapping[str, pd.DataFrame],
    interval: int,
) -> list[ReplaySignal]:
    """Run ``strategy`` once per pair over its candles and return its signals, each known at
    the close of the bar it fired on (``at`` = bar open + ``interval`` seconds)."""
    if not callable(strategy):
        raise InvalidInput("strategy", strategy, "a function signals(pair, candles) -> DataFrame")
    step = timedelta(seconds=_check_interval(interval))
    if not isinstance(candles, Mapping):
        raise InvalidInput("candles", type(candles).__name__, "a mapping of pair to candles")
    source = _source_of(strategy)
    signals: list[ReplaySignal] = []
    for pair, frame in candles.items():
        bars = _bar_times(pair, frame)
        try:
            result = strategy(pair, frame.copy(deep=False))  # its new columns stay its own
        except StrategyFailed:
            raise
        except Exception as exc:
            raise _failed(source, pair, exc) from exc
        signals.extend(_strategy_rows(source, pair, result, bars, step))
    return _sorted(signals)


def _strategy_rows(
    source: str, pair: str, result: Any, bars: np.ndarray, step: timedelta
) -> list[ReplaySignal]:
    shape = "a DataFrame with columns timestamp, side and optionally " + ", ".join(
        STRATEGY_COLUMNS[2:]
    )
    if not isinstance(result, pd.DataFrame):
        raise InvalidInput(f"strategy {source} ({pair}): result", type(result).__name__, shape)
    if len(result) == 0:
        return []
    columns = [str(column) for column in result.columns]
    missing = [column for column in ("timestamp", "side") if column not in columns]
    unknown = [column for column in columns if column not in STRATEGY_COLUMNS]
    if missing or unknown or len(set(columns)) != len(columns):
        raise InvalidInput(f"strategy {source} ({pair}): columns", columns, shape + ", each once")

    def where(column: str, number: int) -> str:
        return f"strategy {source} ({pair}): row {number}, column {column}"

    stamps = _result_times(result["timestamp"], lambda number: where("timestamp", number))
    known = _among(stamps, bars)
    if not known.all():
        number = int(np.flatnonzero(~known)[0]) + 1
        given = "none"
        if len(bars):
            first, last = (_at(int(bars[i])).isoformat() for i in (0, -1))
            given = f"{len(bars)}, {first} to {last}"
        raise InvalidInput(
            where("timestamp", number),
            result["timestamp"].iloc[number - 1],
            f"the open time of one of the {pair} bars given ({given})",
        )
    extra = [column for column in ("confidence", *OPTIONAL) if column in columns]
    values = {column: result[column].tolist() for column in ["side", *extra]}
    rows: list[ReplaySignal] = []
    for index, nanoseconds in enumerate(stamps.tolist()):
        number = index + 1
        side = _side(values["side"][index], where("side", number))
        cells = {column: values[column][index] for column in extra}
        at = _at(nanoseconds) + step
        rows.append(
            _signal(
                at,
                pair,
                side,
                cells,
                lambda column, number=number: where(column, number),
                confidence_required=False,
            )
        )
    return rows
