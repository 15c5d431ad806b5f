"""DEMO ONLY: a momentum rule that sends signals on the simulated market.

It exists so a new install shows the whole loop (signals -> sizing -> the 7 checks -> positions
-> stops, targets, timeouts -> snapshots) within minutes without an upstream ML tier. It is not a
strategy and predicts nothing: it signals BUY after the price rose over the last
``LOOKBACK`` and SELL after it fell. Its stop, target and holding time come from
``helios.demo_levels.demo_levels`` (the target at least 3x the round-trip fees and 2x the pair's
recent hourly volatility, the stop at half of it), so a reached target is a net win and a newcomer
sees the guardian at work rather than fees eating every trade. Every signal is marked
``source="demo-momentum"`` with reasoning that starts with "DEMO:" (the console's DEMO tag).

It runs only in PAPER: on by default with the ``sim`` feed (``DEMO_SIGNALS=auto``), never in
LIVE (``Settings.demo_signals_wanted``; it also re-reads the mode before every signal).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Protocol

from helios.clock import Clock
from helios.config import Settings, TradingMode
from helios.demo_levels import REASONING, SOURCE, DemoLevels, DemoMarket, demo_levels
from helios.errors import HeliosError
from helios.market.store import MarketData
from helios.trading_state import TradingState

log = logging.getLogger("helios.demo")
LOOKBACK = timedelta(seconds=30)
THRESHOLD = 0.0003  # a 0.03% move over the lookback is "momentum" on the demo market
VOL_MINUTES = 60  # the recent volatility: the last hour of 1-minute returns
VOL_MIN_RETURNS = 10  # fewer: the daily returns of the last month instead
VOL_DAYS = 30
__all__ = ["LOOKBACK", "REASONING", "SOURCE", "DemoRefused", "MomentumDemo", "hourly_volatility"]


class DemoRefused(HeliosError):
    """The demo generator may not run here (LIVE mode)."""


class SignalSink(Protocol):
    """Where the demo sends its signals (``hx.signals``)."""

    def submit(
        self, pair: Any, side: Any, confidence: Any, llm_approved: Any, **details: Any
    ) -> dict[str, Any]: ...


class DemoServices(Protocol):
    """The collaborators the demo needs, by name (``helios.connect()``'s object has each): the
    settings (fees), the trading state (it re-reads the mode before every pass), the clock, the
    latest prices and the signals service."""

    settings: Settings
    trading_state: TradingState
    clock: Clock
    market: MarketData
    signals: SignalSink


def hourly_volatility(market: MarketData, pair: str) -> float | None:
    """The pair's recent volatility over one hour (a fraction): the standard deviation of the
    last hour's 1-minute log returns x sqrt(60), or, with too few of them, of the last month's
    daily returns / sqrt(24); None when neither is known."""
    minutes = market.returns(pair, "1m", lookback=VOL_MINUTES)
    if len(minutes.dropna()) >= VOL_MIN_RETURNS:
        return float(minutes.std()) * math.sqrt(60)
    days = market.returns(pair, "1d", lookback=VOL_DAYS)
    if len(days.dropna()) >= VOL_MIN_RETURNS:
        return float(days.std()) / math.sqrt(24)
    return None


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
                    trade_params=self.levels(pair).trade_params(),
                    source=SOURCE,
                    expires_at=now + timedelta(minutes=2),
                )
            )
            history.clear()
            history.append((now, float(value)))
        return receipts

    def levels(self, pair: str) -> DemoLevels:
        """The stop, target and holding time for a demo signal on ``pair`` now."""
        settings = self.services.settings
        return demo_levels(
            DemoMarket(
                fee_pct=float(settings.paper_fee_pct),
                slippage_pct=float(settings.paper_slippage_pct),
                hourly_volatility=hourly_volatility(self.services.market, pair),
                max_holding_hours=settings.max_position_holding_hours,
            )
        )
