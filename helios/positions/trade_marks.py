"""A position as a price chart marks it: its entry, its exit and why it ended.

The exit reason is ``helios.positions.exit_reasons.exit_reason`` (the closed trades list's too:
one rule, one label table); an open position (OPEN or CLOSING) has none yet.

Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class TradeMark:
    """What a chart shows of one position. ``exit_*`` are None while it is open; ``stop`` and
    ``target`` are its levels now (the stop possibly trailed), kept for open positions only;
    ``pnl``: net realized P&L once closed, unrealized at the latest price while open (None
    without a price)."""

    position_id: int
    pair: str
    side: str
    status: str
    margin: Decimal
    leverage: Decimal
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime | None
    exit_price: Decimal | None
    exit_reason: str | None
    pnl: Decimal | None
    stop: Decimal | None
    target: Decimal | None

    @property
    def is_open(self) -> bool:
        return self.exit_time is None
