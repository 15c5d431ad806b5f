"""The history epoch: a counter of changes to completed days' candles.

Statistics fitted on completed days (the risk service's volatility and covariance, the
optimizer's inputs) are cached; they are current while this counter and the date stand, so a
write that changes a completed day's candle (a backfill, a late bar) bumps it and every process
refits on its next read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from helios.db.models import Setting
from helios.settings_store import SettingKey

HISTORY_EPOCH_KEY = SettingKey.HISTORY_EPOCH


def bump_history_epoch(session: Session, now: datetime, times: int = 1) -> None:
    """Count a change to completed days' candles (``times`` changes, the last at ``now``: a
    write of several moments). Statistics fitted on completed days (the risk service's
    volatility and covariance) are current while this counter and the date stand."""
    row = session.get(Setting, HISTORY_EPOCH_KEY)
    if row is None:
        session.add(
            Setting(key=HISTORY_EPOCH_KEY, value=str(times), updated_at=now, updated_by="market")
        )
    else:
        row.value, row.updated_at = str(int(row.value) + times), now
