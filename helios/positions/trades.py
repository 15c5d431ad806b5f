"""``hx.positions.closed_trades``: the closed trades list, filtered and paged in SQL.

The filter (``TradeFilter``: pair, exit reasons, exit date range, page, page size) becomes one
WHERE clause used twice: a COUNT for the total and the page itself (newest exit first, LIMIT and
OFFSET), reading only the columns the list shows, so a page costs the same with 10,000 closed
positions as with 100. The figures per trade (duration, net P&L %, exit reason, slippage) are
the pure rules of ``helios.positions.trade_figures``. The CSV export reads every matching trade
(no paging) with the same clause.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select

from helios.db.engine import Database
from helios.db.models import Position
from helios.errors import InvalidInput
from helios.market.store import MarketData
from helios.money import ZERO
from helios.positions.lifecycle import FINAL_STATUSES
from helios.positions.trade_figures import (
    ClosedTrade,
    TradeFilter,
    TradePage,
    figures,
    trades_csv,
)

COLUMNS = (
    Position.id,
    Position.pair,
    Position.side,
    Position.status,
    Position.mode,
    Position.opened_at,
    Position.closed_at,
    Position.entry_price,
    Position.exit_price,
    Position.exit_trigger_price,
    Position.stop_loss_pct,
    Position.take_profit_pct,
    Position.quantity,
    Position.position_size_zar,
    Position.leverage,
    Position.entry_fee,
    Position.exit_fee,
    Position.realized_pnl,
    Position.strategic_reasoning,
)
# a failed open has no exit time: listed after every closed one, on both databases
NEWEST_EXIT_FIRST = (Position.closed_at.desc().nulls_last(), Position.id.desc())


def _trade(row: Any) -> ClosedTrade:
    return ClosedTrade(row[0], *row[1:])


class TradeReads:
    def __init__(self, db: Database, market: MarketData, tick: Decimal = ZERO) -> None:
        self._db = db
        self._market = market
        self._tick = tick  # the price grid stops are placed on (PRICE_TICK)

    def _where(self, wanted: TradeFilter) -> list[ColumnElement[bool]]:
        if not isinstance(wanted, TradeFilter):
            raise InvalidInput("filter", wanted, "a TradeFilter")
        clauses: list[ColumnElement[bool]] = [Position.status.in_(wanted.reasons or FINAL_STATUSES)]
        if wanted.pair is not None:
            clauses.append(Position.pair == self._market.check_pair(wanted.pair))
        if wanted.start is not None:
            clauses.append(Position.closed_at >= wanted.start)
        if wanted.end is not None:
            clauses.append(Position.closed_at < wanted.end)
        return clauses

    def closed_trades(self, wanted: TradeFilter) -> TradePage:
        """One page of closed trades, newest exit first, with the total that match."""
        where = self._where(wanted)
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(Position).where(*where)) or 0
            rows = session.execute(
                select(*COLUMNS)
                .where(*where)
                .order_by(*NEWEST_EXIT_FIRST)
                .limit(wanted.page_size)
                .offset(wanted.offset)
            ).all()
        trades = tuple((t, figures(t, self._tick)) for t in map(_trade, rows))
        return TradePage(trades, int(total), wanted.page, wanted.page_size)

    def closed_trades_csv(self, wanted: TradeFilter) -> str:
        """Every trade matching ``wanted`` (its page ignored) as CSV, exact decimal strings."""
        where = self._where(wanted)
        with self._db.read() as session:
            rows = session.execute(
                select(*COLUMNS).where(*where).order_by(*NEWEST_EXIT_FIRST)
            ).all()
        return trades_csv([(t, figures(t, self._tick)) for t in map(_trade, rows)])
