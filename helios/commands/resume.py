"""Resume (L5 command): a person lifts a halt, acknowledging the automatic conditions in force.

The conditions true at this moment (``hx.halts.breaches``, judged as the watchdog judges them,
from the leading scheduler's feed start) are acknowledged with this time: each re-arms when it
clears, and one still true a full trigger period later halts again as a new episode
(``helios.rearm``). Without the acknowledgement the next watchdog pass would halt again at once
for what the person has just looked at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from helios.halt_triggers import Breach
from helios.trading_state import HaltState, TradingState, checked_name, checked_text


class HaltConditions(Protocol):
    """The watchdog's conditions (``hx.halts``)."""

    def breaches(self, feed_started_at: datetime | None = None) -> list[Breach]: ...

    def feed_started_at(self) -> datetime | None: ...


class Resume:
    def __init__(self, state: TradingState, conditions: HaltConditions) -> None:
        self._state = state
        self._conditions = conditions

    def run(self, by: str, note: str = "") -> HaltState:
        """Lift a halt (recorded with who). Not halted: nothing changes."""
        by, note = checked_name(by, "who is resuming"), checked_text("note", note)
        conditions = self._conditions
        breached = sorted({b.trigger for b in conditions.breaches(conditions.feed_started_at())})
        return self._state.lift_halt(by, note, breached)
