"""The daily-loss check never measures from yesterday's start (the scheduler was down over
midnight, so the day roll has not run yet)."""

from __future__ import annotations

from factories import connect_book, give_market

from helios.clock import ManualClock


def test_a_loss_since_midnight_fails_check_2_before_the_day_roll(
    database_url: str, clock: ManualClock
):
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        hx.risk.update_limits({"max_correlation_threshold": 1.0}, changed_by="test")
        opened = hx.positions.open_position("BTCZAR", "BUY", {"position_size_zar": 20000}, "")
        assert opened["success"] is True
        # 23:55 in Johannesburg: the last snapshot of the day, equity about R99,930
        clock.set(clock.now().replace(hour=21, minute=55))
        before_midnight = hx.take_snapshot().equity
        # 00:30: BTC has fallen 30% since, no snapshot and no day roll yet
        clock.advance(minutes=35)
        hx.market.set_price("BTCZAR", 840000)
        result = hx.risk.check_trade_risk("ETHZAR", "BUY", {"position_size_zar": 1000})
        daily = result.checks[1]
        assert daily.name == "daily_loss" and daily.passed is False
        expected = 1 - float(hx.ledger.valuation().equity) / float(before_midnight)
        assert abs(daily.value - expected) < 1e-9
        assert expected > 0.05
        # 6% below the peak is within the 15% drawdown limit: only the daily loss fails
        assert result.violated_limits == ["daily_loss_limit_pct"]
