"""``hx.risk``: the guardian wired to the database, a composite of the risk services.

``check_trade_risk`` builds the portfolio state, the limits in force and the market statistics
from the database, calls the pure ``checks.evaluate`` and stores the decision (inputs and all 7
results) in ``risk_decisions``, passed or not, so it can be replayed and explained later.
``preview`` does the same without storing and adds the headroom on each limit.

``RiskManager`` keeps the public methods and delegates each to the service that owns its rule:

- ``limit_store`` (``LimitStore``): the stored limit versions (``get_limits``, ``update_limits``,
  ``limit_history``); services that need only the limits in force are given it, not ``hx.risk``;
- ``stats_cache`` (``StatsCache``): the market statistics, refitted only when a new completed
  daily candle arrives (``volatility`` uses completed UTC days);
- ``InputReader`` (``input_reader``, with the statements built once in ``statements``): one
  consistent read of a decision's inputs (``Inputs``, the replayable record in ``inputs``); the
  account as the checks see it and the LIVE capital cap in ``book`` (the one place it applies);
- ``Decisions`` (``decisions``): check, decide and reserve, replay, the stored decisions;
- ``preview``: the headroom and the levels; ``PositionSizer`` (``sizing_service``): the size;
  ``CapacityService`` (``capacity_service``, rules in ``utilisation``): capacity, risk budget,
  the gauges, the trades to a target; ``VenueCashSource`` (``venue``): LIVE's venue cash.

Speed (issue 3: a check under 2 ms with 20 open positions; ``bench/bench_risk.py``): see
``statements``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.market.store import MarketData
from helios.optimizer.service import Optimizer
from helios.optimizer.target import PositionSize
from helios.risk.book import Book, CapitalCap
from helios.risk.capacity_service import CapacityService
from helios.risk.checks import RiskResult
from helios.risk.decision_inputs import DecisionReads
from helios.risk.decisions import Decisions
from helios.risk.explanation import DecisionStory
from helios.risk.input_reader import InputReader
from helios.risk.inputs import Inputs, decide
from helios.risk.limit_store import LimitStore, seed_limits
from helios.risk.limits import RiskLimits
from helios.risk.preview import Headroom, Preview, PreviewLevels, build_preview
from helios.risk.sizing_service import PositionSizer
from helios.risk.statements import EXPOSED_STATUSES
from helios.risk.stats_cache import MIN_COV_RETURNS, RiskStats, StatsCache
from helios.risk.venue import VENUE_CASH_TTL_SECONDS, VenueCash, VenueCashSource
from helios.risk.volatility import VolEstimate
from helios.trade import TradeParams

# Names importers use from here. ``VenueCash``, ``seed_limits`` and ``RiskManager`` stay here.
# Deprecated (one release): ``Inputs`` moved to helios.risk.inputs; ``RiskStats`` and
# ``MIN_COV_RETURNS`` to helios.risk.stats_cache; ``CapitalCap`` and ``Book`` to
# helios.risk.book; ``Headroom``, ``PreviewLevels`` and ``Preview`` to helios.risk.preview;
# ``EXPOSED_STATUSES`` to helios.risk.statements; ``VENUE_CASH_TTL_SECONDS`` to helios.risk.venue.
__all__ = [
    "EXPOSED_STATUSES",
    "MIN_COV_RETURNS",
    "VENUE_CASH_TTL_SECONDS",
    "Book",
    "CapitalCap",
    "Headroom",
    "Inputs",
    "Preview",
    "PreviewLevels",
    "RiskManager",
    "RiskStats",
    "VenueCash",
    "seed_limits",
]

T = TypeVar("T")


class RiskManager:
    """``hx.risk``: the public methods of the guardian, each delegated to its service."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        optimizer: Optimizer | None = None,
        venue: Callable[[str], VenueCash] | None = None,
    ) -> None:
        self._settings = settings
        self.limit_store = LimitStore(db, clock)
        self.stats_cache = StatsCache(db, settings, clock, market)
        # LIVE: VALR's available ZAR and taker fee for a pair (the buying power pre-check)
        self._venue = VenueCashSource(settings, venue)
        self._reader = InputReader(db, settings, clock, market, self.stats_cache, self._venue)
        self._decisions = Decisions(db, settings, clock, self._reader, self._venue)
        # hx.optimizer, for SIZING_METHOD=optimizer_capped
        self._sizer = PositionSizer(
            db, settings, clock, market, self._reader, self.stats_cache, optimizer
        )
        self._capacity = CapacityService(settings, market, self._reader, self.stats_cache)

    # --- limits (``limit_store``) -----------------------------------------------------------
    def get_limits(self) -> RiskLimits:
        """The limits in force (the newest version)."""
        return self.limit_store.get_limits()

    def limit_history(self) -> list[RiskLimits]:
        """Every version, newest first."""
        return self.limit_store.limit_history()

    def update_limits(self, changes: dict[str, Any], changed_by: str, note: str = "") -> RiskLimits:
        """Store a new version with ``changes`` applied (validated), who and when.

        Loosening a limit while positions are open is allowed and recorded as an event.
        """
        return self.limit_store.update_limits(changes, changed_by, note)

    # --- market statistics (``stats_cache``) -----------------------------------------------
    def market_stats(self) -> RiskStats:
        """Volatility and covariance, refitted only when a new completed day arrives."""
        return self.stats_cache.market_stats()

    def refresh_stats(self) -> RiskStats:
        """Refit now, whatever the cache holds (timing, tests)."""
        return self.stats_cache.refresh_stats()

    def volatility(self, pair: str) -> VolEstimate:
        return self.stats_cache.volatility(pair)

    # --- the checks (``input_reader``, ``decisions``, ``preview``) --------------------------
    def gather(
        self, pair: Any, signal: Any, trade_params: Any, venue: VenueCash | None = None
    ) -> tuple[Inputs, TradeParams]:
        """Validate the request and read everything the checks need in one consistent read
        transaction: the limits, the portfolio, the prices, the halt flag and the history epoch
        that says whether the cached statistics are still current (refit after, if not)."""
        return self._reader.gather(pair, signal, trade_params, venue)

    def inputs_from(
        self,
        reads: DecisionReads,
        pair: str,
        side: str,
        params: TradeParams,
        limits: RiskLimits,
        now: datetime,
    ) -> tuple[Inputs, Book]:
        """A decision's ``Inputs`` (and the book it valued) from ``reads`` taken elsewhere (a
        replay's book held in memory), exactly as from the database's reads."""
        return self._reader.inputs_from(reads, pair, side, params, limits, now)

    def venue_cash(self, pair: str, *, fresh: bool = True) -> VenueCash:
        """LIVE: VALR's available ZAR and its taker fee on ``pair`` (the buying power pre-check
        of an opening trade); a venue that cannot be asked gives ``available_zar`` None.
        ``fresh=False`` (previews, capacity, sizing: they open nothing) reuses a figure read in
        the last ``VENUE_CASH_TTL_SECONDS``, so a page that refreshes itself does not spend the
        API key's calls; a decision asks VALR each time."""
        return self._venue.venue_cash(pair, fresh=fresh)

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
        return self._decisions.check_trade_risk(
            pair, signal, trade_params, signal_id=signal_id, venue=venue
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
        refused: Callable[[Session, RiskResult], None] | None = None,
    ) -> tuple[RiskResult, T | None]:
        """Check an opening trade and, if it passes, ``reserve`` it (write the position and its
        order intent) in the same write transaction, with the account locked; if it does not,
        ``refused`` (what the refusal settles) in that transaction.

        Two processes opening at once are serialised, and a position being opened (OPENING)
        already counts in the exposure the next check sees (and its margin and fee in the cash
        the next buying power sees), so two trades can never both use the same room under a
        limit or the same cash. The decision is stored either way.
        """
        return self._decisions.decide_and_reserve(
            pair,
            signal,
            trade_params,
            reserve,
            signal_id=signal_id,
            sizing=sizing,
            venue=venue,
            refused=refused,
        )

    def check_close(self, position_id: int) -> RiskResult:
        """Closing reduces risk: never blocked, not even while halted."""
        return self._decisions.check_close(position_id)

    def preview(self, pair: Any, signal: Any, trade_params: Any) -> Preview:
        """``check_trade_risk`` without storing, plus the headroom on each limit."""
        inputs, params = self.gather(pair, signal, trade_params)
        result = decide(inputs)
        return build_preview(
            inputs, params, result, self._capacity.capacity_of(inputs), self._settings.price_tick
        )

    def replay(self, decision_id: int) -> RiskResult:
        """Re-run a stored decision's inputs through today's pure function."""
        return self._decisions.replay(decision_id)

    def decisions(self, limit: int = 100, passed: bool | None = None) -> pd.DataFrame:
        return self._decisions.decisions(limit, passed)

    def explain(
        self,
        decision_id: int | None = None,
        *,
        signal_id: int | None = None,
        position_id: int | None = None,
    ) -> DecisionStory | None:
        """Why a trade was refused or sized so: one stored decision (by its id, its signal or
        the position it opened) with its 7 checks, pre-checks and sizing steps, as recorded."""
        return self._decisions.explain(decision_id, signal_id=signal_id, position_id=position_id)

    # --- sizing and capacity (``sizing_service``, ``capacity_service``) ---------------------
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
        return self._sizer.size_position(
            pair,
            signal,
            confidence,
            stop_loss_pct,
            take_profit_pct,
            leverage,
            ml_predictions=ml_predictions,
            confidence_scores=confidence_scores,
            target_weights=target_weights,
        )

    def capacity(self) -> dict[str, Any]:
        """Risk budget used and left, and how many minimum-size positions of each pair the
        whole rule set still accepts (``risk.capacity``: the 7 checks and the buying power,
        position after position), with what refuses the next one."""
        return self._capacity.capacity()

    def risk_budget(self) -> dict[str, Any]:
        """The risk budget (check 3's limit x equity), what the open book uses of it (sum of
        notional x daily volatility) and what is left; NaN used when a volatility is missing."""
        return self._capacity.risk_budget()

    def utilisation(self) -> list[dict[str, Any]]:
        """How much of each of the 7 limits the open book uses now (the Risk page's gauges):
        ``value`` and ``limit`` in the check's unit (fractions of equity, a correlation, a
        multiple), ``used`` = value / limit. The correlation check judges a new trade against
        the book, so the book alone has no value for it (None)."""
        return self._capacity.utilisation()

    def trades_to_target(self, weights: dict[str, float]) -> list[dict[str, Any]]:
        """The trades that would move the open book to ``weights`` (the optimizer's), at the
        sector sleeve and single-position limits in force (``optimizer.target``)."""
        return self._capacity.trades_to_target(weights)
