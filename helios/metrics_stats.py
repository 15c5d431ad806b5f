"""The statistics of the seed's weekly review: pure functions of returns, equity and closed
positions (no I/O; ``helios.metrics`` reads the database and calls them).

The rules (DESIGN.md leaves them to us; ``docs/architecture.md`` records them):

- returns are daily: the last snapshot equity of each UTC day, ``r_t = E_t / E_{t-1} - 1``;
- Sharpe = mean(r - rf_daily) / std(r) x sqrt(periods per year), rf_daily = RISK_FREE_RATE /
  PERIODS_PER_YEAR; Sortino uses the downside deviation sqrt(mean(min(r - rf_daily, 0)^2));
  both are None below 2 daily returns or with no dispersion (never a division by zero);
- maximum drawdown = max over the period of 1 - equity / running peak (snapshots as stored);
  ``max_drawdown_by_day`` gives the same float reading only the days that can hold it;
- hit rates = the share of closed positions with each exit (FAILED opens are not closed
  positions), a TAKE_PROFIT filled on the losing side of its entry, or with a realized loss
  after fees, counted apart (``TAKE_PROFIT_AT_A_LOSS``: "target touched, closed below entry");
- slippage = each exit's fill against the level that triggered it (stop, target, the price a
  timeout saw), in the position's favour, per exit reason in ZAR and as a fraction.

P&L sums are exact (``Decimal``); ratios are floats. A closed position is any object with the
attributes the functions read (``pair``, ``status``, ``realized_pnl``, ``position_size_zar``,
``side``, ``entry_price``, ``exit_price``, ``exit_trigger_price``, ``quantity``): a database row
or a test's ``SimpleNamespace``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from helios.money import ZERO

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


def pnl_breakdown(closed: Sequence[Any], key: str) -> dict[str, dict[str, Any]]:
    """Per value of ``key`` (``pair``, ``status``): positions, realized P&L (exact), wins."""
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


def closed_summary(closed: Sequence[Any]) -> dict[str, Any]:
    """The review's figures of the positions closed in a period: their count, the exits by kind
    and their hit rates, the win rate, the realized P&L (total, by pair, by exit), the slippage
    by exit and the average margin (overall and by pair); rates None without a position."""
    count = len(closed)
    by_status = dict.fromkeys(EXIT_KINDS, 0)
    for position in closed:
        by_status[exit_kind(position)] += 1
    wins = sum(1 for p in closed if (p.realized_pnl or ZERO) > 0)
    sizes: dict[str, list[Any]] = {}
    for position in closed:
        sizes.setdefault(position.pair, []).append(position.position_size_zar)
    return {
        "closed_positions": count,
        "exits": by_status,
        "hit_rates": {status: (n / count if count else None) for status, n in by_status.items()},
        "win_rate": wins / count if count else None,
        "realized_pnl": sum((p.realized_pnl or ZERO for p in closed), ZERO),
        "pnl_by_pair": pnl_breakdown(closed, "pair"),
        "pnl_by_exit": pnl_breakdown(closed, "status"),
        "slippage_by_exit": slippage_by_exit(closed),
        "average_position_size_zar": (
            sum((p.position_size_zar for p in closed), ZERO) / count if count else None
        ),
        "average_position_size_by_pair": {
            pair: sum(values, ZERO) / len(values) for pair, values in sorted(sizes.items())
        },
    }
