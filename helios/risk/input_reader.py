"""Reading a decision's inputs: one consistent read of everything the checks judge.

The rule: the request is validated (pair, side, trade parameters against the leverage limit in
force), then the limits, the account, the exposed positions at their marks, the halt flag, the
pair's lock in force (``helios.pair_lock_store``), the pair's price and its age, and the history
epoch that keys the statistics cache are read in the caller's transaction (``statements``: a
snapshot, or the account row locked when the decision reserves the trade), and turned into
``Inputs``. The cash an opening trade may use is the ledger's cash less what the positions being
opened will take; in LIVE the lesser of that (scaled like equity by the capital cap) and the
venue's available ZAR, asked outside the transaction (``venue``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from helios.accounts.account import LedgerInvariantError
from helios.accounts.valuation import day_start
from helios.clock import Clock, trading_day
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.equity_marks import EquityMarks, updated_marks
from helios.market.bar_time import floor_time
from helios.market.candles import DAY
from helios.market.store import MarketData
from helios.pair_lock_store import lock_holding
from helios.pair_locks import refusal
from helios.risk.book import Book, portfolio
from helios.risk.checks import PortfolioState, ProposedTrade
from helios.risk.inputs import Inputs, checks_enforced
from helios.risk.limit_store import limits_in_force, limits_or_fail
from helios.risk.limits import RiskLimits
from helios.risk.prechecks import free_cash, live_free_cash, pair_full
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
        today = floor_time(now, DAY)
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
        book = portfolio(head, positions, self._settings, start_of_day, unknown)
        stored = EquityMarks(head.peak_equity, head.trading_day, head.start_of_day_equity)
        marks = updated_marks(
            stored, book.equity, book.fully_priced, trading_day(now, zone), start_of_day
        )
        book = replace(book, day_start=start_of_day, marks_due=marks != stored, read_at=now)
        stats = self._stats.stats_for((today.isoformat(), head.history_epoch or "0"), today).stats
        trade = ProposedTrade(
            pair=pair,
            side=side,
            position_size_zar=params.position_size_zar,
            leverage=params.leverage,
            sector=self._settings.sector_of(pair),
            price=float(head.price) if head.price is not None else None,
        )
        free, source, fee = self._free_cash(head.cash, book, mode, venue)
        observed = head.price_observed_at
        is_halted = head.halted == "true"
        reason = head.halt_reason
        lock = lock_holding(conn, pair, now)
        inputs = Inputs(
            book.state,
            limits,
            trade,
            stats,
            is_halted,
            reason if reason and is_halted else "",
            mode,
            book.cap,
            free_cash=str(free) if free is not None else None,
            free_cash_source=source,
            fee_pct=str(fee),
            price_age_seconds=(now - observed).total_seconds() if observed is not None else None,
            max_price_age_seconds=self._settings.price_max_age_seconds,
            lock_refusal=(
                refusal(lock, self._settings.trading_day_timezone)
                if lock
                else pair_full(
                    sum(1 for p in book.state.positions if p.pair == pair),
                    pair,
                    self._settings.max_positions_per_pair,
                )
            ),
            lock_id=lock.id if lock else None,
            # LIVE always enforces the 7 checks, whatever the setting says
            checks_enforced=checks_enforced(self._settings.risk_checks_enforced, mode),
            lock_ends_at=lock.ends_at.isoformat() if lock else None,
        )
        return inputs, params, book

    def _free_cash(
        self, cash: Decimal, book: Book, mode: str, venue: VenueCash | None
    ) -> tuple[Decimal | None, str, Decimal]:
        """The cash an opening trade may use (``prechecks.free_cash``), where the figure comes
        from, and the fee rate. PAPER: the ledger's cash less what the positions being opened
        will take. LIVE: the lesser of that (scaled like equity by the capital cap) and VALR's
        available ZAR, with VALR's taker fee; unknown when VALR could not be asked."""
        if mode != TradingMode.LIVE.value:
            fee = self._settings.paper_fee_pct
            return free_cash(cash, book.reserved, fee), "the ledger's cash", fee
        if venue is None:
            venue = VenueCash(None, self._settings.paper_fee_pct, "no venue to ask")
        live = live_free_cash(
            venue.available_zar,
            cash,
            book.reserved,
            venue.fee_pct,
            book.equity,
            self._settings.live_capital_cap_zar,
            venue.note,
        )
        return live.free, live.source, venue.fee_pct

    def portfolio_state(self, session: Session | Connection) -> PortfolioState:
        """The open book as the checks see it, in the caller's transaction."""
        return read_portfolio(session, self._settings, self._clock.now())

    def limits_and_state(self) -> tuple[RiskLimits, PortfolioState]:
        """The limits in force and the open book, in one read transaction."""
        with self._db.read() as session:
            return limits_in_force(session), self.portfolio_state(session)
