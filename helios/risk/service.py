"""``hx.risk``: the guardian wired to the database.

``check_trade_risk`` builds the portfolio state, the limits in force and the market statistics
from the database, calls the pure ``checks.evaluate`` and stores the decision (inputs and all 7
results) in ``risk_decisions``, passed or not, so it can be replayed and explained later.
``preview`` does the same without storing and adds the headroom on each limit.

Market statistics (GARCH/EWMA volatility, covariance of daily returns) are cached per process and
refitted only when a new completed daily candle arrives (``volatility`` uses completed UTC days).

In LIVE the equity every check, the sizing and the capacity see is at most LIVE_CAPITAL_CAP_ZAR
(``_portfolio``, the one place; the decision records the cap and the ledger's equity).

Speed (issue 3: a check under 2 ms with 20 open positions; ``bench/bench_risk.py``): a check
takes one connection from the pool for one read transaction of three statements (the candle
marker that keys the cache; the account, the limits in force, the halt flag and the pair's price
in one row; the open positions at their marks) and one INSERT of the decision. The statements are
built once at import (SQLAlchemy then reuses their compiled form as is) and select only the
columns the checks need.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Connection, Row, bindparam, func, insert, select, true
from sqlalchemy.orm import Session

from helios.accounts.account import MARGIN_HELD_STATUSES, STATE_ID, LedgerInvariantError
from helios.accounts.valuation import day_start, held_equity, maintain_marks
from helios.clock import Clock, trading_day
from helios.config import Settings, SizingMethod, TradingMode
from helios.db.engine import WRITE_OPTION, Database
from helios.db.models import (
    LatestPrice,
    Position,
    RiskDecision,
    RiskLimitVersion,
    Setting,
)
from helios.db.models import PortfolioState as Account
from helios.equity_marks import EquityMarks, updated_marks
from helios.errors import InvalidInput
from helios.events import record_event
from helios.market.candles import DAY
from helios.market.store import HISTORY_EPOCH_KEY, MarketData, floor_time
from helios.money import price as to_price
from helios.money import zar
from helios.optimizer.service import Optimizer
from helios.optimizer.target import (
    PositionSize,
    capped_by_weight,
    kelly_vol,
    rebalance_trades,
    target_weight,
)
from helios.risk.capacity import fit, minimum_trade
from helios.risk.checks import (
    MarketStats,
    OpenExposure,
    PortfolioState,
    ProposedTrade,
    RiskResult,
    evaluate,
    halted_result,
)
from helios.risk.limits import LIMIT_NAMES, RiskLimits, loosened, validate_changes
from helios.risk.prechecks import (
    PreCheck,
    affordable_margin,
    buying_power,
    free_cash,
    live_free_cash,
    opening_cost,
    price_age,
    with_pre_checks,
)
from helios.risk.sizing import size
from helios.risk.volatility import VolEstimate, covariance, estimate_vol
from helios.settings_store import HALT_REASON_KEY, HALTED_KEY, MODE_KEY
from helios.trade import TradeParams, entry_levels, parse_side

VENUE_CASH_TTL_SECONDS = 5.0  # how long a preview may reuse VALR's available ZAR
MIN_COV_RETURNS = 30  # a pair with fewer daily returns is left out of the covariance matrix
# positions whose exposure the checks count: open, closing, and being opened (a reserved trade)
EXPOSED_STATUSES = (*MARGIN_HELD_STATUSES, "OPENING")
T = TypeVar("T")


@dataclass(frozen=True)
class RiskStats:
    """The market statistics in force, with how each volatility was estimated."""

    vols: dict[str, VolEstimate]
    stats: MarketStats
    marker: tuple[Any, ...]
    fitted_at: datetime
    fit_seconds: float

    def daily_vol(self, pair: str) -> float | None:
        estimate = self.vols.get(pair)
        return estimate.daily_vol if estimate else None

    def correlation_matrix(self) -> pd.DataFrame:
        pairs = list(self.stats.pairs)
        cov = self.stats.covariance
        data = [
            [
                cov[i][j] / math.sqrt(cov[i][i] * cov[j][j])
                if cov[i][i] > 0 and cov[j][j] > 0
                else float("nan")
                for j in range(len(pairs))
            ]
            for i in range(len(pairs))
        ]
        return pd.DataFrame(data, index=pairs, columns=pairs)


@dataclass(frozen=True)
class CapitalCap:
    """LIVE_CAPITAL_CAP_ZAR in force on a LIVE decision: the ledger's equity, the cap, and the
    factor (min(1, cap / equity)) that scaled equity, peak and start-of-day equity."""

    cap_zar: float
    ledger_equity: float
    scale: float


@dataclass(frozen=True)
class VenueCash:
    """LIVE: what the venue says the account may spend now (VALR's available ZAR) and the taker
    fee it charges on ``pair``; ``available_zar`` None when it could not be asked (``note``)."""

    available_zar: Decimal | None
    fee_pct: Decimal
    note: str = ""


class _NeedVenue(Exception):
    """A LIVE decision needs the venue's cash, which is read outside any transaction."""

    def __init__(self, pair: str) -> None:
        super().__init__(pair)
        self.pair = pair


@dataclass(frozen=True)
class Book:
    """The account as one decision read it: the checks' state, the LIVE cap, the ledger's own
    equity (exact, uncapped), whether every position had a price, and the positions being
    opened (margin, leverage) whose cash is reserved."""

    state: PortfolioState
    cap: CapitalCap | None
    equity: Decimal
    fully_priced: bool
    reserved: list[tuple[Decimal, Decimal]]
    # the trading day's start as read (None: unknown), and whether this valuation moves the
    # account's marks (a new peak, a day to roll): the decision then writes them
    day_start: Decimal | None = None
    marks_due: bool = False
    # when it was read: the marks are written for that moment (a write a moment later could be
    # on the next trading day, which ``day_start`` does not belong to)
    read_at: datetime | None = None


@dataclass(frozen=True)
class Inputs:
    """Everything the pure function saw: stored with each decision, enough to replay it."""

    state: PortfolioState
    limits: RiskLimits
    trade: ProposedTrade
    stats: MarketStats
    halted: bool
    halt_reason: str
    mode: str = "PAPER"  # the trading mode in force when the decision was taken
    # LIVE: the capital cap behind ``state`` (``CapitalCap``); None in PAPER
    capital_cap: CapitalCap | None = None
    # the pre-checks' inputs (``risk.prechecks``). ``max_price_age_seconds`` None: a decision
    # stored before the pre-checks existed (its replay judges the 7 alone, as it was decided)
    free_cash: str | None = None  # exact ZAR text; None: not known (fails closed)
    free_cash_source: str = ""  # where the free cash figure came from, or why it is unknown
    fee_pct: str = "0"  # the opening fee rate the buying power adds to the margin
    price_age_seconds: float | None = None  # since the pair's price was observed (None: none)
    max_price_age_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # _flat, not asdict: the same dict without asdict's recursive deep copy (0.13 ms of a
        # check with 20 positions, against 7 us); every field of these dataclasses is a plain value
        return {
            "state": {
                **_flat(self.state),
                # JSON has no NaN (PostgreSQL refuses it): a position without a mark is null
                "positions": [
                    {**_flat(p), "notional": p.notional if math.isfinite(p.notional) else None}
                    for p in self.state.positions
                ],
            },
            "limits": self.limits.to_dict(),
            "trade": _flat(self.trade),
            "stats": {
                "daily_vol": dict(self.stats.daily_vol),
                "pairs": list(self.stats.pairs),
                "covariance": [list(row) for row in self.stats.covariance],
                "aligned_obs": self.stats.aligned_obs,
            },
            "halted": self.halted,
            "halt_reason": self.halt_reason,
            "mode": self.mode,
            "capital_cap": _flat(self.capital_cap) if self.capital_cap is not None else None,
            "free_cash": self.free_cash,
            "free_cash_source": self.free_cash_source,
            "fee_pct": self.fee_pct,
            "price_age_seconds": self.price_age_seconds,
            "max_price_age_seconds": self.max_price_age_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inputs:
        state = data["state"]
        limits = {k: v for k, v in data["limits"].items() if k != "changed_at"}
        return cls(
            state=PortfolioState(
                equity=state["equity"],
                peak_equity=state["peak_equity"],
                start_of_day_equity=state["start_of_day_equity"],
                positions=tuple(
                    OpenExposure(**{**p, "notional": _nan_if_none(p["notional"])})
                    for p in state["positions"]
                ),
                marks_unknown=state.get("marks_unknown", ""),
            ),
            limits=RiskLimits(**limits),
            trade=ProposedTrade(**data["trade"]),
            stats=MarketStats(
                daily_vol=data["stats"]["daily_vol"],
                pairs=tuple(data["stats"]["pairs"]),
                covariance=tuple(tuple(row) for row in data["stats"]["covariance"]),
                aligned_obs=data["stats"]["aligned_obs"],
            ),
            halted=data["halted"],
            halt_reason=data["halt_reason"],
            mode=data.get("mode", "PAPER"),
            capital_cap=CapitalCap(**data["capital_cap"]) if data.get("capital_cap") else None,
            free_cash=data.get("free_cash"),
            free_cash_source=data.get("free_cash_source", ""),
            fee_pct=data.get("fee_pct", "0"),
            price_age_seconds=data.get("price_age_seconds"),
            max_price_age_seconds=data.get("max_price_age_seconds"),
        )

    def pre_checks(self) -> list[PreCheck]:
        """Buying power and price age from the figures read with the decision (none for a
        decision stored before they existed)."""
        if self.max_price_age_seconds is None:
            return []
        trade = self.trade
        cost = opening_cost(trade.position_size_zar, trade.leverage, Decimal(self.fee_pct))
        free = Decimal(self.free_cash) if self.free_cash is not None else None
        return [
            price_age(trade.pair, self.price_age_seconds, self.max_price_age_seconds),
            buying_power(cost, free, self.free_cash_source),
        ]


@dataclass(frozen=True)
class Headroom:
    check: str
    limit_name: str
    value: float | None
    limit: float
    headroom: float | None  # limit - value, in the check's own unit
    max_additional_notional_zar: float | None  # more notional of this trade's kind that fits


@dataclass(frozen=True)
class PreviewLevels:
    """What the trade would put at stake (ZAR), and its stop and target prices measured from the
    latest price (None without one; the position's own levels follow its fill price)."""

    notional_zar: Decimal
    zar_at_risk: Decimal  # notional x stop distance, before fees and slippage
    reference_price: Decimal | None
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None


@dataclass(frozen=True)
class Preview:
    result: RiskResult
    headroom: list[Headroom]
    capacity: dict[str, Any]
    trade: TradeParams
    inputs: dict[str, Any] = field(repr=False)
    levels: PreviewLevels | None = None

    @property
    def passed(self) -> bool:
        return self.result.passed


def _f(value: Decimal | float) -> float:
    return float(value)


def _nan_if_none(value: float | None) -> float:
    """A stored null notional (no mark when decided) back to the NaN the checks expect."""
    return float("nan") if value is None else value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _flat(obj: Any) -> dict[str, Any]:
    """``asdict`` for a dataclass whose fields hold plain values (or are replaced by the
    caller): one level, no deep copy."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


class RiskManager:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        optimizer: Optimizer | None = None,
        venue: Callable[[str], VenueCash] | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._optimizer = optimizer  # hx.optimizer, for SIZING_METHOD=optimizer_capped
        # LIVE: VALR's available ZAR and taker fee for a pair (the buying power pre-check)
        self._venue = venue
        self._venue_cache: dict[str, tuple[float, VenueCash]] = {}
        self._stats: RiskStats | None = None
        self._stats_lock = threading.Lock()

    # --- limits -------------------------------------------------------------------------
    def get_limits(self) -> RiskLimits:
        """The limits in force (the newest version)."""
        with self._db.read() as session:
            return _limits_in_force(session)

    def limit_history(self) -> list[RiskLimits]:
        """Every version, newest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(RiskLimitVersion).order_by(RiskLimitVersion.version.desc())
            )
            return [_limits_from_row(row) for row in rows]

    def update_limits(self, changes: dict[str, Any], changed_by: str, note: str = "") -> RiskLimits:
        """Store a new version with ``changes`` applied (validated), who and when.

        Loosening a limit while positions are open is allowed and recorded as an event.
        """
        clean = validate_changes(changes)
        if not isinstance(changed_by, str) or not changed_by.strip():
            raise InvalidInput("changed_by", changed_by, "who is making the change (non-empty)")
        now = self._clock.now()
        with self._db.write() as session:
            before = _limits_in_force(session)
            after = RiskLimits.from_values({**before.values(), **clean})
            version = (before.version or 0) + 1
            session.add(_limits_row(after, version, changed_by.strip(), now, note))
            changed = {
                k: [getattr(before, k), v] for k, v in clean.items() if getattr(before, k) != v
            }
            record_event(
                session,
                ts=now,
                kind="LIMITS_CHANGED",
                actor=changed_by,
                message=f"risk limits v{before.version} -> v{version}: "
                + ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changed.items()),
                details={"changes": changed, "note": note},
            )
            looser = loosened(before, after)
            open_count = session.scalar(
                select(func.count())
                .select_from(Position)
                .where(Position.status.in_(MARGIN_HELD_STATUSES))
            )
            if looser and open_count:
                record_event(
                    session,
                    ts=now,
                    kind="LIMITS_LOOSENED",
                    actor=changed_by,
                    severity="WARNING",
                    message=f"loosened {', '.join(looser)} with {open_count} open position(s)",
                    details={"limits": looser},
                )
        return replace(after, version=version, changed_by=changed_by.strip(), changed_at=now)

    # --- market statistics --------------------------------------------------------------
    def market_stats(self) -> RiskStats:
        """Volatility and covariance, refitted only when a new completed day arrives."""
        today = floor_time(self._clock.now(), DAY)
        with self._db.read() as session:
            marker = _history_marker(session, today)
        return self._stats_for(marker, today)

    def _stats_for(self, marker: tuple[Any, ...], today: datetime) -> RiskStats:
        """The cached statistics if they were fitted on ``marker``, else a refit."""
        cached = self._stats
        if cached is not None and cached.marker == marker:
            return cached
        with self._stats_lock:
            if self._stats is not None and self._stats.marker == marker:
                return self._stats
            self._stats = self._fit(marker, today)
            return self._stats

    def refresh_stats(self) -> RiskStats:
        """Refit now, whatever the cache holds (timing, tests)."""
        self._stats = None
        return self.market_stats()

    def _fit(self, marker: tuple[Any, ...], today: datetime) -> RiskStats:
        began = time.perf_counter()
        end = today - timedelta(seconds=1)
        series: dict[str, pd.Series] = {}
        vols: dict[str, VolEstimate] = {}
        for pair in self._settings.pairs:
            returns = self._market.returns(pair, "1d", end=end)
            series[pair] = returns
            vols[pair] = estimate_vol(pair, returns)
        usable = [p for p, r in series.items() if len(r) >= MIN_COV_RETURNS]
        frame = (
            pd.concat([series[p] for p in usable], axis=1, join="inner")
            if usable
            else pd.DataFrame()
        )
        pairs, cov, aligned = covariance(frame) if usable else ((), [], 0)
        stats = MarketStats(
            daily_vol={p: v.daily_vol for p, v in vols.items() if v.daily_vol is not None},
            pairs=tuple(pairs),
            covariance=tuple(tuple(float(x) for x in row) for row in cov),
            aligned_obs=int(aligned),
        )
        return RiskStats(vols, stats, marker, self._clock.now(), time.perf_counter() - began)

    def volatility(self, pair: str) -> VolEstimate:
        pair = self._market.check_pair(pair)
        return self.market_stats().vols[pair]

    # --- the checks ---------------------------------------------------------------------
    def gather(
        self, pair: Any, signal: Any, trade_params: Any, venue: VenueCash | None = None
    ) -> tuple[Inputs, TradeParams]:
        """Validate the request and read everything the checks need in one consistent read
        transaction: the limits, the portfolio, the prices, the halt flag and the history epoch
        that says whether the cached statistics are still current (refit after, if not)."""
        return self._with_venue(
            venue, lambda v: self._gather(pair, signal, trade_params, v), fresh=False
        )

    def _gather(
        self, pair: Any, signal: Any, trade_params: Any, venue: VenueCash | None
    ) -> tuple[Inputs, TradeParams]:
        with self._db.engine.connect() as conn, _snapshot(conn):
            return self._read_inputs(conn, pair, signal, trade_params, venue=venue)[:2]

    def _with_venue(
        self,
        venue: VenueCash | None,
        run: Callable[[VenueCash | None], T],
        *,
        fresh: bool = True,
    ) -> T:
        """``run`` with the venue's cash: in LIVE the reads ask for it (``_NeedVenue``) and
        ``run`` goes again with it, read from VALR outside any transaction (``fresh``: asked
        now; else a figure up to ``VENUE_CASH_TTL_SECONDS`` old will do). PAPER never asks."""
        try:
            return run(venue)
        except _NeedVenue as need:
            return run(self.venue_cash(need.pair, fresh=fresh))

    def venue_cash(self, pair: str, *, fresh: bool = True) -> VenueCash:
        """LIVE: VALR's available ZAR and its taker fee on ``pair`` (the buying power pre-check
        of an opening trade); a venue that cannot be asked gives ``available_zar`` None.
        ``fresh=False`` (previews, capacity, sizing: they open nothing) reuses a figure read in
        the last ``VENUE_CASH_TTL_SECONDS``, so a page that refreshes itself does not spend the
        API key's calls; a decision asks VALR each time."""
        if self._venue is None:
            return VenueCash(None, self._settings.paper_fee_pct, "no venue to ask")
        now = time.monotonic()
        with self._stats_lock:
            cached = self._venue_cache.get(pair)
        if not fresh and cached is not None and now - cached[0] < VENUE_CASH_TTL_SECONDS:
            return cached[1]
        found = self._venue(pair)
        if found.available_zar is not None:
            with self._stats_lock:
                self._venue_cache[pair] = (now, found)
        return found

    def _read_inputs(
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
        locked for the rest of it). In LIVE without ``venue`` it raises ``_NeedVenue`` (the
        caller asks VALR outside the transaction and reads again)."""
        pair = self._market.check_pair(pair)
        side = parse_side(signal)
        now = self._clock.now()
        today = floor_time(now, DAY)
        head = conn.execute(
            _CHECK_HEAD_LOCKED if lock else _CHECK_HEAD, {"pair": pair}
        ).one_or_none()
        if head is None:
            raise LedgerInvariantError(_NO_ACCOUNT)
        limits = _limits_or_fail(head)
        params = TradeParams.parse(trade_params, self._settings, limits.max_leverage, side)
        mode = head.trading_mode or TradingMode.PAPER.value
        if mode == TradingMode.LIVE.value and venue is None and self._venue is not None:
            raise _NeedVenue(pair)
        positions = conn.execute(_OPEN_POSITIONS).all()
        zone = self._settings.trading_day_timezone
        start_of_day, unknown = day_start(
            conn, head.trading_day, head.start_of_day_equity, now, zone
        )
        book = _portfolio(head, positions, self._settings, start_of_day, unknown)
        stored = EquityMarks(head.peak_equity, head.trading_day, head.start_of_day_equity)
        marks = updated_marks(
            stored, book.equity, book.fully_priced, trading_day(now, zone), start_of_day
        )
        book = replace(book, day_start=start_of_day, marks_due=marks != stored, read_at=now)
        stats = self._stats_for((today.isoformat(), head.history_epoch or "0"), today).stats
        trade = ProposedTrade(
            pair=pair,
            side=side,
            position_size_zar=params.position_size_zar,
            leverage=params.leverage,
            sector=self._settings.sector_of(pair),
            price=_f(head.price) if head.price is not None else None,
        )
        free, source, fee = self._free_cash(head.cash, book, mode, venue)
        observed = head.price_observed_at
        is_halted = head.halted == "true"
        reason = head.halt_reason
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

    def _portfolio_state(self, session: Session | Connection) -> PortfolioState:
        return _read_portfolio(session, self._settings, self._clock.now())

    def check_trade_risk(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        *,
        signal_id: int | None = None,
        venue: VenueCash | None = None,
    ) -> RiskResult:
        """The seed's call: run the 7 checks on an opening trade and store the decision.

        A halted system rejects before the checks. The pre-checks (buying power, price age:
        ``risk.prechecks``) are judged beside the 7. Returns ``RiskResult`` (``passed``,
        ``reason``, ``violated_limits``, ``checks``, ``pre_checks``) with the stored
        ``decision_id``.
        """
        return self._with_venue(
            venue, lambda v: self._check_trade_risk(pair, signal, trade_params, signal_id, v)
        )

    def _check_trade_risk(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        signal_id: int | None,
        venue: VenueCash | None,
    ) -> RiskResult:
        # one connection for the read and the write (each checkout from the pool costs a ping)
        with self._db.engine.connect() as conn:
            with _snapshot(conn):
                inputs, params, book = self._read_inputs(
                    conn, pair, signal, trade_params, venue=venue
                )
            result = _decide(inputs)
            row = self._decision_row(inputs, params, result, signal_id)
            if book.marks_due:  # a new peak or a day to roll: with the decision, under the lock
                decision_id = self._store_with_marks(conn, row, book)
            else:
                decision_id = _store_decision(conn, row)
        return replace(result, decision_id=decision_id)

    def _store_with_marks(self, conn: Connection, row: dict[str, Any], book: Book) -> int:
        """The decision and the account's marks (``ledger.maintain_marks``) in one write."""
        if conn.dialect.name == "sqlite":
            conn.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
        with conn.begin():
            self._maintain_marks(conn, book)
            return int(conn.execute(_INSERT_DECISION, row).inserted_primary_key[0])

    def _maintain_marks(self, conn: Connection, book: Book) -> None:
        with Session(bind=conn, expire_on_commit=False) as session:
            maintain_marks(
                session,
                book.equity,
                book.fully_priced,
                book.read_at or self._clock.now(),
                self._settings.trading_day_timezone,
                book.day_start,
            )

    def decide_and_reserve(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        reserve: Callable[[Session, RiskResult, TradeParams, Inputs], T],
        *,
        signal_id: int | None = None,
        sizing: Any = None,
        venue: VenueCash | None = None,
    ) -> tuple[RiskResult, T | None]:
        """Check an opening trade and, if it passes, ``reserve`` it (write the position and its
        order intent) in the same write transaction, with the account locked.

        Two processes opening at once are serialised, and a position being opened (OPENING)
        already counts in the exposure the next check sees (and its margin and fee in the cash
        the next buying power sees), so two trades can never both use the same room under a
        limit or the same cash. The decision is stored either way.
        """
        return self._with_venue(
            venue,
            lambda v: self._decide_and_reserve(
                pair, signal, trade_params, reserve, signal_id, sizing, v
            ),
        )

    def _decide_and_reserve(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        reserve: Callable[[Session, RiskResult, TradeParams, Inputs], T],
        signal_id: int | None,
        sizing: Any,
        venue: VenueCash | None,
    ) -> tuple[RiskResult, T | None]:
        with self._db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(**{WRITE_OPTION: True})  # BEGIN IMMEDIATE
            with conn.begin():
                inputs, params, book = self._read_inputs(
                    conn, pair, signal, trade_params, lock=True, venue=venue
                )
                if book.marks_due:  # a new peak or a day to roll (the account is locked)
                    self._maintain_marks(conn, book)
                result = _decide(inputs)
                row = self._decision_row(inputs, params, result, signal_id, sizing)
                decision_id = int(conn.execute(_INSERT_DECISION, row).inserted_primary_key[0])
                result = replace(result, decision_id=decision_id)
                reserved = None
                if result.passed:
                    with Session(bind=conn, expire_on_commit=False) as session:
                        reserved = reserve(session, result, params, inputs)
                        session.flush()
        return result, reserved

    def _decision_row(
        self,
        inputs: Inputs,
        params: TradeParams,
        result: RiskResult,
        signal_id: int | None,
        sizing: Any = None,
    ) -> dict[str, Any]:
        """The audit row. ``sizing``: how the size was chosen (``size_position``'s result or its
        dict: the method, Kelly, the vol scalar, the optimizer's cap), kept beside the inputs."""
        stored_inputs = inputs.to_dict()
        if sizing is not None:
            stored_inputs["sizing"] = sizing.to_dict() if hasattr(sizing, "to_dict") else sizing
        return {
            "ts": self._clock.now(),
            "pair": inputs.trade.pair,
            "side": inputs.trade.side,
            "trade_params": params.to_dict(),
            "inputs": stored_inputs,
            "checks": [c.to_dict() for c in result.checks],
            "pre_checks": [p.to_dict() for p in result.pre_checks],
            "passed": result.passed,
            "reason": result.reason,
            "violated_limits": list(result.violated_limits),
            "limits_version": inputs.limits.version,
            "signal_id": signal_id,
        }

    def check_close(self, position_id: int) -> RiskResult:
        """Closing reduces risk: never blocked, not even while halted."""
        return RiskResult(
            passed=True,
            reason=f"closing position {position_id}: always allowed",
            violated_limits=[],
            checks=[],
        )

    def preview(self, pair: Any, signal: Any, trade_params: Any) -> Preview:
        """``check_trade_risk`` without storing, plus the headroom on each limit."""
        inputs, params = self.gather(pair, signal, trade_params)
        result = _decide(inputs)
        notional = zar(Decimal(str(params.position_size_zar)) * Decimal(str(params.leverage)))
        reference = (
            to_price(Decimal(str(inputs.trade.price))) if inputs.trade.price is not None else None
        )
        stop, target = (
            entry_levels(inputs.trade.side, reference, params.stop_loss_pct, params.take_profit_pct)
            if reference is not None
            else (None, None)
        )
        levels = PreviewLevels(
            notional_zar=notional,
            zar_at_risk=zar(notional * Decimal(str(params.stop_loss_pct))),
            reference_price=reference,
            stop_loss_price=stop,
            take_profit_price=target,
        )
        return Preview(
            result,
            _headroom(inputs, result),
            self._capacity(inputs, self._market.latest_prices()),
            params,
            inputs.to_dict(),
            levels,
        )

    def replay(self, decision_id: int) -> RiskResult:
        """Re-run a stored decision's inputs through today's pure function."""
        with self._db.read() as session:
            decision = session.get(RiskDecision, decision_id)
            if decision is None:
                raise InvalidInput("decision_id", decision_id, "the id of a stored decision")
            inputs = Inputs.from_dict(decision.inputs)
        return _decide(inputs)

    def decisions(self, limit: int = 100, passed: bool | None = None) -> pd.DataFrame:
        query = select(RiskDecision).order_by(RiskDecision.id.desc()).limit(limit)
        if passed is not None:
            query = query.where(RiskDecision.passed.is_(passed))
        with self._db.read() as session:
            rows = list(session.scalars(query))
        return pd.DataFrame(
            [
                {
                    "id": r.id,
                    "ts": r.ts,
                    "pair": r.pair,
                    "side": r.side,
                    "passed": r.passed,
                    "reason": r.reason,
                    "violated_limits": ", ".join(r.violated_limits),
                    "position_size_zar": r.trade_params.get("position_size_zar"),
                    "leverage": r.trade_params.get("leverage"),
                    "limits_version": r.limits_version,
                }
                for r in rows
            ]
        )

    # --- sizing and capacity ------------------------------------------------------------
    def size_position(
        self,
        pair: Any,
        signal: Any,
        confidence: Any,
        stop_loss_pct: Any = None,
        take_profit_pct: Any = None,
        leverage: Any = 1.0,
        *,
        ml_predictions: Any = None,
        confidence_scores: Any = None,
        target_weights: Any = None,
    ) -> PositionSize:
        """Fractional Kelly x volatility scalar x equity of notional (margin = notional /
        leverage), capped by the single-position and the leverage limits.

        SIZING_METHOD=optimizer_capped also caps it by the optimizer's target weight for the
        pair x the sector's sleeve - what the pair holds (``helios.optimizer.target``): weights
        from ``target_weights`` if given, else from ``hx.optimizer`` run on ``ml_predictions``
        and ``confidence_scores`` (none: the market's weights). Under ``kelly_vol`` those three
        are not used. The result says which method sized it (``sizing_method``) and the cap.
        """
        pair = self._market.check_pair(pair)
        parse_side(signal)
        p = _probability(confidence)
        # the book as a decision would read it (a probe of R1 validates the rest), so the size
        # fits the cash that decision's buying power will see
        inputs, params = self.gather(
            pair,
            signal,
            {
                "position_size_zar": 1,
                "leverage": leverage,
                "stop_loss_pct": stop_loss_pct,
                "take_profit_pct": take_profit_pct,
            },
        )
        limits, state = inputs.limits, inputs.state
        existing = sum(
            x.notional for x in state.positions if x.pair == pair and math.isfinite(x.notional)
        )
        gross = sum(x.notional for x in state.positions if math.isfinite(x.notional))
        kelly_vol_size = size(
            equity=state.equity,
            win_probability=p,
            stop_loss_pct=params.stop_loss_pct,
            take_profit_pct=params.take_profit_pct,
            daily_vol=self.volatility(pair).daily_vol,
            kelly_fraction=self._settings.kelly_fraction,
            vol_target_annual=self._settings.vol_target_annual,
            periods_per_year=self._settings.periods_per_year,
            max_single_position_pct=limits.max_single_position_pct,
            leverage=params.leverage,
            existing_pair_notional=existing,
            max_leverage=limits.max_leverage,
            existing_gross_notional=gross,
            max_margin_zar=_affordable_margin(inputs, params.leverage),
        )
        if self._settings.sizing_method is not SizingMethod.OPTIMIZER_CAPPED:
            return kelly_vol(kelly_vol_size)
        if self._optimizer is None:
            self._optimizer = Optimizer(self._db, self._settings, self._clock, self._market)
        weight, source = target_weight(
            self._optimizer,
            self._settings,
            pair,
            ml_predictions=ml_predictions,
            confidence_scores=confidence_scores,
            target_weights=target_weights,
        )
        return capped_by_weight(
            kelly_vol_size,
            weight=weight,
            sector=self._settings.sector_of(pair),
            sector_limit_pct=limits.max_sector_exposure_pct,
            pair_notional=existing,
            source=source,
        )

    def capacity(self) -> dict[str, Any]:
        """Risk budget used and left, and how many minimum-size positions of each pair the
        whole rule set still accepts (``risk.capacity``: the 7 checks and the buying power,
        position after position), with what refuses the next one."""
        pair = self._settings.pairs[0]
        inputs, _params = self.gather(pair, "BUY", {"position_size_zar": 1})
        return self._capacity(inputs, self._market.latest_prices())

    def risk_budget(self) -> dict[str, Any]:
        """The risk budget (check 3's limit x equity), what the open book uses of it (sum of
        notional x daily volatility) and what is left; NaN used when a volatility is missing."""
        stats = self.market_stats().stats
        with self._db.read() as session:
            limits = _limits_in_force(session)
            state = self._portfolio_state(session)
        return _budget(state, limits, stats)

    def utilisation(self) -> list[dict[str, Any]]:
        """How much of each of the 7 limits the open book uses now (the Risk page's gauges):
        ``value`` and ``limit`` in the check's unit (fractions of equity, a correlation, a
        multiple), ``used`` = value / limit. The correlation check judges a new trade against
        the book, so the book alone has no value for it (None)."""
        stats = self.market_stats().stats
        with self._db.read() as session:
            limits = _limits_in_force(session)
            state = self._portfolio_state(session)
        equity = state.equity
        by_pair: dict[str, float] = {}
        by_sector: dict[str, float] = {}
        for p in state.positions:
            by_pair[p.pair] = by_pair.get(p.pair, 0.0) + abs(p.notional)
            sector = self._settings.sector_of(p.pair)
            by_sector[sector] = by_sector.get(sector, 0.0) + abs(p.notional)
        risk = _budget(state, limits, stats)

        def share(amount: float) -> float | None:
            return amount / equity if equity > 0 and math.isfinite(amount) else None

        peak, start = state.peak_equity, state.start_of_day_equity
        rows = [
            ("drawdown", "max_drawdown_pct", 1 - equity / peak if peak > 0 else 0.0),
            ("daily_loss", "daily_loss_limit_pct", max(0.0, 1 - equity / start) if start else 0.0),
            ("risk_capacity", "max_portfolio_risk_exposure_pct", share(risk["risk_used_zar"])),
            ("single_position", "max_single_position_pct", share(max(by_pair.values(), default=0))),
            (
                "sector_exposure",
                "max_sector_exposure_pct",
                share(max(by_sector.values(), default=0)),
            ),
            ("correlation", "max_correlation_threshold", None),
            ("leverage", "max_leverage", share(sum(by_pair.values()))),
        ]
        out = []
        for number, (name, limit_name, value) in enumerate(rows, 1):
            limit = float(getattr(limits, limit_name))
            out.append(
                {
                    "number": number,
                    "check": name,
                    "limit_name": limit_name,
                    "value": max(0.0, value) if value is not None else None,
                    "limit": limit,
                    "used": (max(0.0, value) / limit) if value is not None and limit > 0 else None,
                }
            )
        return out

    def trades_to_target(self, weights: dict[str, float]) -> list[dict[str, Any]]:
        """The trades that would move the open book to ``weights`` (the optimizer's), at the
        sector sleeve and single-position limits in force (``optimizer.target``)."""
        with self._db.read() as session:
            limits = _limits_in_force(session)
            state = self._portfolio_state(session)
        held: dict[str, float] = {}
        for p in state.positions:
            if math.isfinite(p.notional):
                held[p.pair] = held.get(p.pair, 0.0) + (
                    p.notional if p.side == "BUY" else -p.notional
                )
        return rebalance_trades(
            weights,
            equity=state.equity,
            sector_limit_pct=limits.max_sector_exposure_pct,
            single_limit_pct=limits.max_single_position_pct,
            held_notional=held,
        )

    def _capacity(self, inputs: Inputs, prices: dict[str, Decimal]) -> dict[str, Any]:
        state, limits, stats = inputs.state, inputs.limits, inputs.stats
        out = _budget(state, limits, stats)
        free = Decimal(inputs.free_cash) if inputs.free_cash is not None else None
        fits: dict[str, int | None] = {}
        binding: dict[str, str] = {}
        for pair in self._settings.pairs:
            mark = prices.get(pair)
            trade = minimum_trade(
                pair,
                self._settings.sector_of(pair),
                _f(mark) if mark is not None else None,
                state.equity,
                limits,
            )
            if trade is None:
                fits[pair], binding[pair] = None, "equity is not positive"
                continue
            found = fit(state, limits, stats, trade, free, Decimal(inputs.fee_pct))
            fits[pair], binding[pair] = found.count, found.binding
        return {**out, "min_positions_that_fit": fits, "next_refused_by": binding}


def _budget(state: PortfolioState, limits: RiskLimits, stats: MarketStats) -> dict[str, Any]:
    """Check 3's budget in ZAR, what the open book uses of it and what is left."""
    budget = limits.max_portfolio_risk_exposure_pct * state.equity
    used = sum(p.notional * stats.daily_vol.get(p.pair, float("nan")) for p in state.positions)
    left = budget - used if math.isfinite(used) else float("nan")
    return {
        "risk_budget_zar": budget,
        "risk_used_zar": used,
        "risk_left_zar": left,
        "risk_used_pct_of_budget": used / budget if budget > 0 else None,
        "min_position_notional_zar": limits.min_position_size_pct * state.equity,
    }


def _decide(inputs: Inputs) -> RiskResult:
    """The halt first (nothing else is judged), then the 7 checks with the pre-checks beside."""
    if inputs.halted:
        return halted_result(inputs.halt_reason or "no reason recorded")
    result = evaluate(inputs.state, inputs.limits, inputs.trade, inputs.stats)
    return with_pre_checks(result, inputs.pre_checks())


def _affordable_margin(inputs: Inputs, leverage: float) -> float | None:
    """The sizing cap of the buying power (``prechecks.affordable_margin``) on the free cash the
    decision read; None when it is unknown (the pre-check refuses then anyway)."""
    if inputs.free_cash is None:
        return None
    margin = affordable_margin(
        Decimal(inputs.free_cash), Decimal(repr(leverage)), Decimal(inputs.fee_pct)
    )
    return float(margin)


def _probability(confidence: Any) -> float:
    allowed = "a probability > 0 and < 1 (the ML confidence)"
    if isinstance(confidence, bool):
        raise InvalidInput("confidence", confidence, allowed)
    try:
        p = float(confidence)
    except (TypeError, ValueError):
        raise InvalidInput("confidence", confidence, allowed) from None
    if not math.isfinite(p) or not 0 < p < 1:
        raise InvalidInput("confidence", confidence, allowed)
    return p


def _headroom(inputs: Inputs, result: RiskResult) -> list[Headroom]:
    """How far each limit is from binding, and how much more notional of this trade fits."""
    state, trade, stats = inputs.state, inputs.trade, inputs.stats
    equity = state.equity
    rows = []
    for check in result.checks:
        room = None if check.value is None else check.limit - check.value
        extra: float | None = None
        if room is not None and equity > 0:
            if check.name in ("single_position", "sector_exposure", "leverage"):
                extra = max(0.0, room * equity)
            elif check.name == "risk_capacity" and stats.daily_vol.get(trade.pair):
                extra = max(0.0, room * equity / stats.daily_vol[trade.pair])
        rows.append(Headroom(check.name, check.limit_name, check.value, check.limit, room, extra))
    return rows


def _limits_row(
    limits: RiskLimits, version: int, by: str, now: datetime, note: str
) -> RiskLimitVersion:
    return RiskLimitVersion(
        version=version,
        changed_by=by,
        changed_at=now,
        note=note,
        **{name: Decimal(repr(getattr(limits, name))) for name in LIMIT_NAMES},
    )


def _limits_from_row(row: RiskLimitVersion) -> RiskLimits:
    return RiskLimits(
        **{name: float(getattr(row, name)) for name in LIMIT_NAMES},
        version=row.version,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


# The statements of a check, built once: executing the same statement object lets SQLAlchemy
# reuse its compiled form and result layout as is (a statement rebuilt on every call costs
# about as much again in Python as the query itself).
_LIMITS_IN_FORCE = (
    select(
        *(getattr(RiskLimitVersion, name) for name in LIMIT_NAMES),
        RiskLimitVersion.version,
        RiskLimitVersion.changed_by,
        RiskLimitVersion.changed_at,
    )
    .order_by(RiskLimitVersion.version.desc())
    .limit(1)
)
_NEWEST_LIMITS = _LIMITS_IN_FORCE.subquery("limits_in_force")


def _setting_value(key: str) -> Any:
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


# the account as the checks see it, and the trading mode (LIVE caps the equity, ``_portfolio``)
_ACCOUNT = select(
    Account.cash,
    Account.peak_equity,
    Account.start_of_day_equity,
    Account.trading_day,
    _setting_value(MODE_KEY).label("trading_mode"),
).where(Account.id == STATE_ID)


# One row: the account, the limits in force (NULLs when there is no version: the outer join
# keeps the account), the halt flag and its reason, and the latest price of the pair ``pair``.
_CHECK_HEAD = (
    select(
        Account.cash,
        Account.peak_equity,
        Account.start_of_day_equity,
        *_NEWEST_LIMITS.c,
        _setting_value(HALTED_KEY).label("halted"),
        _setting_value(HALT_REASON_KEY).label("halt_reason"),
        _setting_value(HISTORY_EPOCH_KEY).label("history_epoch"),
        _setting_value(MODE_KEY).label("trading_mode"),
        Account.trading_day,
        select(LatestPrice.price)
        .where(LatestPrice.pair == bindparam("pair"))
        .scalar_subquery()
        .label("price"),
        select(LatestPrice.ts)
        .where(LatestPrice.pair == bindparam("pair"))
        .scalar_subquery()
        .label("price_observed_at"),
    )
    .outerjoin(_NEWEST_LIMITS, true())
    .where(Account.id == STATE_ID)
)
# The exposed positions with the latest price of their pair (NULL when it has none).
_OPEN_POSITIONS = (
    select(
        Position.pair,
        Position.side,
        Position.quantity,
        Position.entry_price,
        Position.position_size_zar,
        Position.leverage,
        LatestPrice.price,
    )
    .outerjoin(LatestPrice, LatestPrice.pair == Position.pair)
    .where(Position.status.in_(EXPOSED_STATUSES))
    .order_by(Position.id)
)
_NO_ACCOUNT = "no account: the database was not initialised by connect()"  # as ledger.account_state
_INSERT_DECISION = insert(RiskDecision)
_HISTORY_EPOCH = select(Setting.value).where(Setting.key == HISTORY_EPOCH_KEY)
# The same row, locking the account (SELECT ... FOR UPDATE OF portfolio_state on PostgreSQL: the
# ledger's bookings take the same row lock); SQLite's BEGIN IMMEDIATE already holds the one
# write lock and ignores FOR UPDATE
_CHECK_HEAD_LOCKED = _CHECK_HEAD.with_for_update(of=Account)


@contextmanager
def _snapshot(conn: Connection) -> Iterator[None]:
    """A read transaction on ``conn`` whose statements all see one state of the database.

    SQLite's read transaction is a snapshot already. PostgreSQL's default, READ COMMITTED, gives
    every statement its own, so cash and the open positions could be read on either side of a
    booking; this transaction runs REPEATABLE READ instead (it only reads, so it never fails on
    a serialization conflict), and the connection is set back to the default after it (after
    an error too, when the pool takes the connection back).
    """
    if conn.dialect.name != "postgresql":
        with conn.begin():
            yield
        return
    conn.execution_options(isolation_level="REPEATABLE READ")
    with conn.begin():
        yield
    conn.execution_options(isolation_level=conn.default_isolation_level)


def _store_decision(conn: Connection, row: dict[str, Any]) -> int:
    """Store one decision: a single INSERT (the ORM's unit of work is not needed), atomic as
    one statement always is. On PostgreSQL it runs in autocommit: one round trip instead of
    BEGIN, INSERT, COMMIT. On SQLite, where those cost nothing, the transaction opens the way
    ``Database.write()`` opens it (BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        conn.execution_options(**{WRITE_OPTION: True})
    with conn.begin():
        return int(conn.execute(_INSERT_DECISION, row).inserted_primary_key[0])


def _limits_in_force(db: Session | Connection) -> RiskLimits:
    return _limits_or_fail(db.execute(_LIMITS_IN_FORCE).one_or_none())


def _limits_or_fail(row: Row[Any] | None) -> RiskLimits:
    if row is None or row.version is None:
        raise InvalidInput("risk_limits", None, "a stored version (connect() seeds version 1)")
    return _limits_from_row(row)  # type: ignore[arg-type]  # a Row has the same attributes


def _read_portfolio(db: Session | Connection, settings: Settings, now: datetime) -> PortfolioState:
    """The portfolio as the checks see it (the account, the exposed positions)."""
    account = db.execute(_ACCOUNT).one_or_none()
    if account is None:
        raise LedgerInvariantError(_NO_ACCOUNT)
    start_of_day, unknown = day_start(
        db, account.trading_day, account.start_of_day_equity, now, settings.trading_day_timezone
    )
    positions = db.execute(_OPEN_POSITIONS).all()
    return _portfolio(account, positions, settings, start_of_day, unknown).state


def _portfolio(
    account: Row[Any],
    positions: list[Row[Any]],
    settings: Settings,
    start_of_day: Decimal | None,
    start_unknown: str = "",
) -> Book:
    """``account`` (cash, peak equity, the trading mode) and the exposed ``positions`` (pair,
    side, quantity, entry price, margin, leverage, latest price or None) as the checks see them.

    Equity = cash + sum over open positions of (margin + unrealized P&L at the latest price),
    added up exactly in Decimal. A position being opened has no entry yet: it counts with its
    intended notional (margin x leverage) and adds nothing to equity (its margin is still cash).
    ``start_of_day``: the current trading day's start (None: not known, ``start_unknown`` says
    why, and checks 1 and 2 fail closed with it; see ``ledger.day_start``). Only the columns
    needed are read (full ``Position`` rows cost a Decimal conversion for each of their ~17
    exact columns).

    LIVE: the capital cap (LIVE_CAPITAL_CAP_ZAR), the one place it is applied. Every check,
    the sizing, the capacity and the utilisation read their equity here, so all of them see
    min(ledger equity, cap). Peak and start-of-day equity are scaled by the same factor, so
    drawdown and daily loss (ratios) stay the ledger's own while the exposure limits measure
    against the capped figure. Returns the ``Book``: the state, the cap in force (None in
    PAPER), the ledger's equity and the reserved positions.
    """
    exposures = []
    reserved: list[tuple[Decimal, Decimal]] = []
    for pair, side, quantity, entry, margin, leverage, mark in positions:
        if quantity is None or entry is None:  # OPENING: reserved, not filled
            notional = _f(margin * leverage)
            reserved.append((margin, leverage))
        else:
            notional = _f(quantity * mark) if mark is not None else float("nan")
        exposures.append(OpenExposure(pair, side, notional, settings.sector_of(pair)))
    # the ledger's rule (an OPENING position's margin is still in cash: not held yet)
    equity, unpriced = held_equity(
        account.cash,
        (
            (pair, side, margin, quantity, entry, mark)
            for pair, side, quantity, entry, margin, _leverage, mark in positions
            if quantity is not None and entry is not None
        ),
    )
    fully_priced = not unpriced
    state = PortfolioState(
        equity=_f(equity),
        peak_equity=_f(account.peak_equity),
        # unknown: the equity stands in (JSON has no NaN) and the reason makes 1-2 fail closed
        start_of_day_equity=_f(start_of_day if start_of_day is not None else equity),
        positions=tuple(exposures),
        marks_unknown=start_unknown if start_of_day is None else "",
    )
    if account.trading_mode != TradingMode.LIVE.value:
        return Book(state, None, equity, fully_priced, reserved)
    cap = _f(settings.live_capital_cap_zar)
    scale = cap / state.equity if state.equity > cap else 1.0
    capped = replace(
        state,
        equity=min(state.equity, cap),
        peak_equity=state.peak_equity * scale,
        start_of_day_equity=state.start_of_day_equity * scale,
    )
    limit = CapitalCap(cap_zar=cap, ledger_equity=state.equity, scale=scale)
    return Book(capped, limit, equity, fully_priced, reserved)


def seed_limits(session: Session, settings: Settings, now: datetime) -> bool:
    """First start: version 1 from configuration. True if seeded."""
    if session.scalar(select(func.count()).select_from(RiskLimitVersion)):
        return False
    limits = RiskLimits.from_values({name: getattr(settings, name) for name in LIMIT_NAMES})
    session.add(_limits_row(limits, 1, "configuration", now, "first start"))
    session.flush()
    return True


def _history_marker(db: Session | Connection, today: datetime) -> tuple[Any, ...]:
    """The date and the market's history epoch: together they change exactly when the
    statistics (fitted on completed days) may change. One primary-key read."""
    epoch = db.execute(_HISTORY_EPOCH).scalar_one_or_none()
    return (today.isoformat(), epoch or "0")
