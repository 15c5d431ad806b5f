"""Reading a decision's inputs: one consistent read of everything the checks judge.

The rule: the request is validated (pair, side, trade parameters against the leverage limit in
force), then the limits, the account, the exposed positions at their marks, the halt flag, the
pair's lock in force (``helios.pair_lock_store``), the pair's price and its age, and the history
epoch that keys the statistics cache are read in the caller's transaction (``statements``: a
snapshot, or the account row locked when the decision reserves the trade), and turned into
``Inputs`` by the pure ``decision_inputs.inputs_of`` (a book held in memory gives it the same
reads). The cash an opening trade may use is the ledger's cash less what the positions being
opened will take; in LIVE the lesser of that (scaled like equity by the capital cap) and the
venue's available ZAR, asked outside the transaction (``venue``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from helios.accounts.account import LedgerInvariantError
from helios.accounts.valuation import day_start
from helios.clock import Clock
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.market.store import MarketData
from helios.pair_lock_store import lock_holding
from helios.risk.book import Book
from helios.risk.checks import PortfolioState
from helios.risk.decision_inputs import DecisionReads, inputs_of
from helios.risk.inputs import Inputs
from helios.risk.limit_store import limits_in_force, limits_or_fail
from helios.risk.limits import RiskLimits
from helios.risk.statements import (
    CHECK_HEAD,
    CHECK_HEAD_LOCKED,
    NO_ACCOUNT,
    OPEN_POSITIONS,
    read_portfolio,
    snapshot,
)
from helios.risk.stats_cache import StatsCache
from helios.risk.venue import NeedVenue, VenueCash, VenueCashSource
from helios.trade import TradeParams, parse_side


class InputReader:
    """The reads behind a decision, a preview, the sizing and the capacity."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        stats: StatsCache,
        venue: VenueCashSource,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._stats = stats
        self._venue = venue

    def gather(
        self, pair: Any, signal: Any, trade_params: Any, venue: VenueCash | None = None
    ) -> tuple[Inputs, TradeParams]:
        """Validate the request and read everything the checks need in one consistent read
        transaction: the limits, the portfolio, the prices, the halt flag and the history epoch
        that says whether the cached statistics are still current (refit after, if not)."""
        return self._venue.run(
            venue, lambda v: self._gather(pair, signal, trade_params, v), fresh=False
        )

    def _gather(
        self, pair: Any, signal: Any, trade_params: Any, venue: VenueCash | None
    ) -> tuple[Inputs, TradeParams]:
        with self._db.engine.connect() as conn, snapshot(conn):
            return self.read_inputs(conn, pair, signal, trade_params, venue=venue)[:2]

    def read_inputs(
        self,
        conn: Connection,
        pair: Any,
        signal: Any,
        trade_params: Any,
        *,
        lock: bool = False,
        venue: VenueCash | None = None,
    ) -> tuple[Inputs, TradeParams, Book]:
        """The reads behind a decision, in the caller's transaction (``lock``: the account row
        locked for the rest of it). In LIVE without ``venue`` it raises ``NeedVenue`` (the
        caller asks VALR outside the transaction and reads again)."""
        pair = self._market.check_pair(pair)
        side = parse_side(signal)
        now = self._clock.now()
        head = conn.execute(CHECK_HEAD_LOCKED if lock else CHECK_HEAD, {"pair": pair}).one_or_none()
        if head is None:
            raise LedgerInvariantError(NO_ACCOUNT)
        limits = limits_or_fail(head)
        params = TradeParams.parse(trade_params, self._settings, limits.max_leverage, side)
        mode = head.trading_mode or TradingMode.PAPER.value
        if mode == TradingMode.LIVE.value and venue is None and self._venue.can_ask:
            raise NeedVenue(pair)
        positions = conn.execute(OPEN_POSITIONS).all()
        zone = self._settings.trading_day_timezone
        start_of_day, unknown = day_start(
            conn, head.trading_day, head.start_of_day_equity, now, zone
        )
        reads = DecisionReads(head, positions, start_of_day, unknown, lock_holding(conn, pair, now))
        inputs, book = self.inputs_from(reads, pair, side, params, limits, now, venue)
        return inputs, params, book

    def inputs_from(
        self,
        reads: DecisionReads,
        pair: str,
        side: str,
        params: TradeParams,
        limits: RiskLimits,
        now: datetime,
        venue: VenueCash | None = None,
    ) -> tuple[Inputs, Book]:
        """``inputs_of`` on ``reads`` (the database's, or a book's held in memory) with the
        market statistics keyed by the day and the history epoch read."""
        return inputs_of(
            reads,
            pair=pair,
            side=side,
            params=params,
            limits=limits,
            stats=self._stats.stats_at(now, reads.head.history_epoch).stats,
            now=now,
            settings=self._settings,
            venue=venue,
        )

    def portfolio_state(self, session: Session | Connection) -> PortfolioState:
        """The open book as the checks see it, in the caller's transaction."""
        return read_portfolio(session, self._settings, self._clock.now())

    def limits_and_state(self) -> tuple[RiskLimits, PortfolioState]:
        """The limits in force and the open book, in one read transaction."""
        with self._db.read() as session:
            return limits_in_force(session), self.portfolio_state(session)
