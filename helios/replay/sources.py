"""Where a replay's signals come from: a CSV of signals, the signals recorded in a Helios
database over a period, or a strategy (a function from candles to signals) run over the candles.

Each source gives the same thing, a list of ``ReplaySignal`` sorted by (``at``, pair, the order
the source gave them in); ``at`` is the moment the signal becomes known, and the replay acts on
it then (a signal known at a bar's close enters at the next bar's open):

- CSV (``signals_from_csv``): columns ``timestamp, pair, side, confidence`` and optionally
  ``size`` (the margin in ZAR), ``stop`` and ``target`` (fractions: 0.02 = 2%); ``at`` is the
  timestamp (ISO 8601; a time without a zone is UTC). An empty optional cell means "not given"
  (the sizing rule or the rules profile decides). Unknown columns are refused, so a typo
  (``stop_loss``) is never ignored.
- A recorded database (``signals_from_database``): every signal stored with ``created_at`` in
  [start, end), as it was sent, whatever became of it then (executed, refused by a limit, not
  approved by the LLM tier); ``at`` is ``created_at`` and ``payload`` keeps the fields to
  resubmit and what actually happened. Malformed ones (stored without pair, side or confidence,
  or with what was sent kept for the audit) and those of a pair outside ``pairs`` cannot be
  replayed: they are counted, not returned. Read only: no migration runs, nothing is written.
- A strategy (``load_strategy`` then ``signals_from_strategy``): a built-in name (``ema-cross``,
  ``helios.replay.strategies``) or a ``.py`` file defining ``signals(pair, candles)``, called once
  per pair with that pair's candles (columns timestamp, the bar's OPEN time, open, high, low,
  close, volume). It returns the bars its signals fired on: columns ``timestamp`` (one of the
  candles' bar times), ``side`` and optionally ``confidence`` (0.6 when absent), ``size``,
  ``stop``, ``target``. A signal is known at the close of its bar: ``at`` = bar open + interval.

Bad input raises ``InvalidInput`` naming the thing (the file, row and column; the strategy and
pair), the value and what is allowed, and nothing is returned: a replay never runs on half a
source. A strategy that raises (on import or when called) is reported as ``StrategyFailed``
naming the file and the exception's type and message.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from helios.clock import ensure_utc
from helios.config import redact_url
from helios.db.engine import Database
from helios.db.models import Signal
from helios.errors import InvalidInput
from helios.trade import MAX_POSITION_SIZE_ZAR

BUY, SELL = "BUY", "SELL"
DEFAULT_CONFIDENCE = 0.6
CSV_REQUIRED = ("timestamp", "pair", "side", "confidence")
OPTIONAL = ("size", "stop", "target")
STRATEGY_COLUMNS = ("timestamp", "side", "confidence", *OPTIONAL)

TIME_ALLOWED = "a time in ISO 8601 (e.g. 2023-01-01T00:05:00Z; without a zone it is UTC)"
SIDE_ALLOWED = "BUY or SELL"
CONFIDENCE_ALLOWED = "a number > 0 and <= 1 (the confidence)"
SIZE_ALLOWED = (
    f"a margin in ZAR > 0 and <= {MAX_POSITION_SIZE_ZAR:g}, or empty (sized by the rules)"
)
STOP_ALLOWED = "a fraction > 0 and < 1 (0.02 = a stop 2% from the entry), or empty"
TARGET_ALLOWED = (
    "a fraction > 0 and <= 10 (0.06 = a target 6% from the entry; below 1 for a SELL), or empty"
)
CSV_LAYOUT = (
    "a CSV with a header line: timestamp, pair, side, confidence and optionally size, stop, target"
)


class StrategyFailed(InvalidInput):
    """A strategy raised, on import or when called (field ``strategy``, value its file or name;
    the message holds the exception's type and message)."""


@dataclass(frozen=True)
class ReplaySignal:
    """One signal for the replay, from whichever source. Fractions: 0.02 = 2%."""

    at: datetime  # when it becomes known (aware UTC); a strategy's: the close of its bar
    pair: str
    side: str  # BUY or SELL
    confidence: float
    position_size_zar: Decimal | None = None  # the margin; None: the sizing rule decides
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    llm_approved: bool = True
    original_id: int | None = None  # the signal's id in the recorded database
    # recorded source: the stored fields to resubmit and what happened then (module docstring)
    payload: Mapping[str, Any] | None = field(default=None, hash=False)

    def trade_params(self) -> dict[str, Any]:
        """Helios trade_params: a recorded signal's stored ones, with the size, stop and target
        given here (the ones not None)."""
        params: dict[str, Any] = dict((self.payload or {}).get("trade_params") or {})
        given = {
            "position_size_zar": self.position_size_zar,
            "stop_loss_pct": self.stop_loss_pct,
            "take_profit_pct": self.take_profit_pct,
        }
        params.update({key: value for key, value in given.items() if value is not None})
        return params


# --- the checks every source shares ----------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    return value is pd.NA or value is pd.NaT


def _number(value: Any, where: str, allowed: str, low: float, high: float, top: bool) -> float:
    """A finite number in (low, high] (``top``) or (low, high)."""
    if isinstance(value, bool):
        raise InvalidInput(where, value, allowed)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(where, value, allowed) from None
    inside = low < number <= high if top else low < number < high
    if not math.isfinite(number) or not inside:
        raise InvalidInput(where, value, allowed)
    return number


def _size(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(where, value, SIZE_ALLOWED)
    try:
        text = value.strip() if isinstance(value, str) else repr(float(value))
        size = Decimal(text)
    except (TypeError, ValueError, OverflowError, InvalidOperation):
        raise InvalidInput(where, value, SIZE_ALLOWED) from None
    if not size.is_finite() or not 0 < size <= Decimal(repr(MAX_POSITION_SIZE_ZAR)):
        raise InvalidInput(where, value, SIZE_ALLOWED)
    return size


def _side(value: Any, where: str) -> str:
    side = value.strip().upper() if isinstance(value, str) else None
    if side not in (BUY, SELL):
        raise InvalidInput(where, value, SIDE_ALLOWED)
    return side


def _signal(
    at: datetime,
    pair: str,
    side: str,
    cells: Mapping[str, Any],
    where: Callable[[str], str],
    confidence_required: bool,
) -> ReplaySignal:
    """A ReplaySignal from a row's confidence, size, stop and target (empty: not given)."""
    raw = cells.get("confidence")
    if _missing(raw):
        if confidence_required:
            raise InvalidInput(where("confidence"), raw, CONFIDENCE_ALLOWED)
        confidence = DEFAULT_CONFIDENCE
    else:
        confidence = _number(raw, where("confidence"), CONFIDENCE_ALLOWED, 0.0, 1.0, top=True)
    size = None if _missing(cells.get("size")) else _size(cells["size"], where("size"))
    stop = (
        None
        if _missing(cells.get("stop"))
        else _number(cells["stop"], where("stop"), STOP_ALLOWED, 0.0, 1.0, top=False)
    )
    target = None
    if not _missing(cells.get("target")):
        high, top = (1.0, False) if side == SELL else (10.0, True)
        target = _number(cells["target"], where("target"), TARGET_ALLOWED, 0.0, high, top)
    return ReplaySignal(at, pair, side, confidence, size, stop, target)


def _pairs(pairs: Any) -> tuple[str, ...]:
    if isinstance(pairs, str) or not isinstance(pairs, Iterable):
        raise InvalidInput("pairs", pairs, "a list of pair names (e.g. ['BTCZAR', 'ETHZAR'])")
    chosen = tuple(str(pair).strip().upper() for pair in pairs)
    if not chosen or any(not pair for pair in chosen):
        raise InvalidInput("pairs", pairs, "at least one pair name (e.g. ['BTCZAR'])")
    return chosen


def _sorted(signals: list[ReplaySignal]) -> list[ReplaySignal]:
    return sorted(signals, key=lambda signal: (signal.at, signal.pair))  # stable: source order


# --- CSV -------------------------------------------------------------------------------------


def _csv_time(value: str, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(where, value, TIME_ALLOWED) from None
    return ensure_utc(when)


def signals_from_csv(path: str | Path, pairs: Sequence[str]) -> list[ReplaySignal]:
    """The signals of a CSV file (module docstring); each pair must be among ``pairs``. Errors
    name the file, the row (1-based, the header not counted: row n is line n + 1) and column."""
    allowed_pairs = _pairs(pairs)
    file = Path(path)
    if not file.is_file():
        raise InvalidInput("signals CSV", str(file), f"an existing file: {CSV_LAYOUT}")
    try:
        text = file.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(
            "signals CSV", str(file), f"a readable UTF-8 file ({type(exc).__name__}: {exc})"
        ) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput(f"signals CSV {file}", "an empty file", CSV_LAYOUT)
    header = [cell.strip().lower() for cell in rows[0]]
    missing = [column for column in CSV_REQUIRED if column not in header]
    unknown = [column for column in header if column not in (*CSV_REQUIRED, *OPTIONAL)]
    doubled = sorted({column for column in header if header.count(column) > 1})
    for bad in (missing, unknown, doubled):
        if bad:
            raise InvalidInput(
                f"{file}: columns",
                bad,
                f"{CSV_LAYOUT}, each once (the header: {', '.join(header)})",
            )
    signals: list[ReplaySignal] = []
    for number, cells in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            raise InvalidInput(
                f"{file}: row {number}", cells, f"{len(header)} cells, as the header has"
            )
        row = dict(zip(header, cells, strict=True))

        def where(column: str, number: int = number) -> str:
            return f"{file}: row {number}, column {column}"

        at = _csv_time(row["timestamp"], where("timestamp"))
        pair = row["pair"].strip().upper()
        if pair not in allowed_pairs:
            raise InvalidInput(where("pair"), row["pair"], "one of " + ", ".join(allowed_pairs))
        side = _side(row["side"], where("side"))
        signals.append(_signal(at, pair, side, row, where, confidence_required=True))
    if not signals:
        raise InvalidInput(f"signals CSV {file}", "no signal rows", CSV_LAYOUT)
    return _sorted(signals)


# --- a recorded Helios database --------------------------------------------------------------


def _period(start: Any, end: Any) -> tuple[datetime, datetime]:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise InvalidInput(name, value, "a datetime (naive times are UTC)")
    start_utc, end_utc = ensure_utc(start), ensure_utc(end)
    if start_utc >= end_utc:
        raise InvalidInput("start/end", (start, end), "a period whose start is before its end")
    return start_utc, end_utc


def _open(database_url: Any) -> Database:
    """The database at ``database_url``, opened without creating anything (a SQLite file that
    does not exist is an error, not a new empty database)."""
    if not isinstance(database_url, str) or not database_url.strip():
        raise InvalidInput("database_url", database_url, "a Helios database URL")
    shown = redact_url(database_url)
    try:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            name = url.database or ""
            on_disk = name and name != ":memory:" and not name.startswith("file:")
            if on_disk and not Path(name).is_file():
                raise InvalidInput(
                    "database_url", shown, "a Helios database that exists (no such file)"
                )
        return Database(database_url)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(
            "database_url", shown, f"a database URL that opens ({type(exc).__name__}: {exc})"
        ) from None


def _recorded(row: Signal, allowed_pairs: tuple[str, ...] | None) -> ReplaySignal | None:
    """The replayable form of a stored signal, or None when it cannot be replayed."""
    stored = row.payload if isinstance(row.payload, dict) else {}
    if "sent" in stored or row.pair is None or row.side not in (BUY, SELL):
        return None  # malformed on arrival: what was sent is kept, not a signal
    if allowed_pairs is not None and row.pair not in allowed_pairs:
        return None
    if row.confidence is None or row.llm_approved is None or row.created_at is None:
        return None
    confidence = float(row.confidence)
    if not math.isfinite(confidence) or not 0 <= confidence <= 1:
        return None
    params = row.trade_params
    if params is not None and not isinstance(params, dict):
        return None
    params = dict(params or {})
    try:
        size = params.get("position_size_zar")
        size_zar = None if size is None else Decimal(repr(float(size)))
        stop = None if params.get("stop_loss_pct") is None else float(params["stop_loss_pct"])
        target = None if params.get("take_profit_pct") is None else float(params["take_profit_pct"])
    except (TypeError, ValueError, InvalidOperation):
        return None
    created = ensure_utc(row.created_at)
    payload = {
        # the fields to resubmit (hx.signals.submit's keywords; expires_at as an offset)
        "llm_reasoning": row.llm_reasoning or "",
        "predicted_return": None if row.predicted_return is None else float(row.predicted_return),
        "trade_params": params or None,
        "source": row.source,
        "dedup_key": row.dedup_key or stored.get("dedup_key"),
        "expires_after_seconds": (
            None
            if row.expires_at is None
            else (ensure_utc(row.expires_at) - created).total_seconds()
        ),
        # what actually happened to it
        "recorded": {
            "status": row.status,
            "reason": row.status_reason,
            "position_id": row.position_id,
            "received_at": None if row.received_at is None else ensure_utc(row.received_at),
        },
    }
    return ReplaySignal(
        at=created,
        pair=row.pair,
        side=row.side,
        confidence=confidence,
        position_size_zar=size_zar,
        stop_loss_pct=stop,
        take_profit_pct=target,
        llm_approved=bool(row.llm_approved),
        original_id=row.id,
        payload=payload,
    )


def signals_from_database(
    database_url: str,
    start: datetime,
    end: datetime,
    pairs: Sequence[str] | None = None,
) -> tuple[list[ReplaySignal], int]:
    """Every signal recorded in that Helios database with ``created_at`` in [start, end), and
    how many stored there cannot be replayed (malformed, or a pair outside ``pairs``)."""
    start_utc, end_utc = _period(start, end)
    allowed_pairs = None if pairs is None else _pairs(pairs)
    db = _open(database_url)
    shown = db.display_url
    try:
        with db.read() as session:
            if not inspect(session.connection()).has_table(Signal.__tablename__):
                raise InvalidInput(
                    "database_url", shown, "a Helios database (it has no signals table)"
                )
            rows = session.scalars(
                select(Signal)
                .where(Signal.created_at >= start_utc, Signal.created_at < end_utc)
                .order_by(Signal.created_at, Signal.id)
            ).all()
    except SQLAlchemyError as exc:
        raise InvalidInput(
            "database_url",
            shown,
            f"a Helios database that can be read ({type(exc).__name__}: {exc})"[:2000],
        ) from None
    finally:
        db.dispose()
    signals = [_recorded(row, allowed_pairs) for row in rows]
    kept = [signal for signal in signals if signal is not None]
    return _sorted(kept), len(signals) - len(kept)
