"""Margin: which orders need exchange margin, and refusing them in LIVE when the account has none.

A short (SELL) or leverage above 1x needs VALR margin (a margin-enabled subaccount, orders sent
with ``allowMargin``). In LIVE such a trade is refused before any risk decision or order when the
account has no margin, or when VALR cannot say: sending it would only be rejected by the venue
after a decision and an intent were recorded. PAPER simulates margin, so nothing is refused there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from helios.config import TradingMode
from helios.db.engine import Database
from helios.db.models import Position
from helios.errors import HeliosError, InvalidInput
from helios.positions.venues import Venues
from helios.trade import parse_side


def needs_margin(side: str, leverage: Decimal | float) -> bool:
    """Whether a position's orders need exchange margin: a short, or more than 1x."""
    return side == "SELL" or Decimal(str(leverage)) > 1


class MarginGate:
    def __init__(self, db: Database, venues: Venues) -> None:
        self._db = db
        self._venues = venues

    def refusal(self, signal: Any, trade_params: Any, mode: TradingMode) -> str | None:
        """In LIVE, a short (SELL) or leverage above 1x needs VALR margin (a margin-enabled
        subaccount, orders with ``allowMargin``): refused before any decision or order when the
        account has none, or when VALR cannot say. PAPER simulates margin: None. ``mode``: the
        trading mode the caller has just read."""
        if mode is not TradingMode.LIVE:
            return None
        try:
            side = parse_side(signal)
            leverage = Decimal(
                str(trade_params.get("leverage", 1) if isinstance(trade_params, dict) else 1)
            )
        except (InvalidInput, ArithmeticError, ValueError):
            return None  # the risk check refuses the malformed trade, naming the field
        if not needs_margin(side, leverage):
            return None
        what = "a short (SELL)" if side == "SELL" else f"leverage {leverage}x"
        try:
            enabled = self._venues.exchange(TradingMode.LIVE.value).margin_enabled()
        except HeliosError as exc:
            return (
                f"LIVE: {what} needs VALR margin, and VALR could not say whether it is on ({exc})"
            )
        if enabled:
            return None
        return (
            f"LIVE: {what} needs a margin-enabled VALR subaccount (allowMargin); margin is not "
            "enabled on this account, so nothing was sent"
        )

    def position_needs(self, position_id: int) -> bool:
        """Whether a recorded position's orders need margin (a resend by ``reconcile``)."""
        with self._db.read() as session:
            row = session.execute(
                select(Position.side, Position.leverage).where(Position.id == position_id)
            ).one()
        return needs_margin(row.side, row.leverage)
