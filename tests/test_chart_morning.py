"""The chart tests' trading morning (``tests/chart_support.py``) is laid out relative to the real
clock, so it must open every trade whatever the hour the suite runs at. CI failed at about
15:00-17:00 UTC: the morning crosses midnight in the trading-day zone (SAST) at most hours, and
the new day's start was rebuilt from a ledger whose initial capital was booked after that
midnight (the database is made at the real time, the morning before it). The start came out as
the morning's P&L alone: at 15:00-17:00 negative, so every later open was refused "no start-of-day
equity"; at other hours a few rand, a start no trader's account ever had."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

import helios
from helios.clock import ManualClock, trading_day
from helios.db.models import PortfolioState
from tests.chart_support import morning_start, trade_morning

CAPITAL = Decimal("100000")


@pytest.mark.parametrize("hour", [3, 15, 16, 21])
def test_the_morning_opens_every_trade_whatever_the_hour_of_the_run(
    tmp_path: Path, hour: int
) -> None:
    made = datetime(2026, 12, 7, hour, 17, tzinfo=UTC)  # the database made "now", as `seeded`
    url = f"sqlite:///{tmp_path / 'morning.db'}"
    with helios.connect(url, clock=ManualClock(made), market_feed="manual"):
        pass
    clock = ManualClock(morning_start(made))  # as the chart's fixtures
    start = clock.now()
    with helios.connect(url, clock=clock, market_feed="manual") as hx:
        zone = hx.settings.trading_day_timezone
        morning = trade_morning(hx, clock)
        crosses = trading_day(start, zone) != trading_day(clock.now(), zone)
        assert len(morning.ids) == 9  # every open succeeded
        assert crosses == (hour != 21)  # 21:17 UTC lays the morning inside one SAST day
        with hx.db.read() as session:
            state = session.scalars(select(PortfolioState)).one()
        assert state.trading_day == trading_day(clock.now(), zone)
        # the capital (R100,000) plus the morning's P&L on R903 stakes, never the P&L alone
        assert abs(state.start_of_day_equity - CAPITAL) < 100
