"""DEMO ONLY: a momentum rule that sends signals on the simulated market.

It exists so a new install shows the whole loop (signals -> sizing -> the 7 checks -> positions
-> stops, targets, timeouts -> snapshots) within minutes without an upstream ML tier. It is not a
strategy and predicts nothing: it signals BUY after the price rose over the last
``LOOKBACK`` and SELL after it fell, with tight demo stops and targets (0.15% / 0.3%, a
three-minute timeout) so positions open and close while you watch (the simulated market moves
in real time: BTC about 0.08% a minute), and marks every signal
``source="demo-momentum"`` with reasoning that says so.

It runs only in PAPER: on by default with the ``sim`` feed (``DEMO_SIGNALS=auto``), never in
LIVE (``Settings.demo_signals_wanted``; it also re-reads the mode before every signal).
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Protocol

from helios.clock import Clock
from helios.config import TradingMode
from helios.errors import HeliosError
from helios.market.store import MarketData
from helios.trading_state import TradingState

log = logging.getLogger("helios.demo")
SOURCE = "demo-momentum"
LOOKBACK = timedelta(seconds=30)
THRESHOLD = 0.0003  # a 0.03% move over the lookback is "momentum" on the demo market
DEMO_TRADE_PARAMS: dict[str, Any] = {
    "stop_loss_pct": 0.0015,
    "take_profit_pct": 0.003,
    "max_holding_hours": 0.05,
}
REASONING = "DEMO: simulated momentum rule on the simulated market, not a real model or LLM"


class DemoRefused(HeliosError):
    """The demo generator may not run here (LIVE mode)."""


class SignalSink(Protocol):
    """Where the demo sends its signals (``hx.signals``)."""

    def submit(
        self, pair: Any, side: Any, confidence: Any, llm_approved: Any, **details: Any
    ) -> dict[str, Any]: ...


class DemoServices(Protocol):
    """The collaborators the demo needs, by name (``helios.connect()``'s object has each): the
    trading state (it re-reads the mode before every pass), the clock, the latest prices and
    the signals service."""

    trading_state: TradingState
    clock: Clock
    market: MarketData
    signals: SignalSink


class MomentumDemo:
    def __init__(self, services: DemoServices) -> None:
        self.services = services
        self.seen: dict[str, deque[tuple[datetime, float]]] = {}

    def run(self) -> list[dict[str, Any]]:
        """Look at the latest prices; send a signal for each pair that moved enough."""
        mode = self.services.trading_state.trading_mode()
        if mode is TradingMode.LIVE:
            raise DemoRefused("the demo signal generator never runs in LIVE mode")
        now = self.services.clock.now()
        receipts = []
        for pair, value in self.services.market.latest_prices().items():
            history = self.seen.setdefault(pair, deque(maxlen=512))
            history.append((now, float(value)))
            while len(history) > 2 and now - history[1][0] >= LOOKBACK:
                history.popleft()
            then, old = history[0]
            if now - then < LOOKBACK or old <= 0:
                continue
            move = float(value) / old - 1.0
            if abs(move) < THRESHOLD:
                continue
            side = "BUY" if move > 0 else "SELL"
            confidence = round(min(0.9, 0.55 + abs(move) * 100), 3)
            receipts.append(
                self.services.signals.submit(
                    pair,
                    side,
                    confidence,
                    True,
                    llm_reasoning=REASONING,
                    predicted_return=round(move, 6),
                    trade_params=DEMO_TRADE_PARAMS,
                    source=SOURCE,
                    expires_at=now + timedelta(minutes=2),
                )
            )
            history.clear()
            history.append((now, float(value)))
        return receipts
