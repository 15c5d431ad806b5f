"""The closed trades list as a trader reads it: pure rules over one closed position (no I/O).

The rules (``docs/console.md`` "Trades" says the same):

- **duration** = exit time - entry time (``closed_at - opened_at``), shown human: ``40 s``,
  ``12 min``, ``3 h 12 min``, ``2 d 5 h``; none when either time is missing (a failed open).
- **net P&L %** = realized P&L (after both fees) / the margin put up (``position_size_zar``):
  what the trade made on the money it tied up, as Freqtrade's profit % on the stake. With
  leverage 1 it is the price move net of fees; with leverage 3 a 1% move is about 3%.
- **exit reason**: ``helios.positions.exit_reasons.exit_reason`` (the price chart's too): the
  final status in a trader's words, and a STOPPED_OUT whose recorded trigger level is not the stop
  set at entry (``helios.trade.entry_levels``) was the trailing stop, "Trailing stop".
- **slippage to the trigger level** = the exit fill against the level whose crossing closed the
  position (the stop, the trailed stop, the target; for a TIMEOUT the price the monitor saw),
  signed so that **positive is worse for us**: a long closed below its level, a short closed
  above it. In ZAR over the position's quantity and as a fraction of the level. None (blank)
  when the exit had no trigger level: a manual close, an emergency close, a failed open.
  (``helios.metrics_stats.exit_slippage`` gives the same figure in the position's favour, the
  opposite sign, for the review.)

Inputs and outputs are frozen dataclasses; the CSV is text with exact decimal strings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from helios.errors import InvalidInput
from helios.money import ZERO, zar
from helios.paging import check_page, offset, page_count
from helios.positions.exit_reasons import EXIT_LABELS, exit_reason

RATIO_PLACES = Decimal("1e-8")
PERCENT_PLACES = Decimal("1e-6")


@dataclass(frozen=True)
class ClosedTrade:
    """One closed (or failed) position, as stored."""

    position_id: int
    pair: str
    side: str
    status: str
    mode: str
    opened_at: datetime | None
    closed_at: datetime | None
    entry_price: Decimal | None
    exit_price: Decimal | None
    exit_trigger_price: Decimal | None
    stop_loss_pct: Decimal
    take_profit_pct: Decimal
    quantity: Decimal | None
    position_size_zar: Decimal
    leverage: Decimal
    entry_fee: Decimal | None
    exit_fee: Decimal | None
    realized_pnl: Decimal | None
    strategic_reasoning: str | None = None  # a DEMO position's starts with "DEMO:"


@dataclass(frozen=True)
class TradeFigures:
    """What the list derives from one closed position (module docstring: the rules)."""

    duration: timedelta | None
    duration_text: str
    fees: Decimal
    net_pnl_ratio: Decimal | None  # of the margin: 0.0123 = 1.23%
    exit_label: str
    slippage_zar: Decimal | None  # positive: filled worse than the trigger level
    slippage_ratio: Decimal | None  # of the trigger level, same sign


def duration_text(duration: timedelta | None) -> str:
    """``40 s``, ``12 min``, ``3 h 12 min``, ``2 d 5 h`` (whole units, rounded down); ``-``
    without a duration."""
    if duration is None:
        return "-"
    seconds = max(int(duration.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def slippage(
    side: str, fill: Decimal | None, trigger: Decimal | None, quantity: Decimal | None
) -> tuple[Decimal, Decimal] | None:
    """(ZAR over ``quantity``, fraction of ``trigger``), positive when the fill was worse for
    us than the trigger level: a long (closed by a sell) filled below it, a short (closed by a
    buy) filled above it. None without a trigger level, a fill or a quantity."""
    if trigger is None or fill is None or quantity is None or trigger <= 0:
        return None
    worse_per_unit = trigger - fill if side == "BUY" else fill - trigger
    return zar(worse_per_unit * quantity), (worse_per_unit / trigger).quantize(RATIO_PLACES)


def figures(trade: ClosedTrade, tick: Decimal = ZERO) -> TradeFigures:
    """Duration, fees, net P&L % of the margin, the exit reason, the slippage (module
    docstring); ``tick``: the price grid stops were placed on (``PRICE_TICK``)."""
    held = (
        trade.closed_at - trade.opened_at
        if trade.closed_at is not None and trade.opened_at is not None
        else None
    )
    ratio = (
        (trade.realized_pnl / trade.position_size_zar).quantize(RATIO_PLACES)
        if trade.realized_pnl is not None and trade.position_size_zar > 0
        else None
    )
    slip = (
        slippage(trade.side, trade.exit_price, trade.exit_trigger_price, trade.quantity)
        if trade.status != "FAILED"
        else None
    )
    return TradeFigures(
        duration=held,
        duration_text=duration_text(held),
        fees=zar((trade.entry_fee or ZERO) + (trade.exit_fee or ZERO)),
        net_pnl_ratio=ratio,
        exit_label=exit_reason(
            trade.status,
            trade.side,
            trade.entry_price,
            trade.stop_loss_pct,
            trade.take_profit_pct,
            trade.exit_trigger_price,
            tick,
        )
        or trade.status,
        slippage_zar=None if slip is None else slip[0],
        slippage_ratio=None if slip is None else slip[1],
    )


@dataclass(frozen=True)
class TradeFilter:
    """Which closed trades to list: pair, exit reasons (final statuses; empty: all), the exit
    date range (``start`` inclusive, ``end`` exclusive, UTC), the page (from 1) and its size
    (``helios.paging``). Checked when made: a bad value raises ``InvalidInput``."""

    pair: str | None = None
    reasons: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = 50

    def __post_init__(self) -> None:
        check_page(self.page, self.page_size)
        if not isinstance(self.reasons, tuple):
            raise InvalidInput("reasons", self.reasons, "a tuple of exit reasons")
        for reason in self.reasons:
            if reason not in EXIT_LABELS:
                raise InvalidInput("reasons", reason, f"one of {', '.join(EXIT_LABELS)}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidInput(name, value, "a timezone-aware datetime or None")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("end", self.end, f"after start ({self.start.isoformat()})")

    @property
    def offset(self) -> int:
        return offset(self.page, self.page_size)


@dataclass(frozen=True)
class TradePage:
    """One page of closed trades (newest exit first) and how many match the filter."""

    trades: tuple[tuple[ClosedTrade, TradeFigures], ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


CSV_COLUMNS = (
    "position_id",
    "pair",
    "side",
    "mode",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "duration_seconds",
    "duration",
    "size_zar",
    "leverage",
    "quantity",
    "fees_zar",
    "net_pnl_zar",
    "net_pnl_pct",
    "exit_reason",
    "exit_status",
    "trigger_price",
    "slippage_zar",
    "slippage_pct",
)


def _text(value: Decimal | None) -> str:
    """The exact decimal string, plain (no exponent), without trailing fractional zeros."""
    if value is None:
        return ""
    text = format(value, "f")
    return (text.rstrip("0").rstrip(".") or "0") if "." in text else text


def _percent(ratio: Decimal | None) -> str:
    """A ratio kept to 8 places as percent, exactly: ``0.01234500`` -> ``1.2345``."""
    return "" if ratio is None else _text((ratio * 100).quantize(PERCENT_PLACES))


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def trades_csv(rows: Sequence[tuple[ClosedTrade, TradeFigures]]) -> str:
    """The trades as CSV: money, prices and quantities as exact decimal strings, percentages
    as exact decimal strings of percent (``-1.2345``: -1.2345%), times ISO 8601 with their
    offset (UTC as stored), blank where a figure does not exist."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for trade, fig in rows:
        held = fig.duration
        writer.writerow(
            (
                trade.position_id,
                trade.pair,
                trade.side,
                trade.mode,
                _when(trade.opened_at),
                _when(trade.closed_at),
                _text(trade.entry_price),
                _text(trade.exit_price),
                "" if held is None else int(held.total_seconds()),
                fig.duration_text if held is not None else "",
                _text(trade.position_size_zar),
                _text(trade.leverage),
                _text(trade.quantity),
                _text(fig.fees),
                _text(trade.realized_pnl),
                _percent(fig.net_pnl_ratio),
                fig.exit_label,
                trade.status,
                _text(trade.exit_trigger_price),
                _text(fig.slippage_zar),
                _percent(fig.slippage_ratio),
            )
        )
    return out.getvalue()


def csv_name(start: date | None, end: date | None) -> str:
    """The download's file name: ``helios-trades-2026-01-01-to-2026-01-31.csv``."""
    if start is None or end is None:
        return "helios-trades.csv"
    return f"helios-trades-{start.isoformat()}-to-{end.isoformat()}.csv"
