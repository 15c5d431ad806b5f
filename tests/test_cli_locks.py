"""``helios lock|unlock|locks`` for real (``python -m helios.cli`` as a child process): a lock
written and listed, ``--json`` parsed (times ISO 8601 with an offset), bad input exits 2 naming
the field and the range and writes nothing, lifting a lock that no longer holds exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import helios
from helios.db.models import Event, PairLock
from tests.test_cli_controls import Cli


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path)


@pytest.fixture
def book(database_url: str) -> Iterator[helios.Helios]:
    with helios.connect(database_url, market_feed="manual") as hx:
        yield hx


def test_lock_list_and_unlock_with_json(cli: Cli, book: helios.Helios):
    done = cli("lock", "btczar", "--hours", "6", "--by", "alice", "--reason", "news", "--json")
    assert done.returncode == 0, done.stderr
    lock = json.loads(done.stdout)
    assert (lock["pair"], lock["status"], lock["by"], lock["reason"]) == (
        "BTCZAR",
        "active",
        "alice",
        "news",
    )
    starts, ends = (
        datetime.fromisoformat(lock["starts_at"]),
        datetime.fromisoformat(lock["ends_at"]),
    )
    assert starts.utcoffset() == timedelta(0) and ends - starts == timedelta(hours=6)
    assert 6 * 3600 - 60 < lock["remaining_seconds"] <= 6 * 3600

    listed = cli("locks", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["pair"]) for r in json.loads(listed.stdout)] == [(lock["id"], "BTCZAR")]
    table = cli("locks")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["ID", "PAIR", "STATUS"]
    assert "BTCZAR" in row and "SAST" in row and "alice" in row and row.endswith("news")

    lifted = cli("unlock", str(lock["id"]), "--by", "bob", "--json")
    assert lifted.returncode == 0, lifted.stderr
    assert [(r["id"], r["status"], r["lifted_by"]) for r in json.loads(lifted.stdout)] == [
        (lock["id"], "lifted", "bob")
    ]
    assert json.loads(cli("locks", "--json").stdout) == []
    assert cli("locks").stdout.strip() == "no pair is locked"
    assert len(json.loads(cli("locks", "--all", "--json").stdout)) == 1
    with book.db.read() as session:
        kinds = session.scalars(
            select(Event.kind).where(Event.kind.like("PAIR_%")).order_by(Event.id)
        ).all()
    assert kinds == ["PAIR_LOCKED", "PAIR_UNLOCKED"]

    again = cli("unlock", "BTCZAR", "--by", "bob", "--json")
    assert again.returncode == 1
    assert again.stdout == ""
    assert "BTCZAR is not locked" in again.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["DOGEZAR", "--hours", "6"], "pair='DOGEZAR' is not allowed: one of the configured"),
        (["BTCZAR", "--hours", "0"], "hours='0' is not allowed: a number of hours more than 0"),
        (["BTCZAR", "--hours", "800"], "at most 720"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(
    cli: Cli, book: helios.Helios, args: list[str], expected: str
):
    done = cli("lock", *args, "--by", "alice", "--reason", "why", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert expected in done.stderr
    with book.db.read() as session:
        assert session.scalars(select(PairLock)).all() == []
