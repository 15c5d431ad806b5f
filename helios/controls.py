"""``hx.controls``: the trading mode and the halt flag, held in the database (``settings``).

The database is the source of truth: ``.env``'s ``TRADING_MODE`` only seeds the first start. A
process started with an explicit ``TRADING_MODE`` that disagrees with the database refuses to
start (see ``helios.facade.connect``) rather than trade in a mode nobody expected.

The manual controls (shared by the CLI, the dashboard, notebooks and the API; each records who
and why, and each works without the scheduler): ``halt`` (stop opening trades), ``resume``,
``emergency_stop`` (halt and close every position as EMERGENCY_CLOSE), ``close_all``,
``set_mode``. Their free text (who, why, notes) is cleaned here, once, by
``helios.text.clean_text`` before anything is written: control characters, unpaired surrogates
and bidi overrides replaced, the length bounded. So an emergency stop, a close-all, a halt or a
resume always does its job whatever text comes with it (a NUL in a reason used to make
PostgreSQL refuse the halt and leave every position open), and every entry point stores the same
text. A ``by`` with nothing visible once cleaned is refused (``InvalidInput`` naming ``by``):
every action records who took it. Switching to LIVE needs the seed's pre-live checklist
(``helios.live``, also ``live_checklist`` here): every item is computed when the switch is
asked for, and a missing one refuses it (``LiveNotReady`` naming every missing item; the only
write is a ``MODE_CHANGE_REFUSED`` event with the list and who tried). Back to PAPER is always
allowed, at once. The automatic halts are ``helios.halts``; they halt through ``halt`` here, with a
cause and an action.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.config import HaltAction, TradingMode
from helios.db.engine import Database
from helios.db.models import Setting
from helios.errors import InvalidInput
from helios.events import recent_events, record_event
from helios.live import LiveChecklist, LiveNotReady
from helios.money import fmt_zar
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
from helios.text import NAME_LIMIT, TEXT_LIMIT, clean_text

# Deprecated (one release): the settings store and its keys live in ``helios.settings_store``.
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

if TYPE_CHECKING:
    from helios.halts import Halts
    from helios.live import LiveReadiness
    from helios.positions.manager import PositionManager


@dataclass(frozen=True)
class HaltState:
    halted: bool
    reason: str
    since: datetime | None
    by: str
    cause: str = ""
    action: HaltAction | None = None


class Controls:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._positions: PositionManager | None = None
        self._halts: Halts | None = None
        self._live: LiveReadiness | None = None

    def trading_mode(self) -> TradingMode:
        with self._db.read() as session:
            row = get_setting(session, MODE_KEY)
            return TradingMode(row.value) if row else TradingMode.PAPER

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
        by = _name(by, "who is making the change")
        reason = _text("reason", reason)
        if confirmed_by is not None:
            confirmed_by = clean_text(confirmed_by, limit=NAME_LIMIT)
        if chosen is TradingMode.LIVE and self.trading_mode() is not TradingMode.LIVE:
            return self._go_live(by, reason, (confirmed_by or "").strip())
        now = self._clock.now()
        with self._db.write() as session:
            row = get_setting(session, MODE_KEY)
            previous = row.value if row else None
            if previous != chosen.value:
                put_setting(session, MODE_KEY, chosen.value, now, by)
                record_event(
                    session,
                    ts=now,
                    kind="MODE_CHANGE",
                    actor=by,
                    message=f"trading mode {previous} -> {chosen.value}",
                    details={"reason": reason},
                )
        return chosen

    def live_checklist(
        self, confirmed_by: str | None = None, *, max_key_age_seconds: float = 0.0
    ) -> LiveChecklist:
        """The seed's pre-live checklist now, each item with ``ok`` and its ``detail``
        (``helios.live``): what the dashboard, the CLI and ``set_mode("LIVE")`` use."""
        return self._bound_live().checklist(confirmed_by, max_key_age_seconds=max_key_age_seconds)

    def _go_live(self, by: str, reason: str, confirmed_by: str) -> TradingMode:
        """PAPER -> LIVE: the checklist computed now (outside any transaction: it asks VALR),
        then the switch in one write transaction that re-reads the halt flag (a halt that
        arrived meanwhile still refuses)."""
        checklist = self.live_checklist(confirmed_by or None)
        refusal: LiveNotReady | None = None
        now = self._clock.now()
        with self._db.write() as session:
            halted = get_setting(session, HALTED_KEY)
            late = (
                ["trading was halted while the checklist ran: resume first"]
                if checklist.ok and halted is not None and halted.value == "true"
                else []
            )
            row = get_setting(session, MODE_KEY)
            previous = row.value if row else None
            if checklist.ok and not late:
                if previous != TradingMode.LIVE.value:  # another process may have just done it
                    put_setting(session, MODE_KEY, TradingMode.LIVE.value, now, by)
                    record_event(
                        session,
                        ts=now,
                        kind="MODE_CHANGE",
                        actor=by,
                        severity="WARNING",
                        message=f"trading mode {previous} -> LIVE: real money; {confirmed_by} "
                        f"monitors closely; risk sees at most {fmt_zar(checklist.cap_zar)} of "
                        "equity",
                        details={
                            "reason": reason,
                            "confirmed_by": confirmed_by,
                            "capital_cap_zar": str(checklist.cap_zar),
                            "checklist": checklist.to_dict(),
                        },
                    )
            else:
                refusal = LiveNotReady(checklist, late)
                record_event(
                    session,
                    ts=now,
                    kind="MODE_CHANGE_REFUSED",
                    actor=by,
                    severity="WARNING",
                    message=f"LIVE refused for {by}: " + "; ".join(refusal.missing),
                    details={
                        "requested": TradingMode.LIVE.value,
                        "reason": reason,
                        "confirmed_by": confirmed_by,
                        "missing": refusal.missing,
                        "checklist": checklist.to_dict(),
                    },
                )
        if refusal is not None:
            raise refusal
        return TradingMode.LIVE

    def halt_state(self) -> HaltState:
        with self._db.read() as session:
            halted = get_setting(session, HALTED_KEY)
            reason = get_setting(session, HALT_REASON_KEY)
            cause = get_setting(session, HALT_CAUSE_KEY)
            action = get_setting(session, HALT_ACTION_KEY)
            is_halted = bool(halted and halted.value == "true")
            if not is_halted:
                return HaltState(halted=False, reason="", since=None, by="")
            assert halted is not None
            return HaltState(
                halted=True,
                reason=reason.value if reason else "",
                since=halted.updated_at,
                by=halted.updated_by,
                cause=cause.value if cause else "manual",
                action=HaltAction(action.value)
                if action and action.value
                else HaltAction.HALT_ONLY,
            )

    def is_halted(self) -> bool:
        return self.halt_state().halted

    def halt(
        self,
        reason: str,
        by: str,
        *,
        cause: str = "manual",
        action: HaltAction | str = HaltAction.HALT_ONLY,
        details: dict[str, Any] | None = None,
    ) -> HaltState:
        """Stop all opening trades until a person resumes. Closing stays allowed.

        ``action`` ``close_all`` also has the scheduler's watchdog close every open position
        (``emergency_stop`` does it at once). A halt in force is not overwritten: its first
        reason, time and author stay until a person resumes (the watchdog may ask to halt on
        every pass while a limit stays breached); only its action can be raised from
        ``halt_only`` to ``close_all``. The change is a conditional update, so two processes
        halting at once record one halt.
        """
        by = _name(by, "who is halting")
        reason, cause = _text("reason", reason), _text("cause", cause)
        for name, value in (("reason", reason), ("cause", cause)):
            if not value:
                raise InvalidInput(name, value, "a non-empty text")
        try:
            chosen = HaltAction(str(action).lower())
        except ValueError:
            raise InvalidInput("action", action, "close_all or halt_only") from None
        now = self._clock.now()
        figures = {"cause": cause, "action": chosen.value, **(details or {})}
        with self._db.write() as session:
            if _flip(session, HALTED_KEY, "false", "true", now, by):
                put_setting(session, HALT_REASON_KEY, reason, now, by)
                put_setting(session, HALT_CAUSE_KEY, cause, now, by)
                put_setting(session, HALT_ACTION_KEY, chosen.value, now, by)
                record_event(
                    session,
                    ts=now,
                    kind="HALT",
                    actor=by,
                    severity="CRITICAL",
                    message=f"trading halted ({cause}, {chosen.value}): {reason}",
                    details=figures,
                )
            elif chosen is HaltAction.CLOSE_ALL and _flip(
                session, HALT_ACTION_KEY, HaltAction.HALT_ONLY.value, chosen.value, now, by
            ):
                record_event(
                    session,
                    ts=now,
                    kind="HALT_ESCALATED",
                    actor=by,
                    severity="CRITICAL",
                    message=f"halt in force now closes every position ({cause}): {reason}",
                    details=figures,
                )
        return self.halt_state()

    def resume(self, by: str, note: str = "") -> HaltState:
        """Lift a halt (a person's decision, recorded with who). Not halted: nothing changes.

        The automatic-halt conditions in force at this moment are acknowledged, with this time:
        each re-arms when it clears, and one still true a full trigger period later halts
        again as a new episode (``helios.rearm``)."""
        by = _name(by, "who is resuming")
        note = _text("note", note)
        breached = (
            sorted({b.trigger for b in self._halts.breaches(self._halts.feed_started_at())})
            if self._halts is not None
            else []
        )
        now = self._clock.now()
        with self._db.write() as session:
            was = get_setting(session, HALT_REASON_KEY)
            reason = was.value if was else ""
            if _flip(session, HALTED_KEY, "true", "false", now, by):
                put_setting(session, HALT_REASON_KEY, "", now, by)
                put_setting(session, HALT_CAUSE_KEY, "", now, by)
                put_setting(session, HALT_ACTION_KEY, "", now, by)
                # each condition in force, with the moment it was acknowledged (helios.rearm)
                put_setting(
                    session,
                    HALT_ACK_KEY,
                    json.dumps(dict.fromkeys(breached, now.isoformat())),
                    now,
                    by,
                )
                record_event(
                    session,
                    ts=now,
                    kind="RESUME",
                    actor=by,
                    message=f"trading resumed (halt was: {reason})"
                    + (f"; acknowledged: {', '.join(breached)}" if breached else ""),
                    details={"note": note, "acknowledged": breached},
                )
        return self.halt_state()

    # --- the acknowledgements of automatic triggers (helios.halts) ----------------------------
    def acknowledged_triggers(self) -> set[str]:
        return set(self.acknowledgements())

    def acknowledgements(self) -> dict[str, datetime]:
        """The automatic conditions the last resume acknowledged, each with when (a list
        stored before the times were kept counts from the row's last change)."""
        with self._db.read() as session:
            row = get_setting(session, HALT_ACK_KEY)
        if row is None or not row.value:
            return {}
        try:
            stored = json.loads(row.value)
        except (ValueError, TypeError):
            return {}
        if isinstance(stored, list):
            return {str(trigger): row.updated_at for trigger in stored}
        if not isinstance(stored, dict):
            return {}
        found: dict[str, datetime] = {}
        for trigger, at in stored.items():
            try:
                found[str(trigger)] = ensure_utc(datetime.fromisoformat(str(at)))
            except ValueError:
                found[str(trigger)] = row.updated_at
        return found

    def set_acknowledged(self, acknowledged: dict[str, datetime]) -> None:
        stored = {trigger: at.isoformat() for trigger, at in sorted(acknowledged.items())}
        with self._db.write() as session:
            put_setting(session, HALT_ACK_KEY, json.dumps(stored), self._clock.now(), "watchdog")

    def event_log(self, limit: int = 200, kind: str | None = None) -> list[dict[str, Any]]:
        """The newest events first (halts, resumes, emergency stops, mode changes, decisions,
        errors), each with who and when: what the Controls page and the API show."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "a whole number from 1 to 10000")
        with self._db.read() as session:
            return [
                {
                    "id": e.id,
                    "ts": e.ts,
                    "kind": e.kind,
                    "severity": e.severity,
                    "actor": e.actor,
                    "message": e.message,
                }
                for e in recent_events(session, limit=limit, kind=kind)
            ]

    def note_login(self, user: str, success: bool) -> None:
        """A dashboard sign-in (or a refused one) in the event log."""
        user = clean_text(user, limit=NAME_LIMIT) if isinstance(user, str) else ""
        user = user or "(no name)"
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind="LOGIN" if success else "LOGIN_REFUSED",
                severity="INFO" if success else "WARNING",
                actor=user,
                message=f"dashboard sign-in {'by' if success else 'refused for'} {user}",
            )

    # --- the emergency controls -----------------------------------------------------------
    def bind(self, positions: PositionManager, halts: Halts) -> None:
        """Give the controls the position manager (to close) and the halt rules (to
        acknowledge on resume); ``helios.connect`` does it."""
        self._positions = positions
        self._halts = halts

    def bind_live(self, live: LiveReadiness) -> None:
        """Give the controls the pre-live checklist (``hx.live``); ``helios.connect`` does it."""
        self._live = live

    def _bound_live(self) -> LiveReadiness:
        if self._live is None:
            raise RuntimeError("Controls.bind_live was not called (use helios.connect)")
        return self._live

    def emergency_stop(self, by: str, reason: str = "") -> dict[str, Any]:
        """The seed's emergency stop: halt (close_all) and close every open position as
        EMERGENCY_CLOSE now. A close the exchange does not answer stays CLOSING; the
        scheduler's watchdog retries it with backoff until every position is closed."""
        by, reason = _name(by, "who is stopping"), _text("reason", reason)
        why = reason or "manual emergency stop"
        state = self.halt(
            f"emergency stop by {by}: {why}",
            by,
            cause="emergency_stop",
            action=HaltAction.CLOSE_ALL,
        )
        done = self._close_everything("EMERGENCY_CLOSE", by, "EMERGENCY_STOP", why)
        return {"halt": state, **done}

    def close_all(self, by: str, reason: str = "") -> dict[str, Any]:
        """Close every open position (status CLOSED) without halting."""
        by, reason = _name(by, "who is closing"), _text("reason", reason)
        return self._close_everything("CLOSED", by, "CLOSE_ALL", reason)

    def _close_everything(self, status: str, by: str, kind: str, why: str) -> dict[str, Any]:
        """Close every open position with ``status`` and record one event of ``kind``."""
        closes = self._bound().close_all(status, actor=by)
        failed = [c for c in closes if not c.get("success")]
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind=kind,
                actor=by,
                severity="CRITICAL" if status == "EMERGENCY_CLOSE" else "WARNING",
                message=f"{kind.lower().replace('_', ' ')}: {len(closes) - len(failed)} "
                f"closed, {len(failed)} not closed yet" + (f" ({why})" if why else ""),
                details={"failed": [c.get("position_id") for c in failed]},
            )
        return {"closed": closes, "failed": failed}

    def _bound(self) -> PositionManager:
        if self._positions is None:
            raise RuntimeError("Controls.bind was not called (use helios.connect)")
        return self._positions


def _name(by: Any, who: str) -> str:
    """``by`` cleaned (``helios.text``); refused when it is not a text or nothing visible is left:
    every manual action records who took it."""
    cleaned = clean_text(by, limit=NAME_LIMIT) if isinstance(by, str) else ""
    if not cleaned:
        raise InvalidInput(
            "by", by, f"{who}: a name with at least one visible character (at most {NAME_LIMIT})"
        )
    return cleaned


def _text(field: str, value: Any) -> str:
    """A reason or a note, cleaned (``helios.text``); '' when nothing visible is left."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "a text")
    return clean_text(value, limit=TEXT_LIMIT)


def _flip(session: Session, key: str, old: str, new: str, now: datetime, by: str) -> bool:
    """Set ``key`` from ``old`` to ``new`` in one conditional UPDATE; True if this call did it."""
    if get_setting(session, key) is None:  # a database seeded before the key existed
        put_setting(session, key, old, now, "configuration")
    result = session.execute(
        update(Setting)
        .where(Setting.key == key, Setting.value == old)
        .values(value=new, updated_at=now, updated_by=by)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
