"""``hx.positions``: open, monitor, close and reconcile positions, exactly once, crash-safe.

Every order is first written as an intent with a deterministic client order id (position id +
action), then sent, then its fill is recorded; each step is its own transaction and every status
change is a conditional update, so:

- two callers closing one position (the stop monitor and a person on the dashboard): one wins the
  OPEN -> CLOSING update and sends the order; the other gets ``success: False`` ("already
  closing/closed") and sends nothing;
- a process killed between two steps leaves the position OPENING or CLOSING with its intent;
  ``reconcile`` (run by every process at start) asks the exchange about that client order id and
  records what happened, sending the order only if the exchange never saw it.

``PositionManager`` is the composite ``helios.connect`` builds: it keeps the public methods and
delegates each to the part that owns its rule -- ``opening``, ``closing``, ``monitoring``,
``recovery``, ``queries`` -- built here over the shared ``venues`` (exchange per mode, sending),
``margin`` (the LIVE margin refusal), ``installation`` (the client order id prefix) and
``watchers`` (who is told of each fill).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.config import Settings, TradingMode
from helios.db.engine import Database
from helios.errors import InvalidInput
from helios.exchange.base import Exchange, OrderResult
from helios.market.store import MarketData
from helios.positions.closing import Closing, begin_close
from helios.positions.in_range import trades_in_range
from helios.positions.installation import INSTALLATION_KEY, Installation, seed_installation_id
from helios.positions.lifecycle import TRANSITIONAL, BookEntry
from helios.positions.margin import MarginGate, needs_margin
from helios.positions.monitoring import Monitoring, MonitorResult
from helios.positions.opening import Opening
from helios.positions.queries import Queries
from helios.positions.records import MAX_POSITION_ID, check_position_id
from helios.positions.recovery import RECONCILE_GRACE, Recovery
from helios.positions.trade_figures import TradeFilter, TradePage
from helios.positions.trade_marks import TradeMark
from helios.positions.trades import TradeReads
from helios.positions.venues import Venues
from helios.positions.watchers import BookWatchers
from helios.risk.checks import RiskResult
from helios.risk.service import RiskManager

# Deprecated (one release): these names moved out of this module -- seed_installation_id and
# INSTALLATION_KEY to helios.positions.installation, needs_margin to helios.positions.margin,
# MAX_POSITION_ID and check_position_id to helios.positions.records, MonitorResult to
# helios.positions.monitoring, RECONCILE_GRACE to helios.positions.recovery, and _begin_close to
# helios.positions.closing (as begin_close). Import them from there.
_begin_close = begin_close

__all__ = [
    "INSTALLATION_KEY",
    "MAX_POSITION_ID",
    "RECONCILE_GRACE",
    "MonitorResult",
    "PositionManager",
    "check_position_id",
    "needs_margin",
    "seed_installation_id",
]


class PositionManager:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        risk: RiskManager,
        exchanges: dict[TradingMode, Exchange],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._market = market
        self._risk = risk
        self._exchanges = exchanges  # shared with the venues: a venue swapped in here is used
        self._installation = Installation(db, clock)
        self._watchers = BookWatchers()
        venues = Venues(db, clock, exchanges)
        margin = MarginGate(db, venues)
        self._opening = Opening(
            db, settings, clock, market, risk, venues, margin, self._installation, self._watchers
        )
        self._closing = Closing(db, settings, clock, venues, self._installation, self._watchers)
        self._monitoring = Monitoring(db, settings, clock, self._closing.close_position)
        self._recovery = Recovery(db, clock, venues, margin, self._opening, self._closing)
        self._queries = Queries(db, clock, market)
        self._trades = TradeReads(db, market, settings.price_tick)

    def installation_id(self) -> str:
        """This database's installation id (the prefix of every client order id)."""
        return self._installation.id()

    # --- open ---------------------------------------------------------------------------
    def open_position(
        self,
        pair: Any,
        signal: Any,
        trade_params: Any,
        strategic_reasoning: Any = "",
        *,
        signal_id: int | None = None,
        sizing: Any = None,
        on_refusal: Callable[[Session, RiskResult], None] | None = None,
    ) -> dict[str, Any]:
        """Risk-check, then open at market (``Opening.open_position``). The seed's dict:
        ``success``, ``position_id``, ``entry_price``; on refusal ``success: False`` with
        ``reason`` (and ``error``); ``on_refusal``: written in the refusing decision's
        transaction."""
        return self._opening.open_position(
            pair,
            signal,
            trade_params,
            strategic_reasoning,
            signal_id=signal_id,
            sizing=sizing,
            on_refusal=on_refusal,
        )

    def watch_book(
        self, opened: Callable[[BookEntry], None], closed: Callable[[int], None]
    ) -> None:
        """Be told of each opening fill and each final close as soon as the database holds it
        (the scheduler's remembered book for a close-out without the database: a position
        opened a moment before the database went away must be in it)."""
        self._watchers.add(opened, closed)

    # --- close --------------------------------------------------------------------------
    def close_position(
        self,
        position_id: Any,
        reason: Any = "CLOSED",
        *,
        actor: str = "system",
        stop_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Close at market with ``reason`` as the final status (CLOSED is a manual close).
        Exactly one caller wins; a loser gets ``success: False`` and nothing is sent
        (``Closing.close_position``)."""
        return self._closing.close_position(
            position_id,
            reason,
            actor=actor,
            stop_price=stop_price,
            trigger_price=trigger_price,
            at=at,
        )

    def record_offline_close(
        self,
        position_id: int,
        client_order_id: str,
        result: OrderResult | None,
        *,
        reason: str = "EMERGENCY_CLOSE",
        note: str = "",
    ) -> dict[str, Any]:
        """Record a close made while the database was unreachable (``helios.closeout``'s
        journal), exactly as ``close_position`` would have; idempotent per client order id."""
        return self._closing.record_offline_close(
            position_id, client_order_id, result, reason=reason, note=note
        )

    def close_all(self, reason: Any = "CLOSED", *, actor: str = "system") -> list[dict[str, Any]]:
        """Close every open position with ``reason``; returns each close's dict."""
        return self._closing.close_all(reason, actor=actor)

    # --- monitor ------------------------------------------------------------------------
    def monitor_positions(self, now: datetime | None = None) -> list[MonitorResult]:
        """One pass over open positions: P&L, stop, target, trailing stop, timeout. Hits close
        the position with STOPPED_OUT, TAKE_PROFIT or TIMEOUT (``Monitoring``)."""
        return self._monitoring.monitor_positions(now)

    # --- recovery -----------------------------------------------------------------------
    def reconcile(
        self,
        grace: timedelta = RECONCILE_GRACE,
        statuses: tuple[str, ...] = TRANSITIONAL,
        *,
        send_opens: bool | None = None,
        settle_now_from: str | None = None,
    ) -> list[dict[str, Any]]:
        """Settle positions stuck OPENING or CLOSING (``statuses``) for longer than ``grace``
        from the exchange's record of their client order id; send only orders the exchange
        never saw (``Recovery.reconcile``)."""
        return self._recovery.reconcile(
            grace, statuses, send_opens=send_opens, settle_now_from=settle_now_from
        )

    # --- queries ------------------------------------------------------------------------
    def get_open_positions(self) -> list[dict[str, Any]]:
        """Open positions (and those OPENING or CLOSING) with live P&L, signed distances to
        stop and target, and time left (``Queries.get_open_positions``)."""
        return self._queries.get_open_positions()

    def closed_positions(
        self,
        status: str | None = None,
        pair: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Closed (and failed) positions, newest first, filtered by status, pair, close date."""
        return self._queries.closed_positions(status, pair, start, end, limit, offset)

    def closed_trades(self, wanted: TradeFilter) -> TradePage:
        """The closed trades list, one page, filtered in SQL, with per-trade duration, net P&L %
        of the margin, exit reason and slippage to the trigger level (``TradeReads``)."""
        return self._trades.closed_trades(wanted)

    def closed_trades_csv(self, wanted: TradeFilter) -> str:
        """Every closed trade matching ``wanted`` as CSV with exact decimal strings."""
        return self._trades.closed_trades_csv(wanted)

    def position_history(self, position_id: Any) -> dict[str, Any]:
        """One position's full story: the position, its risk decision, orders, fills, events."""
        return self._queries.position_history(position_id)

    def trades_in_range(self, pair: Any, start: datetime, end: datetime) -> list[TradeMark]:
        """The positions of ``pair`` whose life overlaps [``start``, ``end``) as a price chart
        marks them: entry, exit and its reason, stop and target while open, P&L
        (``helios.positions.in_range``)."""
        pair = self._market.check_pair(pair)
        for field, value in (("start", start), ("end", end)):
            if not isinstance(value, datetime):
                raise InvalidInput(field, value, "a datetime (naive means UTC)")
        if ensure_utc(start) >= ensure_utc(end):
            raise InvalidInput("start", start.isoformat(), f"before the end {end.isoformat()}")
        with self._db.read() as session:
            return trades_in_range(session, pair, start, end, self._settings.price_tick)
