"""``hx.controls``: the trading mode and the halt flag, held in the database (``settings``).

The database is the source of truth: ``.env``'s ``TRADING_MODE`` only seeds the first start. A
process started with an explicit ``TRADING_MODE`` that disagrees with the database refuses to
start (see ``helios.facade.connect``) rather than trade in a mode nobody expected.

This issue builds reading and PAPER; switching to LIVE arrives with the VALR client and the
pre-live checklist (issue #8), automatic halts and the emergency stop with the scheduler
(issue #6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.config import TradingMode
from helios.db.engine import Database
from helios.db.models import Setting
from helios.errors import InvalidInput, NotYetAvailable
from helios.events import record_event

MODE_KEY = "trading_mode"
HALTED_KEY = "halted"
HALT_REASON_KEY = "halt_reason"


@dataclass(frozen=True)
class HaltState:
    halted: bool
    reason: str
    since: datetime | None
    by: str


def get_setting(session: Session, key: str) -> Setting | None:
    return session.get(Setting, key)


def put_setting(session: Session, key: str, value: str, now: datetime, by: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=now, updated_by=by))
    else:
        row.value, row.updated_at, row.updated_by = value, now, by
    session.flush()


def seed_defaults(session: Session, mode: TradingMode, now: datetime) -> bool:
    """First start: store the mode from configuration and 'not halted'. True if seeded."""
    if get_setting(session, MODE_KEY) is not None:
        return False
    put_setting(session, MODE_KEY, mode.value, now, "configuration")
    put_setting(session, HALTED_KEY, "false", now, "configuration")
    put_setting(session, HALT_REASON_KEY, "", now, "configuration")
    record_event(
        session,
        ts=now,
        kind="MODE_SET",
        actor="configuration",
        message=f"trading mode {mode.value} at first start",
    )
    return True


class Controls:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def trading_mode(self) -> TradingMode:
        with self._db.read() as session:
            row = get_setting(session, MODE_KEY)
            return TradingMode(row.value) if row else TradingMode.PAPER

    def set_mode(self, mode: str, by: str, reason: str = "") -> TradingMode:
        """Switch the trading mode. PAPER is always allowed; LIVE needs issue #8."""
        try:
            chosen = TradingMode(str(mode).upper())
        except ValueError:
            raise InvalidInput("mode", mode, "PAPER or LIVE") from None
        if not isinstance(by, str) or not by.strip():
            raise InvalidInput("by", by, "who is making the change (a non-empty name)")
        if chosen is TradingMode.LIVE:
            raise NotYetAvailable("LIVE mode (VALR client and pre-live checklist)", 8)
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

    def halt_state(self) -> HaltState:
        with self._db.read() as session:
            halted = get_setting(session, HALTED_KEY)
            reason = get_setting(session, HALT_REASON_KEY)
            is_halted = bool(halted and halted.value == "true")
            return HaltState(
                halted=is_halted,
                reason=reason.value if reason and is_halted else "",
                since=halted.updated_at if halted and is_halted else None,
                by=halted.updated_by if halted and is_halted else "",
            )

    def is_halted(self) -> bool:
        return self.halt_state().halted

    def halt(self, reason: str, by: str) -> HaltState:
        """Stop all opening trades until a person resumes. Closing stays allowed.

        A halt in force is not overwritten: its first reason, time and author stay until a
        person resumes (the monitor may ask to halt on every pass while a limit stays breached).
        The change is a conditional update, so two processes halting at once record one halt.
        """
        for name, value in (("reason", reason), ("by", by)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(name, value, "a non-empty text")
        now = self._clock.now()
        with self._db.write() as session:
            if _flip(session, HALTED_KEY, "false", "true", now, by):
                put_setting(session, HALT_REASON_KEY, reason, now, by)
                record_event(
                    session,
                    ts=now,
                    kind="HALT",
                    actor=by,
                    severity="CRITICAL",
                    message=f"trading halted: {reason}",
                )
        return self.halt_state()

    def resume(self, by: str, note: str = "") -> HaltState:
        """Lift a halt (a person's decision, recorded with who). Not halted: nothing changes."""
        if not isinstance(by, str) or not by.strip():
            raise InvalidInput("by", by, "who is resuming (a non-empty name)")
        now = self._clock.now()
        with self._db.write() as session:
            was = get_setting(session, HALT_REASON_KEY)
            reason = was.value if was else ""
            if _flip(session, HALTED_KEY, "true", "false", now, by):
                put_setting(session, HALT_REASON_KEY, "", now, by)
                record_event(
                    session,
                    ts=now,
                    kind="RESUME",
                    actor=by,
                    message=f"trading resumed (halt was: {reason})",
                    details={"note": note},
                )
        return self.halt_state()


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
