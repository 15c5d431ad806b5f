"""When an automatic halt that a person resumed may halt again: the re-arming rule.

A resume acknowledges the episode in force: each automatic condition true at that moment is
acknowledged with the time of the resume, so the watchdog does not halt again at once for what
the person has just looked at. Then, per trigger:

- **it re-arms as soon as its condition clears** (the next watchdog pass that finds it false
  forgets the acknowledgement; a return is a new episode and halts at once);
- **a condition still true a full trigger period after the resume halts again**, recorded as a
  new episode: ``stale_price`` after ``HALT_STALE_PRICE_SECONDS`` (a feed that stayed dead for a
  whole period after the resume is a new hour without prices), ``exchange_errors`` after
  ``HALT_EXCHANGE_ERROR_WINDOW_SECONDS`` (the window then holds only errors made after the
  resume);
- ``drawdown`` and ``daily_loss`` have no period: while they stay true, checks 1 and 2 refuse
  every opening trade, so nothing new is put at risk, and halting again would only close the
  positions the person chose to keep; they re-arm when they clear (a new peak, the next trading
  day);
- ``reconciliation`` has its own rule (``helios.reconciliation``): an acknowledged difference
  halts again if it grows by more than the threshold.

Pure: the watchdog (``hx.halts.check``) reads the acknowledgements and the conditions and writes
what this returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from helios.config import Settings

# the setting that is each time-based trigger's period
PERIOD_SETTINGS = {
    "stale_price": "halt_stale_price_seconds",
    "exchange_errors": "halt_exchange_error_window_seconds",
}


def rearm_periods(settings: Settings) -> dict[str, timedelta]:
    """The period after a resume at which a still-true condition halts again, per trigger."""
    return {
        trigger: timedelta(seconds=float(getattr(settings, name)))
        for trigger, name in PERIOD_SETTINGS.items()
    }


@dataclass(frozen=True)
class Rearming:
    """What a watchdog pass does with the acknowledgements: those that stand, and the triggers
    whose acknowledged episode is over (each with the resume time it outlasted)."""

    acknowledged: dict[str, datetime]
    new_episodes: dict[str, datetime]


def rearm(
    acknowledged: Mapping[str, datetime],
    in_force: set[str],
    now: datetime,
    periods: Mapping[str, timedelta],
) -> Rearming:
    """Acknowledgements of conditions no longer in force are dropped (re-armed); those in force
    for a full period since their resume end as a new episode; the rest stand."""
    kept: dict[str, datetime] = {}
    over: dict[str, datetime] = {}
    for trigger, since in acknowledged.items():
        if trigger not in in_force:
            continue
        period = periods.get(trigger)
        if period is not None and now - since >= period:
            over[trigger] = since
        else:
            kept[trigger] = since
    return Rearming(kept, over)
