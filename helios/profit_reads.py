"""The profit tables' reads (``hx.metrics.profit``): the daily, weekly and monthly P&L from the
database, by the pure rule ``helios.profit_periods`` (its docstring states the rule).

Two reads, however long the history, so a table stays fast on a year of minute snapshots and
10,000 positions:

- the closed positions of the range, as their two columns (close time, net realized P&L), in one
  statement (bucketing by the trading-day zone needs the zone's rules, which SQLite does not
  have, so the few thousand rows at most are summed in Python, exactly, as ``Decimal``);
- the equity at each period's start: the last snapshot at or before each start, one
  ``LIMIT 1`` lookup through the snapshot time index per period, all of them in one statement
  (``UNION ALL``, 200 a statement: under SQLite's limit of 500 terms). The whole snapshot table
  is never read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import PortfolioSnapshot, PortfolioState, Position
from helios.metrics_stats import EXIT_STATUSES
from helios.profit_periods import (
    ClosedTrade,
    EquityPoint,
    ProfitTable,
    check_request,
    period_starts,
    profit_table,
)

ZERO = Decimal(0)
_BATCH = 200


class ProfitReads:
    """``profit(period, count)``: the profit table of the ``count`` latest periods."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def profit(self, period: str = "daily", count: int | None = None) -> ProfitTable:
        """The ``count`` latest ``period``s (``daily``, ``weekly`` or ``monthly``; count from 1 to
        366, default 7, 8 or 6) in the trading-day zone, newest first, the last one so far.
        Bad input: InvalidInput naming the field, the value and what is allowed."""
        kind, many = check_request(period, count)
        now = self._clock.now()
        zone = self._settings.trading_day_timezone
        starts = period_starts(kind, many, now, zone)
        with self._db.read() as session:
            rows = session.execute(
                select(Position.closed_at, Position.realized_pnl).where(
                    Position.status.in_(EXIT_STATUSES),
                    Position.closed_at >= starts[-1],
                    Position.closed_at.is_not(None),
                )
            ).all()
            equity = _equity_at(session, starts)
            initial = session.scalar(select(PortfolioState.initial_capital).limit(1))
        trades = [ClosedTrade(closed_at, pnl or ZERO) for closed_at, pnl in rows]
        capital = initial if initial is not None else self._settings.initial_capital_zar
        return profit_table(kind, many, now, zone, trades, equity, capital)


def _equity_at(session: Session, starts: list[datetime]) -> list[EquityPoint]:
    """The last snapshot at or before each of ``starts`` (none before the first snapshot), each
    found through the time index (``ORDER BY ts DESC LIMIT 1``)."""
    s = PortfolioSnapshot
    found: dict[datetime, EquityPoint] = {}
    for i in range(0, len(starts), _BATCH):
        lookups = [
            select(s.ts.label("ts"), s.equity.label("equity"))
            .where(s.ts <= start)
            .order_by(s.ts.desc(), s.id.desc())
            .limit(1)
            .subquery()
            for start in starts[i : i + _BATCH]
        ]
        statement = union_all(*(select(q.c.ts, q.c.equity) for q in lookups))
        for ts, equity in session.execute(statement).all():
            found[ts] = EquityPoint(ts, equity)
    return list(found.values())
