"""A process killed (SIGKILL: no cleanup, no ``finally``) at each point between "order sent" and
"position recorded", then a restart and ``hx.positions.reconcile()``: no position is lost, no
order is sent twice, and the books agree.

For each point in ``helios.faults.POINTS`` a child process runs with ``HELIOS_CRASH_AT`` naming
it, on the test's database, and dies there:

- ``open:*``: the child opens the seed's R903 BTCZAR buy at R1,200,000;
- ``close:*``: the test opened that buy; BTC dipped through the R1,176,000 stop and came back to
  R1,190,000; the child's monitor pass stops it out (the close order carries the stop, so the
  paper fill is no better than R1,176,000).

The test process then plays the restarted process: it reconciles, first inside the 30 s grace
(the owner may still be alive: nothing is touched), then after it. ``sent_now`` says whether the
order had to be sent (the exchange never saw it) or was only recorded (the exchange had it).

    the buy: 0.0007525 BTC at R1,200,000, fee R3.1605, cash 100,000 - 903 - 3.1605 = 99,093.8395
    stopped out at R1,176,000: realized -18.06 - 3.1605 - 3.09729 = -24.31779
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from factories import (
    SEED_REASONING,
    SEED_TRADE,
    connect_book,
    count_rows,
    event_kinds,
    give_market,
    orders_of,
    position,
    venue_orders,
)
from sqlalchemy import select

import helios
from helios.clock import ManualClock
from helios.db.models import Position, PositionEvent
from helios.faults import CRASH_ENV, POINTS

D = Decimal
CHILD = """
import sys
from datetime import datetime

import helios
from helios.clock import ManualClock

url, action, now, size = sys.argv[1:]
with helios.connect(
    url, clock=ManualClock(datetime.fromisoformat(now)), market_feed="manual",
    paper_slippage_pct="0",
) as hx:
    if action == "open":
        trade = {"position_size_zar": float(size), "stop_loss_pct": 0.02, "take_profit_pct": 0.06}
        print(hx.positions.open_position("BTCZAR", "BUY", trade, "crash test"))
    else:
        print(hx.positions.monitor_positions())
"""


def run_child(database_url: str, action: str, point: str, now: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_TEST")}
    env.update({"HELIOS_ENV_FILE": "", CRASH_ENV: point})
    size = str(SEED_TRADE["position_size_zar"])
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, action, now, size],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def book(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    with connect_book(database_url, clock) as hx:
        give_market(hx)
        yield hx


def stuck_position(hx: helios.Helios) -> Position:
    with hx.db.read() as session:
        [row] = session.scalars(select(Position))
        return row


@pytest.mark.parametrize("point", POINTS)
def test_a_process_killed_at_each_crash_point_loses_nothing_and_doubles_nothing(
    book: helios.Helios, database_url: str, point: str
):
    action, moment = point.split(":")
    sent_before_crash = moment == "after_send"
    if action == "close":
        position_id = book.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)[
            "position_id"
        ]
        book.clock.advance(timedelta(seconds=20))  # type: ignore[attr-defined]
        book.market.set_price("BTCZAR", "1170000")  # through the stop ...
        book.clock.advance(timedelta(seconds=20))  # type: ignore[attr-defined]
        book.market.set_price("BTCZAR", "1190000")  # ... and back
    crashed_at = book.clock.now()

    child = run_child(
        database_url, "open" if action == "open" else "monitor", point, crashed_at.isoformat()
    )
    out, err = child.communicate(timeout=120)
    assert child.returncode == -9, (out.decode(), err.decode()[-2000:])

    # what the kill left behind: a transitional state with its order intent, books intact
    row = stuck_position(book)
    position_id = row.id
    assert row.status == ("OPENING" if action == "open" else "CLOSING")
    intent = orders_of(book, position_id)[-1]
    assert (intent.action, intent.status) == (action.upper(), "INTENT")
    on_venue = [v.client_order_id for v in venue_orders(book)]
    assert (intent.client_order_id in on_venue) is sent_before_crash
    book.ledger.check()
    [shown] = book.positions.get_open_positions()  # a person sees it, in its state
    assert (shown["position_id"], shown["status"]) == (position_id, row.status)

    # inside the grace period the owner may still be working on it: reconcile leaves it alone
    before = count_rows(book)
    assert book.positions.reconcile() == []
    assert count_rows(book) == before

    book.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    [outcome] = book.positions.reconcile()

    assert outcome["position_id"] == position_id
    assert outcome["success"] is True, outcome
    assert outcome["sent_now"] is (not sent_before_crash)
    assert outcome["was"] == row.status
    row = position(book, position_id)
    venue = venue_orders(book)
    coids = Counter(v.client_order_id for v in venue)
    assert set(coids.values()) == {1}  # one venue order per client order id
    assert sum(1 for v in venue if v.client_order_id.endswith("-OPEN")) == 1
    assert sum(1 for v in venue if "-CLOSE-" in v.client_order_id) == (action == "close")
    assert [(o.action, o.status) for o in orders_of(book, position_id)] == (
        [("OPEN", "FILLED")] if action == "open" else [("OPEN", "FILLED"), ("CLOSE", "FILLED")]
    )
    valuation = book.ledger.check()
    if action == "open":
        assert row.status == "OPEN"
        assert (row.entry_price, row.quantity) == (D("1200000"), D("0.0007525"))
        assert (row.stop_loss_price, row.take_profit_price) == (D("1176000"), D("1272000"))
        # the holding time runs from the fill, not from when the fill was recorded
        fill_time = crashed_at if sent_before_crash else book.clock.now()
        assert row.opened_at == fill_time
        assert valuation.cash == D("99093.8395")
        assert [p.position_id for p in valuation.positions] == [position_id]
    else:
        assert row.status == "STOPPED_OUT"
        assert row.exit_price == D("1176000")  # the resent order carried the stop too
        assert row.realized_pnl == D("-24.31779")
        assert row.closed_at == (crashed_at if sent_before_crash else book.clock.now())
        assert valuation.cash == D("99975.68221")
        assert valuation.positions == []
    kinds = event_kinds(book, position_id)
    assert kinds[-1] == "RECONCILED"
    with book.db.read() as session:
        message = session.scalars(
            select(PositionEvent.message).where(PositionEvent.kind == "RECONCILED")
        ).one()
    assert message.endswith("nothing resent" if sent_before_crash else "sent now")

    # a second reconcile (another process starting) finds nothing to do and changes nothing
    settled = count_rows(book)
    book.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert book.positions.reconcile(grace=timedelta(0)) == []
    assert count_rows(book) == settled
    book.ledger.check()


def test_the_next_process_to_start_settles_a_crashed_open_by_itself(
    book: helios.Helios, database_url: str
):
    """Every process reconciles when it connects: no one has to remember to."""
    crashed_at = book.clock.now()
    child = run_child(database_url, "open", "open:after_send", crashed_at.isoformat())
    child.communicate(timeout=120)
    assert child.returncode == -9
    assert stuck_position(book).status == "OPENING"
    restart = ManualClock(crashed_at + timedelta(seconds=31))
    with helios.connect(database_url, clock=restart, market_feed="manual") as restarted:
        row = stuck_position(restarted)
        assert row.status == "OPEN"
        assert event_kinds(restarted, row.id)[-1] == "RECONCILED"
        assert len(venue_orders(restarted)) == 1  # recorded, not resent
        restarted.ledger.check()
