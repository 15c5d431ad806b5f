"""Profit by period: the daily, weekly and monthly P&L tables (Freqtrade's ``/daily``, ``/weekly``,
``/monthly``), as a pure rule over closed trades and the equity history.

The rule, and why:

- **Periods are in the trading-day zone** (``TRADING_DAY_TIMEZONE``, SAST by default), like the
  day roll and the daily loss limit: a trade closed at 23:30 UTC on the 4th belongs to SAST's
  5th. A day is a trading day (``helios.clock.trading_day``); a week is the ISO week, Monday to
  Sunday; a month is the calendar month. Each period starts at 00:00 of its first day in the
  zone.
- **The range** is the ``count`` latest periods, the last one being the period that holds
  ``now`` (so far). Periods with no trade are rows of zeros, like Freqtrade's ``/daily``: a
  quiet day is an answer, not a gap. Trades outside the range are ignored.
- **A period's P&L** is the sum of the net realized P&L (after entry and exit fees) of the
  positions *closed* in it, whenever they opened: the P&L is booked when the position closes.
  Open positions' unrealized P&L is not in it (it is not yet won or lost).
- **Trades, wins, win rate**: the positions closed in the period; a win has a net P&L above
  zero (the review's definition, ``helios.metrics_stats.closed_summary``); the win rate is wins
  over trades, ``None`` without a trade.
- **% of the period's starting equity** (``pnl_pct``, a fraction: 0.0123 = 1.23%) is the P&L
  over the equity at the period's start: the equity of the last snapshot taken at or before
  that instant. A period starting before the first snapshot (the account's history begins
  inside or after it) takes the account's initial capital (``INITIAL_CAPITAL_ZAR``, what the
  ledger opens with) instead: not the first snapshot inside the period, because that snapshot
  already holds the P&L of the trades closed before it, which would then be counted twice in
  the denominator's favour. ``None`` when the starting equity is not above zero (no sensible
  percentage of nothing).

The inputs and outputs are frozen dataclasses; nothing here reads or writes anything.
``helios.profit_reads`` reads them from the database (``hx.metrics.profit``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from helios.clock import ensure_utc, trading_day, trading_day_start
from helios.errors import InvalidInput

PERIODS = ("daily", "weekly", "monthly")
# how many periods a table may hold: a year of days (Freqtrade's own tables default to 7 days,
# 8 weeks and 6 months; ``DEFAULT_COUNTS``)
MAX_COUNT = 366
DEFAULT_COUNTS = {"daily": 7, "weekly": 8, "monthly": 6}
PERIOD_NAMES = {"daily": "Day", "weekly": "Week of", "monthly": "Month"}
ZERO = Decimal(0)


@dataclass(frozen=True)
class ClosedTrade:
    """One closed position: when it closed and its net realized P&L (ZAR, after fees)."""

    closed_at: datetime
    pnl: Decimal


@dataclass(frozen=True)
class EquityPoint:
    """One portfolio snapshot: its time and its equity (ZAR)."""

    ts: datetime
    equity: Decimal


@dataclass(frozen=True)
class PeriodProfit:
    """One row of a profit table. ``start`` and ``end`` are the period's first and last
    trading days (inclusive); ``starts_at`` the UTC instant it starts."""

    start: date
    end: date
    starts_at: datetime
    starting_equity: Decimal
    pnl: Decimal
    pnl_pct: float | None
    trades: int
    wins: int
    win_rate: float | None


@dataclass(frozen=True)
class ProfitTable:
    """A profit table: the kind of period, the zone, and its rows, newest first."""

    period: str
    zone: str
    rows: tuple[PeriodProfit, ...]

    @property
    def total_pnl(self) -> Decimal:
        return sum((row.pnl for row in self.rows), ZERO)

    @property
    def trades(self) -> int:
        return sum(row.trades for row in self.rows)


def period_label(period: str, row: PeriodProfit) -> str:
    """How a period is named on the console and the CLI, short enough for a phone's pinned
    column: its first day, ``2026-11-28`` (a day; for a week, its Monday), or ``2026-11`` (a
    month). ``PERIOD_NAMES`` heads the column."""
    if period == "monthly":
        return f"{row.start:%Y-%m}"
    return row.start.isoformat()


def check_request(period: object, count: object) -> tuple[str, int]:
    """``(period, count)`` as given when allowed (count None: the period's default), else
    InvalidInput naming the field, the value and what is allowed."""
    if not isinstance(period, str) or period not in PERIODS:
        raise InvalidInput("period", period, f"one of {', '.join(PERIODS)}")
    if count is None:
        return period, DEFAULT_COUNTS[period]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput("count", count, f"a whole number from 1 to {MAX_COUNT}")
    return period, count


def period_first_day(period: str, day: date) -> date:
    """The first trading day of the ``period`` holding ``day``: the day itself, the Monday of
    its ISO week, or the first of its month."""
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _step_back(period: str, first: date) -> date:
    """The first day of the period before the one starting on ``first``."""
    if period == "daily":
        return first - timedelta(days=1)
    if period == "weekly":
        return first - timedelta(days=7)
    return (first - timedelta(days=1)).replace(day=1)


def _last_day(period: str, first: date) -> date:
    if period == "daily":
        return first
    if period == "weekly":
        return first + timedelta(days=6)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def period_days(period: str, count: int, now: datetime, zone: str) -> list[date]:
    """The first days of the ``count`` latest periods, newest first (the first holds ``now``)."""
    first = period_first_day(period, trading_day(now, zone))
    days = [first]
    for _ in range(count - 1):
        first = _step_back(period, first)
        days.append(first)
    return days


def period_starts(period: str, count: int, now: datetime, zone: str) -> list[datetime]:
    """The UTC instants the ``count`` latest periods start at, newest first: the instants whose
    starting equity a table needs (``helios.profit_reads`` reads just those snapshots)."""
    return [trading_day_start(day, zone) for day in period_days(period, count, now, zone)]


def starting_equity(
    starts_at: datetime, equity: Sequence[EquityPoint], initial_capital: Decimal
) -> Decimal:
    """The equity at ``starts_at``: the last snapshot at or before it (``equity`` oldest first),
    or the initial capital when none is (see the module docstring)."""
    history = sorted(equity, key=lambda point: ensure_utc(point.ts))
    return _equity_at(starts_at, [ensure_utc(p.ts) for p in history], history, initial_capital)


def _equity_at(
    starts_at: datetime,
    times: list[datetime],
    history: Sequence[EquityPoint],
    initial_capital: Decimal,
) -> Decimal:
    index = bisect_right(times, ensure_utc(starts_at))
    return history[index - 1].equity if index else initial_capital


def profit_table(
    period: object,
    count: object,
    now: datetime,
    zone: str,
    trades: Sequence[ClosedTrade],
    equity: Sequence[EquityPoint],
    initial_capital: Decimal,
) -> ProfitTable:
    """The ``count`` latest ``period``s (daily, weekly, monthly) up to ``now`` in ``zone``, newest
    first, with each one's P&L, its share of the starting equity, trades, wins and win rate (the
    rules in the module docstring). ``equity`` need not be the whole history: the last snapshot
    at or before each period's start is enough. Bad ``period``/``count``: InvalidInput."""
    kind, many = check_request(period, count)
    days = period_days(kind, many, now, zone)
    pnl = dict.fromkeys(days, ZERO)
    closed = dict.fromkeys(days, 0)
    wins = dict.fromkeys(days, 0)
    for trade in trades:
        first = period_first_day(kind, trading_day(trade.closed_at, zone))
        if first not in pnl:  # outside the range
            continue
        pnl[first] += trade.pnl
        closed[first] += 1
        wins[first] += trade.pnl > 0
    history = sorted(equity, key=lambda point: ensure_utc(point.ts))
    times = [ensure_utc(point.ts) for point in history]
    rows = []
    for day in days:
        starts_at = trading_day_start(day, zone)
        base = _equity_at(starts_at, times, history, initial_capital)
        rows.append(
            PeriodProfit(
                start=day,
                end=_last_day(kind, day),
                starts_at=starts_at,
                starting_equity=base,
                pnl=pnl[day],
                pnl_pct=float(pnl[day] / base) if base > 0 else None,
                trades=closed[day],
                wins=wins[day],
                win_rate=wins[day] / closed[day] if closed[day] else None,
            )
        )
    return ProfitTable(period=kind, zone=zone, rows=tuple(rows))
