"""The seed's emergency stop (L5 command): halt with ``close_all`` and close every open
position as EMERGENCY_CLOSE now.

The halt comes first, so no opening trade slips in while the positions close; its action
``close_all`` also has the scheduler's watchdog (``helios.halts``) retry, with backoff, every
close the exchange does not answer now, until every position is closed.
"""

from __future__ import annotations

from typing import Any

from helios.commands.close_all import ClosesAll, close_everything
from helios.config import HaltAction
from helios.trading_state import TradingState, checked_name, checked_text


class EmergencyStop:
    def __init__(self, state: TradingState, positions: ClosesAll) -> None:
        self._state = state
        self._positions = positions

    def run(self, by: str, reason: str = "") -> dict[str, Any]:
        """Halt (close_all), then close every open position; returns the halt and each close."""
        by, reason = checked_name(by, "who is stopping"), checked_text("reason", reason)
        why = reason or "manual emergency stop"
        state = self._state.halt(
            f"emergency stop by {by}: {why}",
            by,
            cause="emergency_stop",
            action=HaltAction.CLOSE_ALL,
        )
        done = close_everything(
            self._state,
            self._positions,
            "EMERGENCY_CLOSE",
            by,
            "EMERGENCY_STOP",
            why,
            halt_since=state.since,
        )
        return {"halt": state, **done}
