"""What a report is written from (L2, pure): frozen figures, the period, the report itself.

The service (``helios.reports.service``) reads the figures once; the text (``helios.reports.text``)
and the chart (``helios.reports.chart``) only format them, so a report is the same whether it is
sent at the day roll, printed by ``helios report`` or downloaded from the Review page.

The rules:

- a period is whole trading days in ``TRADING_DAY_TIMEZONE`` (as the day roll and the daily loss
  limit count them): from the first day's start to the start of the day after the last; a period
  that has not ended yet ends now (``complete`` False: the report says "so far");
- a limit is over when the figure is strictly above it (1e-12 tolerance), as the halts judge it
  and as ``hx.metrics`` counts violations: exactly at the limit is not over;
- a figure that was not recorded is None and shown as such, never as zero (no snapshot: no
  equity; no closed position: no win rate);
- a report's day is a calendar date (``YYYY-MM-DD``) from the first snapshot's trading day to
  today (``checked_day``): a later day has not begun, an earlier one has nothing recorded (with no
  snapshot at all, only today, whose report says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from helios.clock import ensure_utc, trading_day_start
from helios.errors import InvalidInput
from helios.money import ZERO
from helios.risk.limits import RiskLimits

TOLERANCE = 1e-12  # the same as hx.metrics's violation count
DAILY, WEEKLY = "daily", "weekly"
TREND_DAYS = 7  # the daily report's trend: the closes of the last seven trading days


@dataclass(frozen=True)
class Period:
    """Trading days ``first`` to ``last`` (inclusive) in ``zone``: UTC ``start`` (inclusive) to
    ``end`` (exclusive), ``as_of`` the time the figures stand at (the end, or now when the period
    has not ended: ``complete`` False)."""

    first: date
    last: date
    zone: str
    start: datetime
    end: datetime
    as_of: datetime
    complete: bool

    @property
    def label(self) -> str:
        """``2026-11-26`` for one day, ``2026-11-23_2026-11-29`` for more."""
        return str(self.first) if self.first == self.last else f"{self.first}_{self.last}"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def period_of(first: date, last: date, zone: str, now: datetime) -> Period:
    """The period of trading days ``first`` to ``last`` as it stands at ``now``."""
    start = trading_day_start(first, zone)
    day_end = trading_day_start(last + timedelta(days=1), zone)
    now = ensure_utc(now)
    complete = now >= day_end
    # not ended: a snapshot taken at this very instant belongs in (the bound is exclusive)
    end = day_end if complete else now + timedelta(microseconds=1)
    return Period(first, last, zone, start, end, day_end if complete else now, complete)


def parse_day(value: Any, field: str, allowed: str) -> date:
    """``value`` as a calendar date (a ``date``, not a ``datetime``, or ``YYYY-MM-DD`` text)."""
    day = value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(field, value, allowed) from None
    if isinstance(day, datetime) or not isinstance(day, date):
        raise InvalidInput(field, value, allowed)
    return day


def checked_day(value: Any, field: str, earliest: date | None, today: date) -> date:
    """``value`` if it is a trading day a report can cover: from ``earliest`` (the first
    snapshot's trading day; None: no snapshot yet, today only) to ``today``; else InvalidInput
    naming ``field``, the value and the range."""
    first = min(earliest, today) if earliest is not None else today
    allowed = (
        f"a date YYYY-MM-DD from {first} (the first snapshot's trading day) to {today} (today)"
    )
    day = parse_day(value, field, allowed)
    if not first <= day <= today:
        raise InvalidInput(field, value, allowed)
    return day


@dataclass(frozen=True)
class Report:
    """One report: its title, its text, the equity chart as PNG bytes (or None)."""

    kind: str  # DAILY or WEEKLY
    title: str
    text: str
    png: bytes | None = field(repr=False)
    period: Period

    @property
    def attachment_name(self) -> str:
        return f"equity-{self.period.label}.png"

    @property
    def file_stem(self) -> str:
        return f"helios-{self.kind}-{self.period.label}"

    def markdown(self) -> str:
        """The report as a Markdown file: the title as its heading, then the text."""
        return f"# {self.title}\n\n{self.text}\n"


@dataclass(frozen=True)
class Limits:
    """The limits a report compares with (fractions; leverage in x), as in force when read."""

    daily_loss: float
    drawdown: float
    leverage: float

    @classmethod
    def of(cls, limits: RiskLimits) -> Limits:
        return cls(limits.daily_loss_limit_pct, limits.max_drawdown_pct, limits.max_leverage)


def over(value: Decimal | float | None, limit: float) -> bool:
    """Strictly above the limit (1e-12 tolerance); an unknown figure is not over."""
    return value is not None and float(value) > limit + TOLERANCE


@dataclass(frozen=True)
class Close:
    """A trading day's closing equity: its last snapshot's."""

    day: date
    equity: Decimal


@dataclass(frozen=True)
class DayState:
    """The account at a period's last snapshot, and the period's worst daily loss and drawdown
    (the highest over its snapshots: what the halts would have seen)."""

    ts: datetime
    mode: str
    equity: Decimal
    start_of_day_equity: Decimal
    daily_pnl: Decimal
    daily_loss: Decimal
    drawdown: Decimal
    gross_exposure: Decimal
    leverage: Decimal
    open_positions: int
    halted: bool
    snapshots: int
    worst_daily_loss: float
    worst_drawdown: float


@dataclass(frozen=True)
class Holding:
    """A position open at the period's end."""

    position_id: int
    pair: str
    side: str
    margin: Decimal
    notional: Decimal


@dataclass(frozen=True)
class Sizing:
    """The positions of one pair opened in the period: how many, their average margin and
    notional, and the average daily volatility their risk decisions saw (None without one)."""

    pair: str
    opened: int
    average_margin: Decimal
    average_notional: Decimal
    average_daily_vol: float | None


def sizing_by_pair(rows: Iterable[Mapping[str, Any]]) -> tuple[Sizing, ...]:
    """Per pair (sorted), from rows of ``hx.metrics.sizes_and_volatility``: ``pair``,
    ``position_size_zar``, ``notional_zar``, ``daily_vol`` (None when the pair had none)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["pair"]), []).append(row)
    found = []
    for pair, group in sorted(grouped.items()):
        vols = [float(r["daily_vol"]) for r in group if _known(r.get("daily_vol"))]
        count = len(group)
        found.append(
            Sizing(
                pair=pair,
                opened=count,
                average_margin=sum((_dec(r["position_size_zar"]) for r in group), ZERO) / count,
                average_notional=sum((_dec(r["notional_zar"]) for r in group), ZERO) / count,
                average_daily_vol=sum(vols) / len(vols) if vols else None,
            )
        )
    return tuple(found)


def _known(value: Any) -> bool:
    return value is not None and value == value  # NaN (a DataFrame's missing float) is unknown


def _dec(value: Any) -> Decimal:
    if value is None or (isinstance(value, float) and value != value):
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Trades:
    """The positions closed in a period: how many, how many won, the realized P&L."""

    closed: int
    wins: int
    realized_pnl: Decimal

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed if self.closed else None


def trades_of(review: Mapping[str, Any]) -> Trades:
    """The closed positions of a ``hx.metrics.review`` answer."""
    wins = sum(int(row["wins"]) for row in review["pnl_by_pair"].values())
    return Trades(int(review["closed_positions"]), wins, review["realized_pnl"])


@dataclass(frozen=True)
class DailyFigures:
    """The seed's daily checks for one trading day."""

    period: Period
    limits: Limits
    state: DayState | None  # None: no snapshot in the day
    closes: tuple[Close, ...]  # the last TREND_DAYS days' closes that exist, oldest first
    holdings: tuple[Holding, ...]  # open at the day's end (now, for today)
    today: Trades  # closed in the day
    trend: Trades  # closed over the trend's days
    sizing: tuple[Sizing, ...]  # opened in the day


@dataclass(frozen=True)
class PairPnl:
    pair: str
    positions: int
    wins: int
    realized_pnl: Decimal


@dataclass(frozen=True)
class WeeklyFigures:
    """The seed's weekly checks over a period (``hx.metrics.review``'s answer, frozen), with the
    equity at its start and end."""

    period: Period
    limits: Limits
    equity_start: Decimal | None  # the last close before the period, else its first snapshot
    equity_end: Decimal | None  # its last snapshot; None: no snapshot in the period
    violations: tuple[tuple[str, int], ...]  # per limit name, snapshots strictly above it
    exits: tuple[tuple[str, int], ...]  # per exit kind (metrics_stats.EXIT_KINDS)
    trades: Trades
    emergency_stops: int
    automatic_halts: int
    daily_returns: int
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    pnl_by_pair: tuple[PairPnl, ...]

    @property
    def violations_total(self) -> int:
        return sum(n for _, n in self.violations)


def weekly_figures(
    period: Period,
    limits: Limits,
    review: Mapping[str, Any],
    equity_start: Decimal | None,
    equity_end: Decimal | None,
) -> WeeklyFigures:
    """Freeze a ``hx.metrics.review`` answer over ``period``."""
    return WeeklyFigures(
        period=period,
        limits=limits,
        equity_start=equity_start,
        equity_end=equity_end,
        violations=tuple((k, int(v)) for k, v in review["risk_limit_violations"].items()),
        exits=tuple((k, int(v)) for k, v in review["exits"].items()),
        trades=trades_of(review),
        emergency_stops=int(review["emergency_stops"]),
        automatic_halts=int(review["automatic_halts"]),
        daily_returns=int(review["daily_returns"]),
        sharpe=review["sharpe"],
        sortino=review["sortino"],
        max_drawdown=float(review["max_drawdown"]),
        pnl_by_pair=tuple(
            PairPnl(pair, int(row["positions"]), int(row["wins"]), row["realized_pnl"])
            for pair, row in review["pnl_by_pair"].items()
        ),
    )
