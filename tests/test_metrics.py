"""``hx.metrics``: the seed's weekly checks, against numbers worked by hand."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from factories import PRICES, booked_position, connect_book
from sqlalchemy import update

import helios
from helios.clock import ManualClock
from helios.db.models import PortfolioSnapshot, Position
from helios.errors import InvalidInput
from helios.metrics import daily_returns, max_drawdown, sharpe, sortino

D = Decimal


def test_daily_returns_take_the_last_equity_of_each_utc_day():
    ts = pd.to_datetime(
        ["2026-11-20 08:00", "2026-11-20 23:00", "2026-11-21 12:00", "2026-11-23 01:00"], utc=True
    )
    returns = daily_returns(ts, [100.0, 110.0, 99.0, 108.9])
    # days: 20th closes 110, 21st 99 (-10%), 23rd 108.9 (+10%); the 22nd had no snapshot
    assert list(returns.round(12)) == [-0.1, 0.1]


def test_sharpe_and_sortino_by_hand():
    returns = pd.Series([0.01, -0.02, 0.03, 0.0])
    rf = 0.0
    mean = 0.005
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)
    assert sharpe(returns, rf, 365) == pytest.approx(mean / std * math.sqrt(365))
    downside = math.sqrt((0.02**2) / 4)
    assert sortino(returns, rf, 365) == pytest.approx(mean / downside * math.sqrt(365))
    # no dispersion or no losing day: undefined, not infinite
    assert sharpe(pd.Series([0.01, 0.01]), 0.0, 365) is None
    assert sortino(pd.Series([0.01, 0.02]), 0.0, 365) is None
    assert sharpe(pd.Series([0.01]), 0.0, 365) is None


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak():
    assert max_drawdown([100, 120, 90, 130, 117]) == pytest.approx(0.25)
    assert max_drawdown([]) == 0.0


def test_the_weekly_review_of_a_week_of_trading(database_url: str, clock: ManualClock):
    """Four closed positions (one stop, two targets, one timeout) over a week of snapshots."""
    start = clock.now()
    with connect_book(database_url, clock) as hx:
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        closes = [
            ("BTCZAR", "STOPPED_OUT", "-18.06"),
            ("BTCZAR", "TAKE_PROFIT", "54.18"),
            ("ETHZAR", "TAKE_PROFIT", "20.00"),
            ("SOLZAR", "TIMEOUT", "-3.50"),
        ]
        ids = [booked_position(hx, pair, "BUY", "903", "1") for pair, _, _ in closes]
        # their ends, written as the position manager would record them (the ledger's own
        # arithmetic is tested elsewhere; here the review's sums are the point)
        for pid, (_, status, pnl) in zip(ids, closes, strict=True):
            clock.advance(hours=1)
            with hx.db.write() as session:
                session.execute(
                    update(Position)
                    .where(Position.id == pid)
                    .values(status=status, realized_pnl=D(pnl), closed_at=clock.now())
                )
        equities = [100000, 101000, 99990, 102000, 101000, 103000, 103000]
        for day, equity in enumerate(equities):
            with hx.db.write() as session:
                session.add(
                    PortfolioSnapshot(
                        ts=start + timedelta(days=day, hours=12),
                        mode="PAPER",
                        equity=D(equity),
                        cash=D(equity),
                        margin=D(0),
                        unrealized_pnl=D(0),
                        gross_exposure=D(0),
                        peak_equity=D(max(equities[: day + 1])),
                        start_of_day_equity=D(equity),
                        drawdown=D(1 - equity / max(equities[: day + 1])),
                        daily_pnl=D(0),
                        daily_loss=D("0.06") if day == 2 else D(0),  # one day over the 5% limit
                        leverage=D(0),
                        open_positions=0,
                        halted=False,
                    )
                )
        clock.advance(days=7)
        hx.controls.emergency_stop("thandi", "drill")
        review = hx.metrics.review(start, clock.now())

    assert review["closed_positions"] == 4
    assert review["exits"] == {
        "STOPPED_OUT": 1,
        "TAKE_PROFIT": 2,
        "TIMEOUT": 1,
        "EMERGENCY_CLOSE": 0,
        "CLOSED": 0,
    }
    assert review["hit_rates"]["TAKE_PROFIT"] == 0.5 and review["hit_rates"]["TIMEOUT"] == 0.25
    assert review["win_rate"] == 0.5
    assert review["realized_pnl"] == D("52.62")
    assert review["pnl_by_pair"]["BTCZAR"] == {
        "positions": 2,
        "realized_pnl": D("36.12"),
        "wins": 1,
    }
    assert review["pnl_by_exit"]["TAKE_PROFIT"]["realized_pnl"] == D("74.18")
    assert review["average_position_size_zar"] == D("903")
    assert review["risk_limit_violations"] == {
        "max_drawdown_pct": 0,
        "daily_loss_limit_pct": 1,
        "max_leverage": 0,
    }
    assert review["emergency_stops"] == 1
    assert review["daily_returns"] == 6
    returns = pd.Series(equities, dtype=float).pct_change().dropna()
    rf = 0.07 / 365
    expected = float((returns - rf).mean()) / float(returns.std(ddof=1)) * math.sqrt(365)
    assert review["sharpe"] == pytest.approx(expected)
    assert review["max_drawdown"] == pytest.approx(1 - 99990 / 101000)


def test_an_empty_period_says_none_rather_than_zero(hx: helios.Helios, clock: ManualClock):
    review = hx.metrics.review(clock.now() - timedelta(days=7))
    assert review["closed_positions"] == 0
    assert review["win_rate"] is None and review["hit_rates"]["STOPPED_OUT"] is None
    assert review["sharpe"] is None and review["sortino"] is None
    assert review["realized_pnl"] == 0


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("last week", None, "start"),
        ("2026-11-20T00:00:00", None, "start"),  # no zone
        ("2026-11-27T00:00:00Z", "2026-11-20T00:00:00Z", "end"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(hx: helios.Helios, start, end, field):
    with pytest.raises(InvalidInput) as caught:
        hx.metrics.review(start, end)
    assert caught.value.field == field
