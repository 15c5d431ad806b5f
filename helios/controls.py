"""``hx.controls`` (L5): the manual controls, one object for the CLI, the dashboard, notebooks
and the API: the trading state (``helios.trading_state``) and the commands that act on several
services (``helios.commands``), composed.

Each control records who and why, and each works without the scheduler: ``halt`` (stop opening
trades), ``resume``, ``emergency_stop`` (halt and close every position as EMERGENCY_CLOSE),
``close_all``, ``set_mode``. Their free text (who, why, notes) is cleaned once by
``helios.text.clean_text`` before anything is written: control characters, unpaired surrogates
and bidi overrides replaced, the length bounded. So an emergency stop, a close-all, a halt or a
resume always does its job whatever text comes with it (a NUL in a reason used to make
PostgreSQL refuse the halt and leave every position open), and every entry point stores the same
text. A ``by`` with nothing visible once cleaned is refused (``InvalidInput`` naming ``by``):
every action records who took it. Switching to LIVE needs the seed's pre-live checklist
(``helios.live``, also ``live_checklist`` here): every item is computed when the switch is
asked for, and a missing one refuses it (``LiveNotReady`` naming every missing item; the only
write is a ``MODE_CHANGE_REFUSED`` event with the list and who tried). Back to PAPER is always
allowed, at once. The automatic halts are ``helios.halts``; they halt through the trading state,
with a cause and an action.

``helios.connect`` builds it last, with everything it needs passed in: there is no binding step,
and no method can find a collaborator missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helios.commands import CloseAll, ClosesAll, EmergencyStop, Resume, SetMode
from helios.commands.resume import HaltConditions
from helios.config import HaltAction, TradingMode
from helios.live import LiveChecklist, LiveReadiness

# Deprecated (one release): the settings store and its keys moved to ``helios.settings_store``.
from helios.settings_store import (
    HALT_ACK_KEY,
    HALT_ACTION_KEY,
    HALT_CAUSE_KEY,
    HALT_REASON_KEY,
    HALTED_KEY,
    MODE_KEY,
    SettingKey,
    get_setting,
    put_setting,
    seed_defaults,
)

# What the controls return (``halt``, ``resume``, ``halt_state``); it lives with the trading state.
from helios.trading_state import HaltState, TradingState

__all__ = [
    "HALTED_KEY",
    "HALT_ACK_KEY",
    "HALT_ACTION_KEY",
    "HALT_CAUSE_KEY",
    "HALT_REASON_KEY",
    "MODE_KEY",
    "Controls",
    "HaltState",
    "SettingKey",
    "get_setting",
    "put_setting",
    "seed_defaults",
]


class Controls:
    """The trading state and the four commands, behind the methods ``hx.controls`` has always
    had (thin delegation: each rule lives in its own module)."""

    def __init__(
        self,
        state: TradingState,
        *,
        positions: ClosesAll,
        halts: HaltConditions,
        live: LiveReadiness,
    ) -> None:
        self._state = state
        self._emergency_stop = EmergencyStop(state, positions)
        self._close_all = CloseAll(state, positions)
        self._resume = Resume(state, halts)
        self._set_mode = SetMode(state, live)

    # --- the trading mode -------------------------------------------------------------------
    def trading_mode(self) -> TradingMode:
        return self._state.trading_mode()

    def set_mode(
        self, mode: str, by: str, reason: str = "", *, confirmed_by: str | None = None
    ) -> TradingMode:
        """Switch the trading mode; who (``by``) and why are recorded.

        PAPER is always allowed, at once. LIVE needs every item of the pre-live checklist
        (``live_checklist``), computed now: ``confirmed_by`` is the person who will monitor
        closely. A missing item raises ``LiveNotReady`` listing every missing item; nothing is
        written but a ``MODE_CHANGE_REFUSED`` event (the list, who tried). Already in the mode
        asked for: nothing changes.
        """
        return self._set_mode.run(mode, by, reason, confirmed_by=confirmed_by)

    def live_checklist(
        self, confirmed_by: str | None = None, *, max_key_age_seconds: float = 0.0
    ) -> LiveChecklist:
        """The seed's pre-live checklist now, each item with ``ok`` and its ``detail``
        (``helios.live``): what the dashboard, the CLI and ``set_mode("LIVE")`` use."""
        return self._set_mode.checklist(confirmed_by, max_key_age_seconds=max_key_age_seconds)

    # --- the halt flag ----------------------------------------------------------------------
    def halt_state(self) -> HaltState:
        return self._state.halt_state()

    def is_halted(self) -> bool:
        return self._state.is_halted()

    def halt(
        self,
        reason: str,
        by: str,
        *,
        cause: str = "manual",
        action: HaltAction | str = HaltAction.HALT_ONLY,
        details: dict[str, Any] | None = None,
    ) -> HaltState:
        """Stop all opening trades until a person resumes (``TradingState.halt``: a halt in
        force keeps its first reason; only its action can be raised to ``close_all``)."""
        return self._state.halt(reason, by, cause=cause, action=action, details=details)

    def resume(self, by: str, note: str = "") -> HaltState:
        """Lift a halt (a person's decision, recorded with who). Not halted: nothing changes.

        The automatic-halt conditions in force at this moment are acknowledged, with this time:
        each re-arms when it clears, and one still true a full trigger period later halts
        again as a new episode (``helios.rearm``)."""
        return self._resume.run(by, note)

    # --- the acknowledgements of automatic triggers (helios.halts) ----------------------------
    def acknowledged_triggers(self) -> set[str]:
        return self._state.acknowledged_triggers()

    def acknowledgements(self) -> dict[str, datetime]:
        """The automatic conditions the last resume acknowledged, each with when."""
        return self._state.acknowledgements()

    def set_acknowledged(self, acknowledged: dict[str, datetime]) -> None:
        self._state.set_acknowledged(acknowledged)

    # --- the event log ----------------------------------------------------------------------
    def event_log(self, limit: int = 200, kind: str | None = None) -> list[dict[str, Any]]:
        """The newest events first (halts, resumes, emergency stops, mode changes, decisions,
        errors), each with who and when: what the Controls page and the API show."""
        return self._state.event_log(limit, kind)

    def note_login(self, user: str, success: bool, detail: str = "") -> None:
        """A dashboard sign-in (or a refused one, ``detail`` saying why) in the event log."""
        self._state.note_login(user, success, detail)

    def note_logout(self, user: str) -> None:
        """A dashboard sign-out in the event log."""
        self._state.note_logout(user)

    # --- the emergency controls -------------------------------------------------------------
    def emergency_stop(self, by: str, reason: str = "") -> dict[str, Any]:
        """The seed's emergency stop: halt (close_all) and close every open position as
        EMERGENCY_CLOSE now. A close the exchange does not answer stays CLOSING; the
        scheduler's watchdog retries it with backoff until every position is closed."""
        return self._emergency_stop.run(by, reason)

    def close_all(self, by: str, reason: str = "") -> dict[str, Any]:
        """Close every open position (status CLOSED) without halting."""
        return self._close_all.run(by, reason)
