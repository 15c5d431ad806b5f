"""``hx.signals``: the composite of the intake (``SignalIntake``), the reads (``SignalReads``)
and the trading loop (``TradingLoop``); its methods delegate, so the public surface of
``hx.signals`` is one object. The rules live in ``validation`` (what a signal may hold),
``intake`` (what is stored and refused on arrival) and ``trading_loop`` (what a pending signal
becomes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helios.clock import Clock
from helios.config import Settings
from helios.db.engine import Database
from helios.market.store import MarketData
from helios.positions.manager import PositionManager
from helios.risk.service import RiskManager
from helios.signals.intake import SignalIntake
from helios.signals.records import SignalReads
from helios.signals.rows import SignalOutcome
from helios.signals.trading_loop import TradingControls, TradingLoop


class Signals:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        market: MarketData,
        risk: RiskManager,
        positions: PositionManager,
        controls: TradingControls,
    ) -> None:
        self._intake = SignalIntake(db, settings, clock, market, self._max_leverage)
        self._reads = SignalReads(db)
        self._loop = TradingLoop(db, settings, clock, risk, positions, controls)
        self._risk = risk

    # --- intake -------------------------------------------------------------------------
    def submit(
        self,
        pair: Any,
        side: Any,
        confidence: Any,
        llm_approved: Any,
        *,
        llm_reasoning: Any = "",
        predicted_return: Any = None,
        trade_params: Any = None,
        created_at: Any = None,
        expires_at: Any = None,
        source: Any = "python",
        dedup_key: Any = None,
    ) -> dict[str, Any]:
        """Store one signal for the trading loop. Returns a receipt: ``accepted``,
        ``signal_id``, ``status`` (PENDING or REJECTED) and ``reason``. Malformed input raises
        ``SignalRejected`` naming the field (the refusal is stored too)."""
        return self.submit_raw(
            {
                "pair": pair,
                "side": side,
                "confidence": confidence,
                "llm_approved": llm_approved,
                "llm_reasoning": llm_reasoning,
                "predicted_return": predicted_return,
                "trade_params": trade_params,
                "created_at": created_at,
                "expires_at": expires_at,
                "source": source,
                "dedup_key": dedup_key,
            }
        )

    def submit_raw(self, raw: Any) -> dict[str, Any]:
        """``submit`` for a mapping (the REST API's body, a CLI's arguments)."""
        return self._intake.submit_raw(raw)

    def _max_leverage(self) -> float:
        return float(self._risk.get_limits().max_leverage)

    # --- queries ------------------------------------------------------------------------
    def get(self, signal_id: int) -> dict[str, Any]:
        return self._reads.get(signal_id)

    def recent(self, limit: int = 100, status: str | None = None) -> list[dict[str, Any]]:
        return self._reads.recent(limit, status)

    def counts(self) -> dict[str, int]:
        return self._reads.counts()

    # --- the trading loop ---------------------------------------------------------------
    def process_pending(
        self,
        limit: int | None = None,
        keep_going: Callable[[], bool] | None = None,
    ) -> list[SignalOutcome]:
        """One pass of the trading loop over pending signals, oldest first (``TradingLoop``).

        Expired signals become EXPIRED; under a halt every pending signal is REJECTED with the
        halt's reason (closing stays allowed, opening does not); each other signal is sized,
        risk-checked and opened, and ends EXECUTED or REJECTED with the reason. A database
        error leaves the signal PENDING for the next pass; any other failure of one signal
        rejects that signal with the error and the pass goes on. ``keep_going`` (the
        scheduler's leadership check) is asked every ``CHECK_EVERY`` signals; False ends the
        pass, leaving the rest PENDING.
        """
        return self._loop.process_pending(limit, keep_going)
