"""Set the trading mode (L5 command): PAPER at once, LIVE only through the pre-live checklist.

Switching to LIVE computes every item of the seed's pre-live checklist (``helios.live``) when
the switch is asked for, outside any transaction (it asks VALR); a missing item refuses it
(``LiveNotReady`` naming every missing item; the only write is a ``MODE_CHANGE_REFUSED`` event
with the list and who tried). The switch itself re-reads the halt flag in its own transaction
(``TradingState.switch_to_live``), so a halt that arrived meanwhile still refuses. Back to PAPER
is always allowed, at once. Who (``by``) and why are recorded either way.
"""

from __future__ import annotations

from helios.config import TradingMode
from helios.errors import InvalidInput
from helios.live import LiveChecklist, LiveNotReady, LiveReadiness
from helios.text import NAME_LIMIT, clean_text
from helios.trading_state import LiveSwitch, TradingState, checked_name, checked_text


class SetMode:
    def __init__(self, state: TradingState, live: LiveReadiness) -> None:
        self._state = state
        self._live = live

    def checklist(
        self, confirmed_by: str | None = None, *, max_key_age_seconds: float = 0.0
    ) -> LiveChecklist:
        """The pre-live checklist now (``hx.live.checklist``)."""
        return self._live.checklist(confirmed_by, max_key_age_seconds=max_key_age_seconds)

    def run(
        self, mode: str, by: str, reason: str = "", *, confirmed_by: str | None = None
    ) -> TradingMode:
        try:
            chosen = TradingMode(str(mode).upper())
        except ValueError:
            raise InvalidInput("mode", mode, "PAPER or LIVE") from None
        if not isinstance(by, str) or not by.strip() or len(by.strip()) > NAME_LIMIT:
            raise InvalidInput("by", by, "who is making the change (a name of 1-120 characters)")
        if confirmed_by is not None and (
            not isinstance(confirmed_by, str) or len(confirmed_by.strip()) > NAME_LIMIT
        ):
            raise InvalidInput(
                "confirmed_by", confirmed_by, "the name of the person monitoring (1-120 characters)"
            )
        by = checked_name(by, "who is making the change")
        reason = checked_text("reason", reason)
        if confirmed_by is not None:
            confirmed_by = clean_text(confirmed_by, limit=NAME_LIMIT)
        if chosen is TradingMode.LIVE and self._state.trading_mode() is not TradingMode.LIVE:
            return self._go_live(by, reason, (confirmed_by or "").strip())
        return self._state.write_mode(chosen, by, reason)

    def _go_live(self, by: str, reason: str, confirmed_by: str) -> TradingMode:
        """PAPER -> LIVE: the checklist computed now, then the switch (``switch_to_live``)."""
        checklist = self.checklist(confirmed_by or None)
        late = self._state.switch_to_live(
            LiveSwitch(
                by=by,
                reason=reason,
                confirmed_by=confirmed_by,
                ready=checklist.ok,
                missing=checklist.missing,
                cap_zar=checklist.cap_zar,
                checklist=checklist.to_dict(),
            )
        )
        if late is not None:
            raise LiveNotReady(checklist, late)
        return TradingMode.LIVE
