"""This database's installation id: a short random id, part of every client order id.

Two Helios databases trading one exchange account must never produce the same client order id
(the exchange would take a new order for a resend of the other's), so each database draws its
own id once, keeps it in the settings store, and every later process reads the same one.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from helios.clock import Clock
from helios.db.engine import Database
from helios.settings_store import SettingKey, get_setting, put_setting

INSTALLATION_KEY = SettingKey.INSTALLATION_ID


def seed_installation_id(session: Session, now: datetime) -> str:
    """A short random id for this database, part of every client order id."""
    setting = get_setting(session, INSTALLATION_KEY)
    if setting is not None:
        return setting.value
    value = secrets.token_hex(3)
    put_setting(session, INSTALLATION_KEY, value, now, "configuration")
    return value


class Installation:
    """The installation id, read (or drawn) once per process and then remembered."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._id: str | None = None

    def id(self) -> str:
        if self._id is None:
            with self._db.write() as session:
                self._id = seed_installation_id(session, self._clock.now())
        return self._id
