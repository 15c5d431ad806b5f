"""Issue 15 item 7: the database-loss close-out covers a position opened just before the loss.

The real scheduler (``python -m jobs``) opens a position from a signal, and the database goes away
at once: on SQLite the test holds the write lock, on PostgreSQL a private server
(``tests/private_postgres.py``) is stopped and later started again. The watchdog runs every 5 s,
so its last look at the book was before the open; on main the remembered book was refreshed only
by that look, and the close-out closed everything but the newest position, which stayed open for
the whole outage. Now the book is told of each opening fill as the database records it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import SEED_TRADE, give_market
from private_postgres import PrivatePostgres
from scheduler_process import SchedulerProcess, wait_for
from sqlalchemy import select
from test_scheduler_failover import database_away, journal_closeout

import helios
from helios.closeout import CloseoutJournal
from helios.db.models import Heartbeat, Position

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(url, what takes the database away): a SQLite file, or a private PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helios.db'}", None
        return
    server = PrivatePostgres()
    try:
        yield server.url, server
    finally:
        server.close()


def statuses(url: str) -> dict[int, str]:
    with helios.connect(url, market_feed="manual", reconcile=False) as hx, hx.db.read() as s:
        return {int(i): st for i, st in s.execute(select(Position.id, Position.status)).all()}


def test_a_position_opened_just_before_the_database_is_lost_is_closed_out(
    place: tuple[str, PrivatePostgres | None], tmp_path: Path
) -> None:
    url, server = place
    with helios.connect(url, market_feed="manual") as hx:
        give_market(hx)
        first = hx.positions.open_position("ETHZAR", "BUY", SEED_TRADE, "opened long before")
        assert first["success"], first
        installation = hx.positions.installation_id()
    journal = CloseoutJournal(tmp_path / "journal", installation)
    with SchedulerProcess(
        url,
        tmp_path,
        HALT_DATABASE_LOST_SECONDS=1,
        SQLITE_BUSY_TIMEOUT_SECONDS=0.5,
        WATCHDOG_INTERVAL_SECONDS=5,
    ) as scheduler:
        with helios.connect(url, market_feed="manual", reconcile=False) as hx:
            wait_for(lambda: _leads(hx, scheduler.pid), 60, "the scheduler to lead", scheduler)
            signal = hx.signals.submit(
                "BTCZAR", "BUY", 0.8, True, trade_params=SEED_TRADE, dedup_key="just-before"
            )
            newest = wait_for(
                lambda: _opened_from(hx, signal["signal_id"]),
                30,
                "the signal's position",
                scheduler,
            )
        ids = sorted([int(first["position_id"]), newest])
        if server is None:
            with database_away(url):
                wait_for(lambda: journal_closeout(journal, ids), 30, "the close-out", scheduler)
        else:
            server.stop()
            try:
                wait_for(lambda: journal_closeout(journal, ids), 30, "the close-out", scheduler)
            finally:
                server.start()
        wait_for(
            lambda: set(statuses(url).values()) == {"EMERGENCY_CLOSE"},
            60,
            "the journal replayed: both positions closed",
            scheduler,
        )
        with helios.connect(url, market_feed="manual", reconcile=False) as hx:
            hx.ledger.check()


def _leads(hx: helios.Helios, pid: int) -> bool:
    with hx.db.read() as session:
        row = session.get(Heartbeat, "scheduler")
        return row is not None and row.pid == pid


def _opened_from(hx: helios.Helios, signal_id: int) -> int | None:
    with hx.db.read() as session:
        row = session.execute(
            select(Position.id).where(Position.signal_id == signal_id, Position.status == "OPEN")
        ).first()
    return int(row[0]) if row is not None else None
