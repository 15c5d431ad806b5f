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
  not closed positions and are left out);
- a risk-limit violation is a snapshot whose drawdown, daily loss or leverage is strictly above
  the limit in force, counted per limit (the checks should make them impossible for leverage;
  drawdown and daily loss can be pushed over by the market, which is what the halts are for).

P&L sums are exact (``Decimal``); ratios are floats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Float, cast, func, select

from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Event, PortfolioSnapshot, Position
from helios.errors import InvalidInput
from helios.money import ZERO
from helios.risk.service import RiskManager

EXIT_STATUSES = ("STOPPED_OUT", "TAKE_PROFIT", "TIMEOUT", "EMERGENCY_CLOSE", "CLOSED")


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


class Metrics:
    def __init__(self, db: Database, settings: Settings, clock: Clock, risk: RiskManager) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._risk = risk

    def review(self, start: Any, end: Any = None) -> dict[str, Any]:
        """The seed's weekly checks over [start, end] (end: now)."""
        begin = _when(start, "start")
        finish = _when(end, "end") if end is not None else self._clock.now()
        if finish <= begin:
            raise InvalidInput("end", end, f"later than start ({begin.isoformat()})")
        limits = self._risk.get_limits()
        with self._db.read() as session:
            closed = list(
                session.scalars(
                    select(Position).where(
                        Position.status.in_(EXIT_STATUSES),
                        Position.closed_at >= begin,
                        Position.closed_at <= finish,
                    )
                )
            )
            # ratios and a chart-grade equity: floats straight from SQL (a year of minute
            # snapshots is 525,600 rows; decoding each exact value costs seconds)
            snaps = session.execute(
                select(
                    PortfolioSnapshot.ts,
                    cast(PortfolioSnapshot.equity, Float).label("equity"),
                    cast(PortfolioSnapshot.drawdown, Float).label("drawdown"),
                    cast(PortfolioSnapshot.daily_loss, Float).label("daily_loss"),
                    cast(PortfolioSnapshot.leverage, Float).label("leverage"),
                )
                .where(PortfolioSnapshot.ts >= begin, PortfolioSnapshot.ts <= finish)
                .order_by(PortfolioSnapshot.ts)
            ).all()
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
        equity = [float(s.equity) for s in snaps]
        returns = daily_returns([s.ts for s in snaps], equity)
        periods = self._settings.periods_per_year
        rf_daily = self._settings.risk_free_rate / periods
        violations = {
            "max_drawdown_pct": sum(
                1 for s in snaps if float(s.drawdown) > limits.max_drawdown_pct + 1e-12
            ),
            "daily_loss_limit_pct": sum(
                1 for s in snaps if float(s.daily_loss) > limits.daily_loss_limit_pct + 1e-12
            ),
            "max_leverage": sum(
                1 for s in snaps if float(s.leverage) > limits.max_leverage + 1e-12
            ),
        }
        count = len(closed)
        by_status = {status: 0 for status in EXIT_STATUSES}
        for position in closed:
            by_status[position.status] += 1
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
            "max_drawdown": max_drawdown(equity),
        }


def _breakdown(closed: list[Position], key: str) -> dict[str, dict[str, Any]]:
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
