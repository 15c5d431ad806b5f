"""``hx.metrics.profit`` on a real SQLite file and a real PostgreSQL database: positions opened
and closed through ``hx.positions`` around the trading-day zone's midnight, snapshots taken by
``hx.ledger``, and the table read back from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

import helios
from helios.clock import ManualClock
from helios.errors import InvalidInput
from tests.factories import PRICES, SEED_REASONING, SEED_TRADE, give_market, position


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def opened(hx: helios.Helios, pair: str) -> int:
    for name, value in PRICES.items():
        hx.market.set_price(name, value)  # fresh prices at this clock time
    done = hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)
    assert done["success"], done
    return int(done["position_id"])


def closed(hx: helios.Helios, position_id: int, pair: str, price: str) -> Decimal:
    hx.market.set_price(pair, price)
    assert hx.positions.close_position(position_id, "CLOSED", actor="test")["success"]
    pnl = position(hx, position_id).realized_pnl
    assert pnl is not None
    return pnl


def test_the_daily_table_follows_the_zone_and_the_snapshots(hx: helios.Helios, clock: ManualClock):
    # the clock starts on Thursday 2026-11-26 10:00 SAST (conftest)
    give_market(hx)
    hx.ledger.take_snapshot()
    first_equity = hx.ledger.valuation().equity
    clock.set(at(2026, 11, 27, 10))
    hx.ledger.take_snapshot()  # the day roll
    one = opened(hx, "BTCZAR")
    two = opened(hx, "ETHZAR")
    still_open = opened(hx, "SOLZAR")
    clock.set(at(2026, 11, 27, 21, 30))  # Friday 23:30 SAST
    win = closed(hx, one, "BTCZAR", "1236000")
    clock.set(at(2026, 11, 27, 21, 45))
    hx.ledger.take_snapshot()
    friday_close = hx.ledger.valuation().equity
    clock.set(at(2026, 11, 27, 22, 30))  # Saturday 00:30 SAST: the next trading day
    loss = closed(hx, two, "ETHZAR", "58800")
    assert win > 0 > loss
    clock.set(at(2026, 11, 28, 8))

    table = hx.metrics.profit("daily", 3)

    assert table.zone == "Africa/Johannesburg"
    assert [(r.start, r.pnl, r.trades, r.wins) for r in table.rows] == [
        (date(2026, 11, 28), loss, 1, 0),
        (date(2026, 11, 27), win, 1, 1),
        (date(2026, 11, 26), Decimal(0), 0, 0),
    ]
    saturday, friday, thursday = table.rows
    assert saturday.starting_equity == friday_close  # the snapshot at 23:45 SAST
    assert saturday.pnl_pct == pytest.approx(float(loss / friday_close))
    assert friday.starting_equity == first_equity  # Thursday's snapshot
    assert friday.pnl_pct == pytest.approx(float(win / first_equity))
    assert friday.win_rate == 1.0
    assert thursday.starting_equity == hx.settings.initial_capital_zar  # before any snapshot
    assert position(hx, still_open).status == "OPEN"  # open: in no row

    weekly = hx.metrics.profit("weekly", 2)
    assert [(r.start, r.pnl, r.trades) for r in weekly.rows] == [
        (date(2026, 11, 23), win + loss, 2),
        (date(2026, 11, 16), Decimal(0), 0),
    ]
    assert weekly.rows[0].win_rate == 0.5
    monthly = hx.metrics.profit("monthly", 1)
    assert monthly.rows[0].start == date(2026, 11, 1) and monthly.rows[0].trades == 2


def test_bad_requests_are_refused_with_the_field_and_range(hx: helios.Helios):
    with pytest.raises(InvalidInput, match=r"period='hourly'.*one of daily, weekly, monthly"):
        hx.metrics.profit("hourly", 3)
    with pytest.raises(InvalidInput, match=r"count=400.*from 1 to 366"):
        hx.metrics.profit("daily", 400)


def test_a_year_of_days_reads_one_equity_per_period(hx: helios.Helios, clock: ManualClock):
    """366 periods: every start's equity found (batched lookups), oldest at the initial capital."""
    for days in (300, 100, 1):
        clock.set(at(2026, 11, 26, 8) - timedelta(days=days))
        hx.ledger.take_snapshot()
    clock.set(at(2026, 11, 26, 8))
    table = hx.metrics.profit("daily", 366)
    assert len(table.rows) == 366
    assert table.rows[-1].start == date(2026, 11, 26) - timedelta(days=365)
    assert {r.starting_equity for r in table.rows} == {hx.settings.initial_capital_zar}
    assert table.total_pnl == 0 and table.trades == 0
