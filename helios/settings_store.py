"""The settings store (L1): the database's key-value ``settings`` table, read and written by key.

The database is the source of truth for what operators change at run time (the trading mode, the
halt flag and its reason, cause, action and acknowledgements, the LIVE reconciliation's baseline
and state, the installation id, the history epoch). Every key is a ``SettingKey`` member, so a key
is spelled in one place; the ``*_KEY`` names are the same members, kept for readability. Values
are strings; what they mean belongs to the service that owns the key (``helios.trading_state``
for the mode and the halt, ``helios.reconciliation`` for its baseline, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from helios.config import TradingMode
from helios.db.models import Setting
from helios.errors import ConfigError
from helios.events import record_event


class SettingKey(StrEnum):
    TRADING_MODE = "trading_mode"
    HALTED = "halted"
    HALT_REASON = "halt_reason"
    # manual, emergency_stop, or an automatic trigger (helios.halts)
    HALT_CAUSE = "halt_cause"
    # close_all: the watchdog keeps closing until all are closed
    HALT_ACTION = "halt_action"
    # automatic triggers acknowledged by the last resume (JSON)
    HALT_ACKNOWLEDGED = "halt_acknowledged"
    # LIVE reconciliation: VALR's balances when LIVE began, and the last comparison (JSON)
    LIVE_BASELINE = "live_baseline_balances"
    LIVE_RECONCILE_STATE = "live_reconcile_state"
    # this installation's id, the prefix of every client order id
    INSTALLATION_ID = "installation_id"
    # bumped when stored history is replaced, so cached statistics are rebuilt
    HISTORY_EPOCH = "history_epoch"


MODE_KEY = SettingKey.TRADING_MODE
HALTED_KEY = SettingKey.HALTED
HALT_REASON_KEY = SettingKey.HALT_REASON
HALT_CAUSE_KEY = SettingKey.HALT_CAUSE
HALT_ACTION_KEY = SettingKey.HALT_ACTION
HALT_ACK_KEY = SettingKey.HALT_ACKNOWLEDGED


def get_setting(session: Session, key: SettingKey | str) -> Setting | None:
    return session.get(Setting, str(key))


# the rows of some keys, read lean (built once: its compiled form is reused)
_SETTINGS = Setting.__table__
_READ = select(
    _SETTINGS.c.key, _SETTINGS.c.value, _SETTINGS.c.updated_at, _SETTINGS.c.updated_by
).where(_SETTINGS.c.key.in_(bindparam("keys", expanding=True)))


def read_settings(session: Session, keys: Iterable[SettingKey | str]) -> dict[str, Row[Any]]:
    """``{key: row}`` (``value``, ``updated_at``, ``updated_by``) of the keys that are stored,
    in one statement: for reads (the watchdog and the trading loop read the halt flag, its
    reason, cause and action at every pass); ``get_setting`` for a row to change."""
    session.flush()  # a change this session made but did not flush yet is read too
    rows = session.connection().execute(_READ, {"keys": [str(key) for key in keys]})
    return {row.key: row for row in rows}


def read_setting(session: Session, key: SettingKey | str) -> Row[Any] | None:
    """One key's row for reading (see ``read_settings``), or None."""
    return read_settings(session, (key,)).get(str(key))


def put_setting(
    session: Session, key: SettingKey | str, value: str, now: datetime, by: str
) -> None:
    row = session.get(Setting, str(key))
    if row is None:
        session.add(Setting(key=str(key), value=value, updated_at=now, updated_by=by))
    else:
        row.value, row.updated_at, row.updated_by = value, now, by
    session.flush()


def seed_defaults(session: Session, mode: TradingMode, now: datetime) -> bool:
    """First start: store the mode from configuration and 'not halted'. True if seeded.

    A new database never starts in LIVE: LIVE comes only through the pre-live checklist
    (``Controls.set_mode``), which needs days of PAPER history this database cannot have."""
    if get_setting(session, MODE_KEY) is not None:
        return False
    if mode is TradingMode.LIVE:
        raise ConfigError(
            [
                (
                    "TRADING_MODE",
                    mode.value,
                    "a new database starts in PAPER: LIVE needs the pre-live checklist (days "
                    "of PAPER trading first); start without TRADING_MODE, then `helios mode "
                    "LIVE --by NAME --confirm-monitoring NAME`",
                )
            ]
        )
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
