"""The pair locks' pure rules (``helios.pair_locks``): the lock in force, the automatic lock
after losing stop-outs within a window, and the bounds of a lock's duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from helios.errors import InvalidInput
from helios.pair_locks import (
    AutoLockPolicy,
    LockView,
    StopOut,
    auto_lock,
    check_hours,
    lock_in_force,
    refusal,
    remaining,
)

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
POLICY = AutoLockPolicy(after_stops=3, window_hours=6, lock_hours=12)


def lock(
    lock_id: int, start_h: float, end_h: float, pair: str = "BTCZAR", lifted_h: float | None = None
) -> LockView:
    return LockView(
        id=lock_id,
        pair=pair,
        starts_at=NOW + timedelta(hours=start_h),
        ends_at=NOW + timedelta(hours=end_h),
        reason=f"reason {lock_id}",
        by="alice",
        lifted_at=NOW + timedelta(hours=lifted_h) if lifted_h is not None else None,
        lifted_by="bob" if lifted_h is not None else None,
    )


def stop(position_id: int, hours_ago: float, pnl: str = "-25", pair: str = "BTCZAR") -> StopOut:
    return StopOut(position_id, pair, NOW - timedelta(hours=hours_ago), Decimal(pnl))


def test_the_lock_in_force_is_the_latest_ending_active_lock_of_the_pair():
    locks = [
        lock(1, -1, 2),
        lock(2, -2, 5),  # ends latest: in force
        lock(3, -1, 9, lifted_h=-0.5),  # lifted: holds nothing
        lock(4, 1, 20),  # starts later
        lock(5, -1, 30, pair="ETHZAR"),
    ]
    assert lock_in_force(locks, "BTCZAR", NOW) == locks[1]
    assert lock_in_force(locks, "ETHZAR", NOW) == locks[4]
    assert lock_in_force(locks, "SOLZAR", NOW) is None


def test_a_lock_ends_by_itself_at_its_end_time():
    held = lock(1, -1, 2)
    assert lock_in_force([held], "BTCZAR", NOW + timedelta(hours=2) - timedelta(seconds=1))
    assert lock_in_force([held], "BTCZAR", NOW + timedelta(hours=2)) is None
    assert held.status(NOW + timedelta(hours=2)) == "expired"
    assert held.status(NOW) == "active"


def test_the_refusal_names_the_pair_the_end_in_the_trading_day_zone_who_and_why():
    text = refusal(lock(7, -1, 3.5), "Africa/Johannesburg")
    # 18:00 UTC + 3.5 h = 21:30 UTC = 23:30 SAST
    assert text == "Pair BTCZAR is locked until 2026-12-06 23:30 SAST (lock 7, by alice): reason 7"
    assert remaining(lock(7, -1, 3.5), NOW) == "3 h 30 min"
    assert remaining(lock(7, -1, 0.01), NOW) == "36 s"


@pytest.mark.parametrize("hours", [0, -1, 720.5, "x", None, float("nan"), float("inf"), True])
def test_hours_outside_0_to_720_are_refused_naming_the_field_and_range(hours: object):
    with pytest.raises(InvalidInput) as caught:
        check_hours(hours)
    assert caught.value.field == "hours"
    assert "more than 0 and at most 720" in caught.value.allowed


def test_hours_within_the_range_are_taken():
    assert check_hours("6") == 6.0
    assert check_hours(0.001) == 0.001
    assert check_hours(720) == 720.0


def test_three_losing_stop_outs_within_the_window_lock_the_pair_for_lock_hours():
    due = auto_lock("BTCZAR", [stop(1, 5), stop(2, 3), stop(3, 0)], [], POLICY, NOW)
    assert due is not None
    assert (due.starts_at, due.ends_at) == (NOW, NOW + timedelta(hours=12))
    assert due.position_ids == (1, 2, 3)
    assert "3 losing stop-outs on BTCZAR within 6 h (positions 1, 2, 3" in due.reason


def test_stop_outs_outside_the_window_or_of_another_pair_or_in_profit_do_not_count():
    stops = [
        stop(1, 7),  # outside the 6 h window
        stop(2, 3),
        stop(3, 0),
        stop(4, 1, pair="ETHZAR"),
        stop(5, 2, pnl="4.10"),  # a trailing stop closed in profit
        StopOut(6, "BTCZAR", NOW - timedelta(hours=1), None),  # no P&L known
    ]
    assert auto_lock("BTCZAR", stops, [], POLICY, NOW) is None
    assert auto_lock("BTCZAR", [*stops, stop(7, 0.5)], [], POLICY, NOW) is not None


def test_no_automatic_lock_while_a_lock_holds_the_pair_nor_from_stop_outs_before_its_end():
    stops = [stop(1, 5), stop(2, 3), stop(3, 0)]
    assert auto_lock("BTCZAR", stops, [lock(9, -1, 1)], POLICY, NOW) is None
    # a lock lifted 4 h ago: only the stop-outs after its end count (2 of them)
    assert auto_lock("BTCZAR", stops, [lock(9, -6, 6, lifted_h=-4)], POLICY, NOW) is None
    # a lock of another pair changes nothing
    assert auto_lock("BTCZAR", stops, [lock(9, -1, 1, pair="ETHZAR")], POLICY, NOW) is not None


def test_zero_stops_disables_the_automatic_lock():
    off = AutoLockPolicy(after_stops=0, window_hours=6, lock_hours=12)
    assert auto_lock("BTCZAR", [stop(i, 1) for i in range(10)], [], off, NOW) is None
