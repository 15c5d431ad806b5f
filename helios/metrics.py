"""``hx.metrics``: the seed's weekly checks, computed once for the dashboard, the API and notebooks.

``review(start, end)`` answers the seed's "Weekly" list over a period: risk-limit violations
(should be zero), the stop-loss, take-profit and timeout hit rates, emergency stops, Sharpe,
Sortino, maximum drawdown, and the P&L broken down by pair and by exit reason.

Definitions (DESIGN.md leaves them to us; ``docs/architecture.md`` records them):

- returns are daily: the last snapshot equity of each UTC day, ``r_t = E_t / E_{t-1} - 1``;
- Sharpe = mean(r - rf_daily) / std(r) x sqrt(periods per year), rf_daily = RISK_FREE_RATE /
  PERIODS_PER_YEAR; Sortino uses the downside deviation sqrt(mean(min(r - rf_daily, 0)^2));
  both are None below 2 daily returns or with no dispersion (never a division by zero);
- maximum drawdown = max over the period of 1 - equity / running peak (snapshots as stored);
- hit rates = the share of positions closed in the period with that status (FAILED opens are
  not closed positions and are left out), a TAKE_PROFIT filled on the losing side of its entry
  counted apart (``TAKE_PROFIT_AT_A_LOSS``: "target touched, closed below entry", or with a
  realized loss after fees);
- slippage = each exit's fill against the level that triggered it (stop, target, the price a
  timeout saw), in the position's favour, per exit reason in ZAR and as a fraction;
- a risk-limit violation is a snapshot whose drawdown, daily loss or leverage is strictly above
  the limit in force, counted per limit (the checks should make them impossible for leverage;
  drawdown and daily loss can be pushed over by the market, which is what the halts are for).

P&L sums are exact (``Decimal``); ratios are floats.

How a year of minute snapshots (525,600 rows) is reviewed in well under a second: the database
does the per-row work in one grouped pass per UTC day (the violation counts, the day's lowest and
highest equity and its last time); the equity of each day's last snapshot is then looked up by
that time (the daily returns), and the maximum drawdown reads only the days whose own range could
hold the deepest fall (``max_drawdown_by_day``). The closed positions are read as the four
columns the review uses. Every answer is the one the row-by-row definitions above give, to the
bit: the same floats (``CAST`` in SQL) go through the same comparisons and the same arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, Float, String, case, cast, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Event, PortfolioSnapshot, Position, RiskDecision
from helios.errors import InvalidInput
from helios.money import ZERO
from helios.risk.service import RiskManager

EXIT_STATUSES = ("STOPPED_OUT", "TAKE_PROFIT", "TIMEOUT", "EMERGENCY_CLOSE", "CLOSED")
# a TAKE_PROFIT that closed at a loss: the target was touched, but the fill came below the entry
# (the monitor acted after the market had turned) or too close to it to pay the fees; counted
# apart from the take-profit hits
TARGET_AT_A_LOSS = "TAKE_PROFIT_AT_A_LOSS"
EXIT_KINDS = (*EXIT_STATUSES, TARGET_AT_A_LOSS)


def daily_returns(ts: Iterable[datetime], equity: Iterable[float]) -> pd.Series:
    """Returns of the last equity of each UTC day (days without a snapshot are skipped)."""
    series = pd.Series(list(equity), index=pd.DatetimeIndex(list(ts)), dtype=float)
    if series.empty:
        return series
    closes = series.sort_index().groupby(series.sort_index().index.floor("D")).last()
    return closes.pct_change().dropna()


def sharpe(returns: pd.Series, rf_daily: float, periods: int) -> float | None:
    if len(returns) < 2:
        return None
    excess = returns - rf_daily
    deviation = float(returns.std(ddof=1))
    if not math.isfinite(deviation) or deviation == 0:
        return None
    return float(excess.mean()) / deviation * math.sqrt(periods)


def sortino(returns: pd.Series, rf_daily: float, periods: int) -> float | None:
    if len(returns) < 2:
        return None
    excess = returns - rf_daily
    downside = math.sqrt(float(np.mean(np.minimum(excess.to_numpy(), 0.0) ** 2)))
    if downside == 0:
        return None
    return float(excess.mean()) / downside * math.sqrt(periods)


def max_drawdown(equity: Iterable[float]) -> float:
    values = np.asarray(list(equity), dtype=float)
    if values.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(values)
    return float(np.max(1.0 - values / peaks))


@dataclass(frozen=True)
class DayRange:
    """One day's equity in summary (floats, as ``max_drawdown`` sees them): its lowest, its
    highest and its last value."""

    day: date
    low: float
    high: float
    close: float


def max_drawdown_by_day(
    days: Sequence[DayRange], read: Callable[[date, date], Sequence[float]]
) -> float:
    """``max_drawdown`` of the equity of ``days`` (in time order), reading only the days that
    can hold the deepest fall.

    ``read(first, last)`` returns the equity of the days from ``first`` to ``last`` (inclusive, in
    time order). Entering a day the running peak is P (the highest of the days before), so no
    point of the day falls more than ``1 - low / max(P, high)``, while its lowest point falls at
    least ``1 - low / P`` and its last point (after the day's high) at least
    ``1 - close / max(P, high)``. The deepest of those lower bounds is a floor under the answer;
    only the days whose upper bound reaches it are read, each run of consecutive days from the
    peak before it. The answer is the float ``max_drawdown`` gives over every value: the same
    running peaks and the same operations, and rounded division and subtraction are monotonic,
    so the bounds hold in floating point as they do in real numbers.
    """
    if not days:
        return 0.0
    if min(d.low for d in days) <= 0:  # zero or negative equity: no bound holds; read it all
        return max_drawdown(read(days[0].day, days[-1].day))
    before: list[float] = []  # the running peak entering each day (-inf before the first)
    peak = -math.inf
    floor = 0.0
    for d in days:
        before.append(peak)
        top = max(peak, d.high)
        floor = max(floor, 1.0 - d.close / top)
        if peak > 0:
            floor = max(floor, 1.0 - d.low / peak)
        peak = top
    # never empty: the day that set the floor (at floor 0, every day) reaches it
    chosen = [i for i, d in enumerate(days) if 1.0 - d.low / max(before[i], d.high) >= floor]
    deepest = 0.0
    runs: list[list[int]] = []
    for i in chosen:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        values = np.asarray(read(days[run[0]].day, days[run[-1]].day), dtype=float)
        if values.size:
            peaks = np.maximum.accumulate(np.maximum(values, before[run[0]]))
            deepest = max(deepest, float(np.max(1.0 - values / peaks)))
    return deepest


class Metrics:
    def __init__(self, db: Database, settings: Settings, clock: Clock, risk: RiskManager) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._risk = risk

    def _period(self, start: Any, end: Any) -> tuple[datetime, datetime]:
        """[start, end] as UTC times (end: now), end later than start, or InvalidInput."""
        begin = _when(start, "start")
        finish = _when(end, "end") if end is not None else self._clock.now()
        if finish <= begin:
            raise InvalidInput("end", end, f"later than start ({begin.isoformat()})")
        return begin, finish

    def sizes_and_volatility(self, start: Any, end: Any = None, limit: int = 500) -> pd.DataFrame:
        """How position size followed volatility: the positions opened in [start, end] (end:
        now; the newest ``limit``), each with its margin and notional (ZAR) and its pair's daily
        volatility when it was sized, as recorded in its risk decision's inputs (the number the
        checks and the sizing rule saw, not today's). Columns: ``position_id``, ``pair``,
        ``opened_at``, ``position_size_zar``, ``notional_zar``, ``daily_vol`` (None when the
        pair had no estimate then); oldest first."""
        begin, finish = self._period(start, end)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "a whole number from 1 to 10000")
        with self._db.read() as session:
            rows = session.execute(
                select(
                    Position.id,
                    Position.pair,
                    Position.opened_at,
                    Position.position_size_zar,
                    Position.notional,
                    RiskDecision.inputs,
                )
                .join(RiskDecision, RiskDecision.id == Position.risk_decision_id, isouter=True)
                .where(
                    Position.opened_at.is_not(None),
                    Position.opened_at >= begin,
                    Position.opened_at <= finish,
                )
                .order_by(Position.opened_at.desc(), Position.id.desc())
                .limit(limit)
            ).all()
        records = []
        for position_id, pair, opened_at, margin, notional, inputs in reversed(rows):
            vols = ((inputs or {}).get("stats") or {}).get("daily_vol") or {}
            vol = vols.get(pair)
            records.append(
                {
                    "position_id": position_id,
                    "pair": pair,
                    "opened_at": opened_at,
                    "position_size_zar": margin,
                    "notional_zar": notional,
                    "daily_vol": float(vol) if vol is not None else None,
                }
            )
        columns = [
            "position_id",
            "pair",
            "opened_at",
            "position_size_zar",
            "notional_zar",
            "daily_vol",
        ]
        return pd.DataFrame(records, columns=columns)

    def review(self, start: Any, end: Any = None) -> dict[str, Any]:
        """The seed's weekly checks over [start, end] (end: now)."""
        begin, finish = self._period(start, end)
        limits = self._risk.get_limits()
        with self._db.read() as session:
            closed = session.execute(
                select(
                    Position.pair,
                    Position.status,
                    Position.realized_pnl,
                    Position.position_size_zar,
                    Position.side,
                    Position.entry_price,
                    Position.exit_price,
                    Position.exit_trigger_price,
                    Position.quantity,
                ).where(
                    Position.status.in_(EXIT_STATUSES),
                    Position.closed_at >= begin,
                    Position.closed_at <= finish,
                )
            ).all()
            snapshots = self._snapshot_days(session, begin, finish, limits)
            emergency = int(
                session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(Event.kind == "EMERGENCY_STOP", Event.ts >= begin, Event.ts <= finish)
                )
                or 0
            )
            automatic = int(
                session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(
                        Event.kind == "HALT",
                        Event.actor == "watchdog",
                        Event.ts >= begin,
                        Event.ts <= finish,
                    )
                )
                or 0
            )
        returns = daily_returns(snapshots.close_days, snapshots.close_equity)
        periods = self._settings.periods_per_year
        rf_daily = self._settings.risk_free_rate / periods
        violations = snapshots.violations
        count = len(closed)
        by_status = dict.fromkeys(EXIT_KINDS, 0)
        for position in closed:
            by_status[exit_kind(position)] += 1
        wins = sum(1 for p in closed if (p.realized_pnl or ZERO) > 0)
        sizes: dict[str, list[Any]] = {}
        for position in closed:
            sizes.setdefault(position.pair, []).append(position.position_size_zar)
        return {
            "start": begin,
            "end": finish,
            "closed_positions": count,
            "exits": by_status,
            "hit_rates": {
                status: (n / count if count else None) for status, n in by_status.items()
            },
            "win_rate": wins / count if count else None,
            "realized_pnl": sum((p.realized_pnl or ZERO for p in closed), ZERO),
            "pnl_by_pair": _breakdown(closed, "pair"),
            "pnl_by_exit": _breakdown(closed, "status"),
            "slippage_by_exit": slippage_by_exit(closed),
            "average_position_size_zar": (
                sum((p.position_size_zar for p in closed), ZERO) / count if count else None
            ),
            "average_position_size_by_pair": {
                pair: sum(values, ZERO) / len(values) for pair, values in sorted(sizes.items())
            },
            "risk_limit_violations": violations,
            "risk_limit_violations_total": sum(violations.values()),
            "emergency_stops": emergency,
            "automatic_halts": automatic,
            "daily_returns": len(returns),
            "sharpe": sharpe(returns, rf_daily, periods),
            "sortino": sortino(returns, rf_daily, periods),
            "max_drawdown": snapshots.max_drawdown,
        }

    def _snapshot_days(
        self, session: Session, begin: datetime, finish: datetime, limits: Any
    ) -> _SnapshotDays:
        """The snapshot answers of [begin, finish]: one grouped pass per UTC day (the violation
        counts, the day's lowest and highest equity, its last time), the equity of each day's
        last snapshot, and the equity of the few days the maximum drawdown needs
        (``max_drawdown_by_day``)."""
        s = PortfolioSnapshot
        period = (s.ts >= begin, s.ts <= finish)
        day = _utc_day(self._db.dialect, s.ts)
        equity = cast(s.equity, Float)
        over = {  # the same floats and the same test as a row-by-row count (see the docstring)
            "max_drawdown_pct": cast(s.drawdown, Float) > limits.max_drawdown_pct + 1e-12,
            "daily_loss_limit_pct": cast(s.daily_loss, Float) > limits.daily_loss_limit_pct + 1e-12,
            "max_leverage": cast(s.leverage, Float) > limits.max_leverage + 1e-12,
        }
        if self._db.dialect == "sqlite":  # exact text: the order of the numbers needs the cast
            low, high = func.min(equity), func.max(equity)
        else:  # NUMERIC: cast the day's extremes only (rounding keeps order: the same floats)
            low, high = cast(func.min(s.equity), Float), cast(func.max(s.equity), Float)
        # no ORDER BY and no join here: PostgreSQL cannot estimate the number of days (it takes
        # one per row), and either would make it sort every row or merge with the whole table
        days = session.execute(
            select(
                day.label("day"),
                func.max(_stored_ts(self._db.dialect)).label("last_ts"),
                low.label("low"),
                high.label("high"),
                *(func.sum(case((test, 1), else_=0)).label(name) for name, test in over.items()),
            )
            .where(*period)
            .group_by(day)
        ).all()
        ordered = sorted(days, key=lambda r: _as_date(r.day))
        violations = {name: sum(int(getattr(r, name) or 0) for r in ordered) for name in over}
        closes = self._closes(session, [r.last_ts for r in ordered])

        def read(first: date, last: date) -> list[float]:
            lo = datetime.combine(first, time.min, UTC)
            hi = datetime.combine(last + timedelta(days=1), time.min, UTC)
            return list(
                session.scalars(
                    select(equity).where(*period, s.ts >= lo, s.ts < hi).order_by(s.ts, s.id)
                )
            )

        deepest = max_drawdown_by_day(
            [
                DayRange(_as_date(r.day), float(r.low), float(r.high), closes[r.last_ts])
                for r in ordered
            ],
            read,
        )
        return _SnapshotDays(
            close_days=[datetime.combine(_as_date(r.day), time.min, UTC) for r in ordered],
            close_equity=[closes[r.last_ts] for r in ordered],
            violations=violations,
            max_drawdown=deepest,
        )

    def _closes(self, session: Session, times: list[Any]) -> dict[Any, float]:
        """The equity (float) of the snapshot at each of ``times`` (each day's last time, as the
        database returned it); two at the same time: the last written. Through the time index,
        500 times a statement (under SQLite's oldest limit of 999 parameters)."""
        key = _stored_ts(self._db.dialect)
        found: dict[Any, float] = {}
        for i in range(0, len(times), 500):
            rows = session.execute(
                select(key, cast(PortfolioSnapshot.equity, Float))
                .where(key.in_(times[i : i + 500]))
                .order_by(key, PortfolioSnapshot.id)
            ).all()
            found.update((ts, float(value)) for ts, value in rows)  # the last id stays
        return found


@dataclass
class _SnapshotDays:
    close_days: list[datetime]  # each day's midnight (UTC)
    close_equity: list[float]
    violations: dict[str, int]
    max_drawdown: float


def _utc_day(dialect: str, ts: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a ``UTCDateTime`` column, computed in the database. SQLite stores
    naive UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'): its first ten characters; PostgreSQL a
    TIMESTAMPTZ: its date at UTC (not in the session's zone)."""
    if dialect == "sqlite":
        return func.substr(ts, 1, 10)
    return cast(func.timezone("UTC", ts), Date)


def _stored_ts(dialect: str) -> ColumnElement[Any]:
    """The snapshot time as stored, to find a row again by the value the database returned: on
    SQLite the text itself (equal text, whatever its form), on PostgreSQL the TIMESTAMPTZ."""
    if dialect == "sqlite":
        return type_coerce(PortfolioSnapshot.ts, String)
    return PortfolioSnapshot.ts


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def exit_kind(position: Any) -> str:
    """How a closed position counts in the hit rates: its status, except a TAKE_PROFIT that
    closed at a loss ("target touched, closed below entry": filled on the losing side of its
    entry, or with a realized P&L below zero after its fees), which is counted apart."""
    if position.status == "TAKE_PROFIT" and (
        _signed_move(position) < 0 or (position.realized_pnl or ZERO) < 0
    ):
        return TARGET_AT_A_LOSS
    return str(position.status)


def _signed_move(position: Any) -> Decimal:
    """The exit's price move in the position's favour (exit - entry for a long)."""
    if position.exit_price is None or position.entry_price is None:
        return ZERO
    move = position.exit_price - position.entry_price
    return move if position.side == "BUY" else -move


def exit_slippage(position: Any) -> tuple[Decimal, float] | None:
    """The fill against the level that triggered the exit, in the position's favour: (ZAR over
    its quantity, fraction of the level). Negative: filled worse than the level (a stop gapped
    through, a target the market had left by the time the monitor acted). None without a
    trigger level (a manual close) or a fill."""
    trigger, fill = position.exit_trigger_price, position.exit_price
    if trigger is None or fill is None or trigger <= 0 or position.quantity is None:
        return None
    per_unit = fill - trigger if position.side == "BUY" else trigger - fill
    return per_unit * position.quantity, float(per_unit / trigger)


def slippage_by_exit(closed: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Per exit reason, the slippage between each trigger level and its fill: positions with a
    trigger, the total in ZAR (exact), the mean and the worst as a fraction of the level."""
    table: dict[str, dict[str, Any]] = {}
    fractions: dict[str, list[float]] = {}
    for position in closed:
        slip = exit_slippage(position)
        if slip is None:
            continue
        zar_amount, fraction = slip
        row = table.setdefault(
            position.status, {"positions": 0, "slippage_zar": ZERO, "mean_pct": 0.0}
        )
        row["positions"] += 1
        row["slippage_zar"] += zar_amount
        fractions.setdefault(position.status, []).append(fraction)
    for status, row in table.items():
        values = fractions[status]
        row["slippage_zar"] = row["slippage_zar"].quantize(Decimal("1e-8"))
        row["mean_pct"] = sum(values) / len(values)
        row["worst_pct"] = min(values)
    return dict(sorted(table.items()))


def _breakdown(closed: Sequence[Any], key: str) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for position in closed:
        row = table.setdefault(
            getattr(position, key), {"positions": 0, "realized_pnl": ZERO, "wins": 0}
        )
        pnl = position.realized_pnl or ZERO
        row["positions"] += 1
        row["realized_pnl"] += pnl
        row["wins"] += 1 if pnl > 0 else 0
    return dict(sorted(table.items()))


def _when(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(field, value, "a time with its zone (ISO 8601)") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(field, value, "a time with its zone (ISO 8601)")
    return ensure_utc(value)
