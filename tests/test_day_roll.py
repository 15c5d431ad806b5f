"""The trading day rolls at midnight in Johannesburg, and the daily figures never use yesterday's
start when the roll has not happened yet (the scheduler was down over midnight)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import helios
from helios.clock import ManualClock


def test_before_the_roll_the_daily_loss_is_measured_from_the_last_snapshot_before_midnight(
    priced_hx: helios.Helios, clock: ManualClock
):
    hx = priced_hx
    # 23:55 Johannesburg (21:55 UTC): a snapshot at R100,000
    clock.set(clock.now().replace(hour=21, minute=55))
    hx.ledger.take_snapshot()
    # the day before that started at R100,000 too; now lose R6,000 of cash after midnight
    clock.advance(minutes=30)  # 00:25 Johannesburg, no snapshot since midnight
    with hx.db.write() as session:
        from helios.accounts.account import account_state
        from helios.accounts.book import _move_cash

        _move_cash(
            session,
            account_state(session, for_update=True),
            clock.now(),
            "FEE",
            Decimal("-6000"),
            None,
            None,
            "test loss",
        )
    valuation = hx.ledger.valuation()
    assert valuation.start_of_day_equity == Decimal("100000")
    assert valuation.daily_loss == Decimal("0.06")
    # the roll itself (the snapshot job) stores the same start of day
    hx.ledger.take_snapshot()
    assert hx.ledger.valuation().start_of_day_equity == Decimal("100000")


def test_without_any_snapshot_before_midnight_the_roll_starts_the_day_at_the_equity_now(
    priced_hx: helios.Helios, clock: ManualClock
):
    clock.advance(timedelta(days=1))
    valuation = priced_hx.ledger.valuation()
    assert valuation.start_of_day_equity == valuation.equity == Decimal("100000")
