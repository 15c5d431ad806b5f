"""The "database lost" alert is told without the database (helios/alerts/offline.py): journaled
first, sent to every channel directly, each channel's acceptance journaled; when the database
returns, the replay queues it with those channels SENT, so a channel that missed it gets it
then and none gets it twice; the replayed halt is no second alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import PRICES, booked_position, connect_book, position
from sqlalchemy import select
from test_alert_outbox import Receiver

import helios
from helios.clock import ManualClock
from helios.closeout import DatabaseWatch, replay_journal
from helios.db.models import Alert as AlertRow
from helios.db.models import AlertDelivery


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    up, down = Receiver(), Receiver()
    down.down()
    yield up, down
    for server in (up, down):
        server.close()


@pytest.fixture
def book(
    database_url: str, clock: ManualClock, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> Iterator[helios.Helios]:
    up, down = receivers
    with connect_book(
        database_url,
        clock,
        journal_dir=str(tmp_path / "journal"),
        halt_database_lost_seconds=30,
        alert_urls=f"{up.url()},{down.url()}",
        alert_group_seconds=0,
    ) as hx:
        for pair, value in PRICES.items():
            hx.market.set_price(pair, value)
        yield hx


def test_told_while_the_database_is_away_and_never_twice(
    book: helios.Helios, clock: ManualClock, receivers: tuple[Receiver, Receiver]
):
    up, down = receivers
    ids = [
        booked_position(book, "BTCZAR", "BUY", "20000", "2"),
        booked_position(book, "ETHZAR", "SELL", "3000", "1"),
    ]
    watch = DatabaseWatch(book)
    watch.teller._first_delay = 0.01  # the down channel's retries, quickly
    watch.remember()
    clock.advance(seconds=31)
    watch.closeout(31.0)  # the database is away: only the journal is written
    watch.teller.wait(30)
    assert [m["title"] for m in up.received] == [
        "[CRITICAL] Database lost: trading halted, close-out through the journal"
    ]
    assert "2 position(s) closed through the journal, 0 not closed" in up.received[0]["message"]
    records = watch.journal.records()
    [told] = [r for r in records if r["type"] == "alert"]
    assert [r["channel"] for r in records if r["type"] == "alert_sent"] == [up_id(book)]
    for secret in (up.url(), down.url()):
        assert secret not in watch.journal.path.read_text()

    # the database answers again: the replay queues the alert, SENT where it was told
    down.up()
    replay_journal(book, watch.journal)
    with book.db.read() as session:
        [alert] = list(session.scalars(select(AlertRow)))
        states = dict(session.execute(select(AlertDelivery.channel, AlertDelivery.status)).all())
    assert alert.dedup_key == told["dedup_key"] and alert.severity == "critical"
    assert states == {up_id(book): "SENT", down_id(book): "PENDING"}
    assert book.controls.halt_state().cause == "database_lost"
    book.alerts.send_pending()
    assert len(up.received) == 1  # not told twice
    assert [m["title"] for m in down.received] == [
        "[CRITICAL] Database lost: trading halted, close-out through the journal"
    ]
    assert [position(book, i).status for i in ids] == ["EMERGENCY_CLOSE"] * 2
    # a second replay changes nothing
    replay_journal(book, watch.journal)
    book.alerts.send_pending()
    assert (len(up.received), len(down.received)) == (1, 1)


def up_id(hx: helios.Helios) -> str:
    return hx.alerts.channel_ids[0]


def down_id(hx: helios.Helios) -> str:
    return hx.alerts.channel_ids[1]
