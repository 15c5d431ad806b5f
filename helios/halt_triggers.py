"""The automatic-halt triggers (L2, pure): their names and what a breach in force says.

``Breach`` is what a trigger reports (the trigger, a message, the figures behind it); the
watchdog (``helios.halts``) acts on it, and a service that finds one elsewhere (the LIVE
reconciliation) reports it through a callable it is given, never by importing the halts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RECONCILIATION = "reconciliation"  # VALR's balances disagree with the ledger (LIVE)

TRIGGERS = (
    "drawdown",
    "daily_loss",
    "stale_price",
    "database_lost",
    "exchange_errors",
    RECONCILIATION,
)
WATCHDOG = "watchdog"


@dataclass(frozen=True)
class Breach:
    """An automatic-halt condition in force, with the figures behind it."""

    trigger: str
    message: str
    figures: dict[str, Any]
