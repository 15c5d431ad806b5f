"""Two processes close the same position at the same instant, 200 times: exactly one wins.

This is the scheduler's stop monitor and a person pressing Close on the dashboard. Each is a
separate process (``multiprocessing`` with the "spawn" start method: nothing shared but the
database) with its own ``helios.connect``. For each round the test opens the seed's R903 BTCZAR
buy, hands its id to both, and a barrier releases them into ``close_position`` together: the
dashboard closes it CLOSED, the monitor TIMEOUT, so the final status names the winner.

Every round must end with exactly one success, one CLOSE order in our records, one order on the
(paper) venue and one realized P&L; the loser is told "already closing/closed" and sends nothing.
With no price move each round realizes exactly both fees: -2 x 903 x 0.35% = -R6.321.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from factories import SEED_REASONING, SEED_TRADE, connect_book, give_market
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import LedgerEntry, Order, PaperVenueOrder, Position

D = Decimal
ROUNDS = 200
CLOSERS = {"dashboard": "CLOSED", "monitor": "TIMEOUT"}


def closer(
    database_url: str,
    start: datetime,
    name: str,
    reason: str,
    jobs: Any,
    results: Any,
    barrier: Any,
) -> None:
    """A long-lived process: for each position id it is given, wait for the other closer at
    the barrier, then close that position, and report what ``close_position`` answered."""
    with helios.connect(
        database_url, clock=ManualClock(start), market_feed="manual", paper_slippage_pct="0"
    ) as hx:
        results.put((name, "ready", None))
        while (position_id := jobs.get()) is not None:
            barrier.wait(timeout=60)
            try:
                outcome = hx.positions.close_position(position_id, reason, actor=name)
            except Exception as exc:  # reported to the test, never swallowed
                outcome = {"success": False, "exception": f"{type(exc).__name__}: {exc}"}
            results.put((name, position_id, outcome))


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        yield hx


def test_two_processes_closing_one_position_at_once_close_it_exactly_once_200_times(
    book: helios.Helios, database_url: str, clock: ManualClock
):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(CLOSERS))
    results = context.Queue()
    jobs = {name: context.Queue() for name in CLOSERS}
    workers = [
        context.Process(
            target=closer,
            args=(database_url, clock.now(), name, reason, jobs[name], results, barrier),
            daemon=True,
        )
        for name, reason in CLOSERS.items()
    ]
    for worker in workers:
        worker.start()

    def collect(count: int) -> list[tuple[str, Any, Any]]:
        got = []
        for _ in range(count):
            try:
                got.append(results.get(timeout=60))
            except queue.Empty:
                alive = [w.is_alive() for w in workers]
                pytest.fail(f"a closer did not answer within 60 s (alive: {alive})")
        return got

    try:
        assert sorted(name for name, _, _ in collect(len(CLOSERS))) == sorted(CLOSERS)
        winners: Counter[str] = Counter()
        began = time.monotonic()
        for round_number in range(ROUNDS):
            opened = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
            assert opened["success"] is True, (round_number, opened)
            position_id = opened["position_id"]
            for name in CLOSERS:
                jobs[name].put(position_id)
            answers = {name: outcome for name, pid, outcome in collect(len(CLOSERS))}
            won = [name for name, outcome in answers.items() if outcome["success"]]
            assert len(won) == 1, (round_number, answers)
            [winner] = won
            [loser] = [name for name in CLOSERS if name != winner]
            winners[winner] += 1
            assert answers[winner]["realized_pnl"] == D("-6.321"), answers
            assert answers[winner]["status"] == CLOSERS[winner]
            assert "already closing/closed" in answers[loser]["reason"], answers
        elapsed = time.monotonic() - began
    finally:
        for name in CLOSERS:
            jobs[name].put(None)
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()

    assert [worker.exitcode for worker in workers] == [0, 0]
    print(f"\n{ROUNDS} races in {elapsed:.1f} s; winners {dict(winners)}")
    # a real race: each side won some rounds (about half each on SQLite and PostgreSQL)
    assert set(winners) == set(CLOSERS), winners
    with book.db.read() as session:
        statuses = Counter(session.scalars(select(Position.status)))
        assert statuses == {
            "CLOSED": winners["dashboard"],
            "TIMEOUT": winners["monitor"],
        }
        close_orders = Counter(
            session.scalars(select(Order.position_id).where(Order.action == "CLOSE"))
        )
        assert len(close_orders) == ROUNDS and set(close_orders.values()) == {1}
        venue = list(session.scalars(select(PaperVenueOrder.client_order_id)))
        assert len(venue) == 2 * ROUNDS == len(set(venue))
        assert sum(1 for coid in venue if coid.endswith("-CLOSE-1")) == ROUNDS
        releases = Counter(
            session.scalars(
                select(LedgerEntry.position_id).where(LedgerEntry.kind == "MARGIN_RELEASE")
            )
        )
        assert len(releases) == ROUNDS and set(releases.values()) == {1}
        # added in Python: SQLite's SUM() would turn the exact text values into a float
        realized = list(session.scalars(select(Position.realized_pnl)))
        assert realized == [D("-6.321")] * ROUNDS
    valuation = book.ledger.check()
    assert valuation.cash == D("100000") - D("6.321") * ROUNDS
    assert valuation.margin == D("0")
