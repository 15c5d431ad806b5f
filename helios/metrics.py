"""``hx.metrics``: the seed's weekly checks, computed once for the dashboard, the API and notebooks.

``review(start, end)`` answers the seed's "Weekly" list over a period: risk-limit violations
(should be zero), the stop-loss, take-profit and timeout hit rates, emergency stops, Sharpe,
Sortino, maximum drawdown, and the P&L broken down by pair and by exit reason.

The definitions of the returns, Sharpe, Sortino, the maximum drawdown, the hit rates and the
slippage are the pure ``helios.metrics_stats`` (its docstring states them); this module reads
the database and adds one of its own:

- a risk-limit violation is a snapshot whose drawdown, daily loss or leverage is strictly above
  the limit in force, counted per limit (the checks should make them impossible for leverage;
  drawdown and daily loss can be pushed over by the market, which is what the halts are for).

The limits in force come from ``hx.risk.limit_store`` (``Metrics`` is given the store, not the
whole ``hx.risk``). P&L sums are exact (``Decimal``); ratios are floats.

How a year of minute snapshots (525,600 rows) is reviewed in well under a second: the database
does the per-row work in one grouped pass per UTC day (the violation counts, the day's lowest and
highest equity and its last time); the equity of each day's last snapshot is then looked up by
that time (the daily returns), and the maximum drawdown reads only the days whose own range could
hold the deepest fall (``max_drawdown_by_day``). The closed positions are read as the four
columns the review uses. Every answer is the one the row-by-row definitions above give, to the
bit: the same floats (``CAST`` in SQL) go through the same comparisons and the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Date, Float, String, case, cast, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Event, PortfolioSnapshot, Position, RiskDecision
from helios.errors import InvalidInput
from helios.metrics_stats import (
    EXIT_KINDS,
    EXIT_STATUSES,
    TARGET_AT_A_LOSS,
    DayRange,
    closed_summary,
    daily_returns,
    exit_kind,
    exit_slippage,
    max_drawdown,
    max_drawdown_by_day,
    sharpe,
    slippage_by_exit,
    sortino,
)
from helios.profit_periods import ProfitTable
from helios.profit_reads import ProfitReads
from helios.risk.limits import RiskLimits

# Deprecated (one release): the pure statistics moved to helios.metrics_stats; re-exported here.
__all__ = [
    "EXIT_KINDS",
    "EXIT_STATUSES",
    "TARGET_AT_A_LOSS",
    "DayRange",
    "Metrics",
    "daily_returns",
    "exit_kind",
    "exit_slippage",
    "max_drawdown",
    "max_drawdown_by_day",
    "sharpe",
    "slippage_by_exit",
    "sortino",
]


class LimitsInForce(Protocol):
    """What the review needs of the limits: the version in force (``hx.risk.limit_store``)."""

    def get_limits(self) -> RiskLimits: ...


class Metrics:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, limits: LimitsInForce
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limits = limits  # hx.risk.limit_store: the limits in force
        self._profit = ProfitReads(db, settings, clock)

    def profit(self, period: str = "daily", count: int | None = None) -> ProfitTable:
        """The profit table (Freqtrade's ``/daily``, ``/weekly``, ``/monthly``): the ``count``
        latest ``period``s (``daily``, ``weekly`` or ``monthly``; count 1 to 366, default 7, 8
        or 6) in the trading-day zone, newest first, each with its net realized P&L, its share
        of the period's starting equity, trades, wins and win rate (``helios.profit_periods``
        states the rule, ``helios.profit_reads`` the reads). Bad input: InvalidInput."""
        return self._profit.profit(period, count)

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
        limits = self._limits.get_limits()
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
        return {
            "start": begin,
            "end": finish,
            **closed_summary(closed),
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


def _when(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(field, value, "a time with its zone (ISO 8601)") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(field, value, "a time with its zone (ISO 8601)")
    return ensure_utc(value)
