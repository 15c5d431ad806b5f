"""The alert webhook down for five minutes under a real scheduler killed and restarted half-way,
on SQLite: tests/alert_outage.py has the scenario and what it shows. One database per
file, so the two runs go to two xdist workers (``--dist loadfile``); PostgreSQL's is 90 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alert_outage import run_outage

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_alert_arrives_once_after_a_five_minute_outage_and_trading_keeps_its_timing(
    database_url: str, tmp_path: Path
) -> None:
    run_outage(database_url, tmp_path)
