"""Opening is check-and-reserve in one transaction: two traders cannot both use the same room
under a limit, whether they open one after the other (the first still being opened) or at the
same instant from two processes."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from decimal import Decimal

from factories import connect_book, give_market
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import Position

# 15% of a R100,000 book each: alone under the 20% single-position limit, together over it
HALF_ROOM = {"position_size_zar": 15000, "leverage": 1.0}


def book(database_url: str, clock: ManualClock) -> helios.Helios:
    """The seed's book with its market, and the correlation limit at 1.0: adding to a BTCZAR
    long correlates 1.0 with it, and these tests are about the single-position room alone."""
    hx = connect_book(database_url, clock)
    give_market(hx)
    hx.risk.update_limits({"max_correlation_threshold": 1.0}, changed_by="test")
    return hx


def test_a_position_still_being_opened_counts_against_the_next_check(
    database_url: str, clock: ManualClock
):
    with book(database_url, clock) as hx:

        def reserve(session, risk, params, inputs):  # type: ignore[no-untyped-def]
            # what open_position writes: the position, OPENING, while its order is being sent
            session.add(
                Position(
                    pair="BTCZAR",
                    side="BUY",
                    status="OPENING",
                    mode="PAPER",
                    position_size_zar=Decimal("15000"),
                    leverage=Decimal("1"),
                    stop_loss_pct=Decimal("0.02"),
                    take_profit_pct=Decimal("0.06"),
                    max_holding_hours=Decimal("72"),
                    risk_decision_id=risk.decision_id,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
            return "reserved"

        first, reserved = hx.risk.decide_and_reserve("BTCZAR", "BUY", HALF_ROOM, reserve)
        second = hx.risk.check_trade_risk("BTCZAR", "BUY", HALF_ROOM)
        assert (first.passed, reserved) == (True, "reserved")
        assert second.passed is False
        assert second.violated_limits == ["max_single_position_pct"]
        assert "R30,000.00" in second.reason  # 15,000 reserved + 15,000 new


def test_a_refused_trade_reserves_nothing(database_url: str, clock: ManualClock):
    with book(database_url, clock) as hx:
        calls = []
        result, reserved = hx.risk.decide_and_reserve(
            "BTCZAR", "BUY", {"position_size_zar": 25000}, lambda *args: calls.append(args)
        )
        assert (result.passed, reserved, calls) == (False, None, [])
        assert result.decision_id is not None  # the refusal is on record


def _opener(url: str, now: datetime, barrier, results) -> None:  # type: ignore[no-untyped-def]
    import os

    os.environ["HELIOS_ENV_FILE"] = ""
    with helios.connect(
        url, market_feed="manual", clock=ManualClock(now), paper_slippage_pct=0
    ) as hx:
        barrier.wait(timeout=60)
        outcome = hx.positions.open_position("BTCZAR", "BUY", HALF_ROOM, "race")
        results.put((outcome["success"], outcome.get("violated_limits")))


def test_two_processes_opening_at_once_cannot_both_take_the_last_room(
    database_url: str, clock: ManualClock
):
    with book(database_url, clock) as hx:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        results = context.Queue()
        workers = [
            context.Process(target=_opener, args=(database_url, clock.now(), barrier, results))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        outcomes = sorted([results.get(timeout=120) for _ in workers], key=str)
        for worker in workers:
            worker.join(timeout=30)
        assert outcomes == [(False, ["max_single_position_pct"]), (True, None)]
        with hx.db.read() as session:
            statuses = session.scalars(select(Position.status)).all()
        assert statuses == ["OPEN"]
        hx.ledger.check()
