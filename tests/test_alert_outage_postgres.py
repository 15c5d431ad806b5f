"""The alert outage scenario (tests/alert_outage.py) on PostgreSQL: the webhook down for 90 s
under a real scheduler killed and restarted half-way. The issue's five minutes run on SQLite
(tests/test_alert_outage_sqlite.py); here the same scenario proves the same on the other
database in a third of the time, so the suite stays within its CI budget
(``HELIOS_ALERT_OUTAGE_SECONDS`` sets both, e.g. 300 for the full five minutes here too).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alert_outage import OUTAGE_SECONDS, run_outage

pytestmark = pytest.mark.slow
SECONDS = OUTAGE_SECONDS if "HELIOS_ALERT_OUTAGE_SECONDS" in os.environ else 90.0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_every_alert_arrives_once_after_an_outage_and_trading_keeps_its_timing(
    database_url: str, tmp_path: Path
) -> None:
    run_outage(database_url, tmp_path, seconds=SECONDS)
