"""Issue 15 items 1 and 6 with real schedulers (``python -m jobs``), SQLite and a private server.

1. A hung leader (SIGSTOP) is replaced: the standby takes over once the leader's lease is older
   than ``LEADER_LEASE_SECONDS`` (on main its advisory lock kept the standby waiting for as long
   as the freeze lasted), closes the position that went past its timeout meanwhile, and records
   why it took over. When the frozen leader wakes (SIGCONT) it is fenced: it writes nothing as
   leader, records that it lost the lead, and stands by.
6. A leader killed between writing a close intent and sending it: the scheduler that takes over
   sends that close at once (the old leader is dead and can send nothing more), not after the
   30 s reconcile grace that is kept for orders another live process may still be sending.

The figures (take-over time, the delay from take-over to the close reaching the venue) are
printed; ``bench/failover.py`` measures them over many runs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from factories import SEED_REASONING, SEED_TRADE, give_market
from private_postgres import PrivatePostgres
from scheduler_process import FAST, SchedulerProcess, wait_for
from sqlalchemy import select, update

import helios
from helios.db.models import Event, Fill, Heartbeat, Lease, Order, Position
from helios.positions.closing import begin_close as _begin_close
from helios.positions.lifecycle import client_order_id, closing_side
from helios.positions.recovery import RECONCILE_GRACE

pytestmark = pytest.mark.slow

LEASE_SECONDS = float(FAST["LEADER_LEASE_SECONDS"])
SLACK_SECONDS = 8.0  # a 2-core machine running the suite beside us


def connect(database_url: str) -> helios.Helios:
    return helios.connect(database_url, market_feed="manual")


def lease(hx: helios.Helios) -> Lease | None:
    with hx.db.read() as session:
        return session.get(Lease, "scheduler")


def holder_pid(hx: helios.Helios) -> int | None:
    row = lease(hx)
    return int(row.holder.split(":")[-2]) if row is not None else None


def heartbeat_pid(hx: helios.Helios, name: str) -> int | None:
    with hx.db.read() as session:
        row = session.get(Heartbeat, name)
        return row.pid if row is not None else None


def events(hx: helios.Helios, kind: str) -> list[Event]:
    with hx.db.read() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def position(hx: helios.Helios, position_id: int) -> Position:
    with hx.db.read() as session:
        found = session.get(Position, position_id)
        assert found is not None
        return found


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_pair(
    database_url: str, tmp_path: Path, **settings: str
) -> tuple[SchedulerProcess, SchedulerProcess]:
    """A leads, B stands by."""
    a = SchedulerProcess(database_url, tmp_path, **settings)
    with connect(database_url) as hx:
        wait_for(lambda: heartbeat_pid(hx, "scheduler") == a.pid, 60, "A to lead", a)
        b = SchedulerProcess(database_url, tmp_path)
        wait_for(lambda: heartbeat_pid(hx, "scheduler-standby") == b.pid, 60, "B to stand by", b)
    return a, b


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database of a process test: a SQLite file, or a private PostgreSQL server of its own
    (``tests/private_postgres.py``: the sessions the standby terminates are this server's)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helios.db'}"
        return
    server = PrivatePostgres()
    try:
        yield server.url
    finally:
        server.close()


def test_a_frozen_leader_is_replaced_fenced_and_stands_by_when_it_wakes(
    place: str, tmp_path: Path
) -> None:
    database_url = place
    with connect(database_url) as hx:
        give_market(hx)
        opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
        assert opened["success"], opened
        position_id = int(opened["position_id"])
    a, b = start_pair(database_url, tmp_path)
    try:
        with connect(database_url) as hx:
            a_holder = lease(hx)
            assert a_holder is not None and holder_pid(hx) == a.pid
            os.killpg(a.process.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            # meanwhile the position goes past its 72 h timeout
            with hx.db.write() as session:
                session.execute(
                    update(Position)
                    .where(Position.id == position_id)
                    .values(opened_at=hx.clock.now() - timedelta(hours=73))
                )
            wait_for(
                lambda: holder_pid(hx) == b.pid,
                LEASE_SECONDS + SLACK_SECONDS,
                "B to take over from the frozen A",
                b,
            )
            took_over = time.monotonic() - frozen_at
            [takeover] = events(hx, "LEADER_TAKEOVER")
            assert a_holder.holder in takeover.message
            assert "stopped renewing its lease" in takeover.message, takeover.message
            if hx.db.dialect == "postgresql":
                assert "database session(s) were terminated (fenced)" in takeover.message
            new = lease(hx)
            assert new is not None and new.epoch == a_holder.epoch + 1
            wait_for(
                lambda: position(hx, position_id).status == "TIMEOUT",
                SLACK_SECONDS,
                "B to close the position past its timeout",
                b,
            )
            print(f"take-over after a freeze: {took_over:.2f} s (lease {LEASE_SECONDS:g} s)")

            # A wakes: fenced, it records the loss and stands by; it writes nothing as leader
            woke = hx.clock.now()
            os.killpg(a.process.pid, signal.SIGCONT)
            wait_for(
                lambda: any(a_holder.holder in e.message for e in events(hx, "LEADER_LOST")),
                SLACK_SECONDS + 5,
                "A to find itself fenced",
                a,
            )
            [lost] = [e for e in events(hx, "LEADER_LOST") if a_holder.holder in e.message]
            new_holder = lease(hx)
            assert new_holder is not None and new_holder.holder in lost.message, lost.message
            wait_for(
                lambda: heartbeat_pid(hx, "scheduler-standby") == a.pid,
                SLACK_SECONDS + 5,
                "A to beat as a standby",
                a,
            )
            time.sleep(2)  # A's coalesced jobs have all run by now
            assert a.alive() and b.alive()
            assert holder_pid(hx) == b.pid
            with hx.db.read() as session:
                late = session.scalars(
                    select(Order).where(Order.sender == a_holder.holder, Order.created_at >= woke)
                ).all()
                fills = session.scalars(
                    select(Fill).join(Order).where(Order.position_id == position_id)
                ).all()
            assert late == [], "the fenced leader wrote orders after waking"
            assert len(fills) == 2  # one open, one close
            hx.ledger.check()
    finally:
        if a.alive():
            os.killpg(a.process.pid, signal.SIGCONT)
        a.stop()
        b.stop()


def test_a_close_interrupted_by_a_dead_leader_is_sent_at_once_by_the_next(
    place: str, tmp_path: Path
) -> None:
    """A's stop monitor writes the close intent and dies before sending it. B takes over and
    sends that close at once: well inside the 30 s grace main waited."""
    database_url = place
    with connect(database_url) as hx:
        give_market(hx)
        opened = hx.positions.open_position("BTCZAR", "BUY", SEED_TRADE, SEED_REASONING)
        assert opened["success"], opened
        position_id = int(opened["position_id"])
        stop = Decimal(str(opened["stop_loss_price"]))
        installation = hx.positions.installation_id()
    a, b = start_pair(database_url, tmp_path, HELIOS_CRASH_AT="close:after_intent")
    try:
        with connect(database_url) as hx:
            hx.market.set_price("BTCZAR", stop * Decimal("0.99"))  # through the stop
            deadline = time.monotonic() + 30
            while a.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not a.alive(), "A did not die at close:after_intent"
            # A left it CLOSING with its close never sent; B may already have taken over and
            # sent it (A's lock is freed at its death): the venue's order, created after the
            # take-over (below), proves B sent it, not A
            assert position(hx, position_id).status in ("CLOSING", "STOPPED_OUT")
            coid = f"HX-{installation}-{position_id}-CLOSE-1"
            wait_for(
                lambda: position(hx, position_id).status == "STOPPED_OUT",
                LEASE_SECONDS + SLACK_SECONDS,
                "B to take over and send the interrupted close",
                b,
            )
            [takeover] = events(hx, "LEADER_TAKEOVER")
            sent = hx.paper_exchange.get_order(coid)
            assert sent is not None and sent.created_at is not None
            delay = (utc(sent.created_at) - utc(takeover.ts)).total_seconds()
            assert 0 <= delay < RECONCILE_GRACE.total_seconds() / 3, delay
            print(f"take-over to the interrupted close at the venue: {delay:.3f} s")
            with hx.db.read() as session:
                closes = session.scalars(
                    select(Order).where(Order.position_id == position_id, Order.action == "CLOSE")
                ).all()
            assert [o.client_order_id for o in closes] == [coid]
            hx.ledger.check()
    finally:
        a.stop()
        b.stop()


def stuck_close(hx: helios.Helios, pair: str, sender: str) -> tuple[int, str]:
    """An open position whose close intent ``sender`` wrote and never sent (CLOSING now)."""
    opened = hx.positions.open_position(pair, "BUY", SEED_TRADE, SEED_REASONING)
    assert opened["success"], opened
    position_id = int(opened["position_id"])
    coid = client_order_id(hx.positions.installation_id(), position_id, "CLOSE", 1)
    now = hx.clock.now()
    with hx.db.write() as session:
        moved, held = _begin_close(session, position_id, "CLOSED", now)
        assert moved and held.quantity is not None
        session.add(
            Order(
                client_order_id=coid,
                position_id=position_id,
                action="CLOSE",
                mode=held.mode,
                pair=held.pair,
                side=closing_side(held.side),
                quantity=held.quantity,
                status="INTENT",
                created_at=now,
                updated_at=now,
                sender=sender,
            )
        )
    return position_id, coid


def test_only_a_dead_or_fenced_senders_orders_skip_the_reconcile_grace(database_url: str) -> None:
    """Issue 15 item 6, the rule: the grace stays for what another live process (the API, the
    console) may still be sending; the orders of the leader that was taken over from do not
    wait for it."""
    with connect(database_url) as hx:
        give_market(hx)
        dead, dead_coid = stuck_close(hx, "BTCZAR", "host:1:deadbeef")
        live, live_coid = stuck_close(hx, "ETHZAR", "host:2:api00000")
        assert hx.positions.reconcile() == []  # both within the grace: nothing is sent
        settled = hx.positions.reconcile(settle_now_from="host:1:deadbeef")
        assert [(o["position_id"], o["sent_now"]) for o in settled] == [(dead, True)]
        assert position(hx, dead).status == "CLOSED"
        assert hx.paper_exchange.get_order(dead_coid) is not None
        assert position(hx, live).status == "CLOSING"  # its sender may still be sending it
        assert hx.paper_exchange.get_order(live_coid) is None
        hx.ledger.check()
