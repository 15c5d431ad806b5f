"""The trading state (L4a): the trading mode, the halt flag and the acknowledgements, in the
database (``settings``), with the event log they write to.

The database is the source of truth: ``.env``'s ``TRADING_MODE`` only seeds the first start, and
every process reads the mode and the flag from here on every use. This is what the services
below the commands need (signals refuse under a halt, the watchdog halts, the pre-live
checklist reads the flag); the commands that act on several services (emergency stop, close
all, resume, set mode) are in ``helios.commands``, composed by ``helios.controls``.

The rules it owns:
- a halt in force is not overwritten: its first reason, time and author stay until a person
  resumes; only its action can be raised from ``halt_only`` to ``close_all``. Each change of
  the flag is one conditional UPDATE, so two processes halting (or resuming) at once record one;
- the free text stored (who, why, notes) is cleaned once, here and in the commands, by
  ``helios.text.clean_text``: a NUL in a reason must never make the database refuse a halt. A
  ``by`` with nothing visible is refused (``InvalidInput`` naming ``by``): every action records
  who took it;
- switching to LIVE re-reads the flag in the switch's own transaction: a halt that arrived while
  the checklist ran still refuses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from helios.clock import Clock, ensure_utc
from helios.config import HaltAction, TradingMode
from helios.db.engine import Database
from helios.db.models import Setting
from helios.errors import InvalidInput
from helios.events import event_row, recent_events, record_event
from helios.money import fmt_zar
from helios.settings_store import (
    HALT_ACK_KEY,
    HALT_ACTION_KEY,
    HALT_CAUSE_KEY,
    HALT_REASON_KEY,
    HALTED_KEY,
    MODE_KEY,
    get_setting,
    put_setting,
    read_setting,
    read_settings,
)
from helios.text import NAME_LIMIT, TEXT_LIMIT, clean_text

__all__ = ["HaltState", "LiveSwitch", "TradingState", "checked_name", "checked_text"]


@dataclass(frozen=True)
class HaltState:
    halted: bool
    reason: str
    since: datetime | None
    by: str
    cause: str = ""
    action: HaltAction | None = None


@dataclass(frozen=True)
class LiveSwitch:
    """A PAPER -> LIVE switch asked for, with the pre-live checklist computed for it
    (``helios.live``): ``ready`` when every item holds, ``missing`` its problems, ``checklist``
    as recorded in the event."""

    by: str
    reason: str
    confirmed_by: str
    ready: bool
    missing: Sequence[str]
    cap_zar: Decimal
    checklist: dict[str, Any] = field(default_factory=dict)


class TradingState:
    """The mode, the halt flag (with its reason, cause and action), the acknowledgements of the
    automatic triggers, and the event log reads; built from the database and the clock."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # --- the trading mode -----------------------------------------------------------------
    def trading_mode(self) -> TradingMode:
        with self._db.read() as session:
            return trading_mode_in(session)

    def write_mode(self, chosen: TradingMode, by: str, reason: str) -> TradingMode:
        """Store ``chosen`` (a ``MODE_CHANGE`` event with who and why); already in force:
        nothing changes. ``by`` and ``reason`` cleaned by the caller (``checked_name``)."""
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

    def switch_to_live(self, switch: LiveSwitch) -> list[str] | None:
        """PAPER -> LIVE in one write transaction that re-reads the halt flag. None: switched
        (or another process just did). Otherwise the switch is refused, a
        ``MODE_CHANGE_REFUSED`` event lists every problem and who tried, and the problems found
        here beyond the checklist's are returned (a halt that arrived meanwhile)."""
        now = self._clock.now()
        by, confirmed_by = switch.by, switch.confirmed_by
        with self._db.write() as session:
            halted = get_setting(session, HALTED_KEY)
            late = (
                ["trading was halted while the checklist ran: resume first"]
                if switch.ready and halted is not None and halted.value == "true"
                else []
            )
            row = get_setting(session, MODE_KEY)
            previous = row.value if row else None
            if switch.ready and not late:
                if previous != TradingMode.LIVE.value:  # another process may have just done it
                    put_setting(session, MODE_KEY, TradingMode.LIVE.value, now, by)
                    record_event(
                        session,
                        ts=now,
                        kind="MODE_CHANGE",
                        actor=by,
                        severity="WARNING",
                        message=f"trading mode {previous} -> LIVE: real money; {confirmed_by} "
                        f"monitors closely; risk sees at most {fmt_zar(switch.cap_zar)} of "
                        "equity",
                        details={
                            "reason": switch.reason,
                            "confirmed_by": confirmed_by,
                            "capital_cap_zar": str(switch.cap_zar),
                            "checklist": switch.checklist,
                        },
                    )
                return None
            missing = [*switch.missing, *late]
            record_event(
                session,
                ts=now,
                kind="MODE_CHANGE_REFUSED",
                actor=by,
                severity="WARNING",
                message=f"LIVE refused for {by}: " + "; ".join(missing),
                details={
                    "requested": TradingMode.LIVE.value,
                    "reason": switch.reason,
                    "confirmed_by": confirmed_by,
                    "missing": missing,
                    "checklist": switch.checklist,
                },
            )
        return late

    # --- the halt flag ----------------------------------------------------------------------
    def halt_state(self) -> HaltState:
        with self._db.read() as session:
            return halt_state_in(session)

    def flags_in(self, session: Session) -> tuple[HaltState, TradingMode]:
        """The halt flag and the mode in the caller's transaction (``flags_in``)."""
        return flags_in(session)

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
        by = checked_name(by, "who is halting")
        reason, cause = checked_text("reason", reason), checked_text("cause", cause)
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
                    details={**figures, "halt_since": now.isoformat()},
                )
            elif chosen is HaltAction.CLOSE_ALL and _flip(
                session, HALT_ACTION_KEY, HaltAction.HALT_ONLY.value, chosen.value, now, by
            ):
                since = get_setting(session, HALTED_KEY)
                if since is not None:  # the episode's start: its alerts travel together
                    figures = {**figures, "halt_since": since.updated_at.isoformat()}
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

    def lift_halt(self, by: str, note: str, acknowledged: Sequence[str]) -> HaltState:
        """Lift a halt, acknowledging the automatic triggers ``acknowledged`` (those in force
        now) with this time (``helios.rearm``). Not halted: nothing changes."""
        by, note = checked_name(by, "who is resuming"), checked_text("note", note)
        breached = list(acknowledged)
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
            return acknowledgements_in(session)

    def set_acknowledged(self, acknowledged: dict[str, datetime]) -> None:
        stored = {trigger: at.isoformat() for trigger, at in sorted(acknowledged.items())}
        with self._db.write() as session:
            put_setting(session, HALT_ACK_KEY, json.dumps(stored), self._clock.now(), "watchdog")

    # --- the event log ----------------------------------------------------------------------
    def event_log(self, limit: int = 200, kind: str | None = None) -> list[dict[str, Any]]:
        """The newest events first (halts, resumes, emergency stops, mode changes, decisions,
        errors), each with who and when: what the Controls page and the API show."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", limit, "a whole number from 1 to 10000")
        with self._db.read() as session:
            return [event_row(e) for e in recent_events(session, limit=limit, kind=kind)]

    def note_login(self, user: str, success: bool, detail: str = "") -> None:
        """A dashboard sign-in (or a refused one: a wrong password, or a session cookie refused
        as ``detail`` says) in the event log."""
        user = clean_text(user, limit=NAME_LIMIT) if isinstance(user, str) else ""
        user = user or "(no name)"
        message = f"dashboard sign-in {'by' if success else 'refused for'} {user}"
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind="LOGIN" if success else "LOGIN_REFUSED",
                severity="INFO" if success else "WARNING",
                actor=user,
                message=message + (f": {clean_text(detail, limit=200)}" if detail else ""),
            )

    def note_logout(self, user: str) -> None:
        """A dashboard sign-out (its session cookie cleared) in the event log."""
        user = (clean_text(user, limit=NAME_LIMIT) if isinstance(user, str) else "") or "(no name)"
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind="LOGOUT",
                severity="INFO",
                actor=user,
                message=f"dashboard sign-out by {user}",
            )

    def note(
        self,
        kind: str,
        by: str,
        message: str,
        *,
        severity: str = "INFO",
        details: dict[str, Any] | None = None,
    ) -> None:
        """One event of ``kind`` from a control (a close-all's outcome, say), stamped now."""
        with self._db.write() as session:
            record_event(
                session,
                ts=self._clock.now(),
                kind=kind,
                actor=by,
                severity=severity,
                message=message,
                details=details,
            )


def checked_name(by: Any, who: str) -> str:
    """``by`` cleaned (``helios.text``); refused when it is not a text or nothing visible is left:
    every manual action records who took it."""
    cleaned = clean_text(by, limit=NAME_LIMIT) if isinstance(by, str) else ""
    if not cleaned:
        raise InvalidInput(
            "by", by, f"{who}: a name with at least one visible character (at most {NAME_LIMIT})"
        )
    return cleaned


def checked_text(field_name: str, value: Any) -> str:
    """A reason or a note, cleaned (``helios.text``); '' when nothing visible is left."""
    if not isinstance(value, str):
        raise InvalidInput(field_name, value, "a text")
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


# --- reads in the caller's transaction (a pass that reads several things reads them at once) --
_HALT_KEYS = (HALTED_KEY, HALT_REASON_KEY, HALT_CAUSE_KEY, HALT_ACTION_KEY)


def halt_state_in(session: Session) -> HaltState:
    """The halt flag with its reason, cause and action, read in the caller's transaction."""
    return _halt_of(read_settings(session, _HALT_KEYS))


def trading_mode_in(session: Session) -> TradingMode:
    """The trading mode stored (PAPER when none is), read in the caller's transaction."""
    return _mode_of(read_setting(session, MODE_KEY))


def flags_in(session: Session) -> tuple[HaltState, TradingMode]:
    """The halt flag and the trading mode, in one statement of the caller's transaction (the
    trading loop reads both at the start of its pass, in the pass's own transaction)."""
    found = read_settings(session, (MODE_KEY, *_HALT_KEYS))
    return _halt_of(found), _mode_of(found.get(MODE_KEY))


def _mode_of(row: Any) -> TradingMode:
    return TradingMode(row.value) if row is not None else TradingMode.PAPER


def _halt_of(found: dict[str, Any]) -> HaltState:
    halted = found.get(HALTED_KEY)
    reason = found.get(HALT_REASON_KEY)
    cause = found.get(HALT_CAUSE_KEY)
    action = found.get(HALT_ACTION_KEY)
    if halted is None or halted.value != "true":
        return HaltState(halted=False, reason="", since=None, by="")
    return HaltState(
        halted=True,
        reason=reason.value if reason else "",
        since=halted.updated_at,
        by=halted.updated_by,
        cause=cause.value if cause else "manual",
        action=HaltAction(action.value) if action and action.value else HaltAction.HALT_ONLY,
    )


def acknowledgements_in(session: Session) -> dict[str, datetime]:
    """``TradingState.acknowledgements``, read in the caller's transaction."""
    row = read_setting(session, HALT_ACK_KEY)
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
