"""Migrations: an empty database reaches the models' schema, and the two cannot drift.

Each test gets a really empty database: a new SQLite file, or a new PostgreSQL database created
on the server of ``HELIOS_TEST_POSTGRES_URL`` (and dropped afterwards; its name carries this
process id, so a crashed run's leftovers are dropped by the next run, as in conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, create_engine, event, text
from sqlalchemy import inspect as inspect_db
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

import helios
from helios.db.engine import SQLITE_BUSY_TIMEOUT_MS, Database, build_engine, normalise_url
from helios.db.migrate import current_revision, downgrade_to, head_revision, upgrade_to_head
from helios.db.models import Base, Order

PG_URL = os.environ.get("HELIOS_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("HELIOS_REQUIRE_POSTGRES") == "1"
SEED_TABLES = {
    "positions",
    "orders",
    "fills",
    "portfolio_state",
    "portfolio_snapshots",
    "candles",
    "signals",
    "risk_decisions",
    "risk_limits",
    "events",
    "settings",
}

# the newest file in helios/db/migrations/versions: bump it with each new migration
NEWEST_REVISION = "0009"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even the alembic version table."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not PG_URL:
        message = "PostgreSQL tests need HELIOS_TEST_POSTGRES_URL"
        if REQUIRE_PG:
            pytest.fail(message + " and HELIOS_REQUIRE_POSTGRES=1 forbids skipping them")
        pytest.skip(message)
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"helios_test_{os.getpid()}_empty_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_engine(empty_url: str) -> Iterator[Engine]:
    engine = build_engine(empty_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect_db(engine).get_table_names())


def schema_drift(engine: Engine, metadata: MetaData = Base.metadata) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_an_empty_database_is_migrated_to_every_table_of_the_models(empty_engine: Engine):
    assert tables(empty_engine) == set()
    assert current_revision(empty_engine) is None

    revision = upgrade_to_head(empty_engine)

    assert revision == head_revision() == NEWEST_REVISION
    assert current_revision(empty_engine) == revision
    found = tables(empty_engine)
    assert found == set(Base.metadata.tables) | {"alembic_version"}
    assert found >= SEED_TABLES
    assert found >= {"ledger_entries", "latest_prices", "paper_venue_orders", "heartbeats"}


def test_migrating_a_migrated_database_again_changes_nothing(empty_engine: Engine):
    upgrade_to_head(empty_engine)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.strip().split()[0].upper())

    event.listen(empty_engine, "before_cursor_execute", record)
    try:
        assert upgrade_to_head(empty_engine) == head_revision()
    finally:
        event.remove(empty_engine, "before_cursor_execute", record)
    written = [s for s in statements if s in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE"}]
    assert written == []
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            NEWEST_REVISION
        ]


def test_downgrading_to_base_removes_every_table_and_upgrading_brings_them_back(
    empty_engine: Engine,
):
    upgrade_to_head(empty_engine)
    downgrade_to(empty_engine, "base")
    assert tables(empty_engine) == {"alembic_version"}
    assert current_revision(empty_engine) is None
    upgrade_to_head(empty_engine)
    assert tables(empty_engine) == set(Base.metadata.tables) | {"alembic_version"}
    assert schema_drift(empty_engine) == []


def test_the_migrated_schema_matches_the_models_exactly(empty_engine: Engine):
    upgrade_to_head(empty_engine)
    assert schema_drift(empty_engine) == []


def test_the_drift_check_does_see_a_missing_table_and_a_changed_type(empty_engine: Engine):
    """The comparison above can fail: models that drifted from the migrations are noticed."""
    upgrade_to_head(empty_engine)
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["positions"].c.quantity.type = Float()
    Table("margin_calls", drifted, Column("id", Integer, primary_key=True))
    found = schema_drift(empty_engine, drifted)
    kinds = sorted(
        (item[0][0], item[0][3]) if isinstance(item, list) else (item[0], item[1].name)
        for item in found
    )
    assert kinds == [("add_table", "margin_calls"), ("modify_type", "quantity")]


STARTER = """
import sys, time
from pathlib import Path
import helios
from helios.db.migrate import current_revision
url, folder, index = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
(folder / f"ready-{index}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
with helios.connect(url, market_feed="manual") as hx:
    print(current_revision(hx.db.engine), hx.ledger.check().cash, hx.controls.trading_mode())
"""


def test_processes_starting_together_on_an_empty_database_all_get_the_schema(
    empty_url: str, tmp_path: Path
):
    """The scheduler and the dashboard start together on a new install: every one starts, and
    the database gets one schema, one account and one seeded mode."""
    count = 3
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, empty_url, str(tmp_path), str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready-*"))) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [
        (process.returncode, out.strip())
        for process, (out, _err) in zip(processes, outputs, strict=True)
    ] == [(0, f"{NEWEST_REVISION} 100000 PAPER")] * count, [err[-2000:] for _out, err in outputs]
    engine = build_engine(empty_url)
    try:
        assert current_revision(engine) == NEWEST_REVISION
        assert schema_drift(engine) == []
        with engine.connect() as conn:
            kinds = conn.execute(text("SELECT kind FROM ledger_entries")).scalars().all()
            events = conn.execute(text("SELECT kind FROM events")).scalars().all()
        assert kinds == ["INITIAL_CAPITAL"]  # one account, not one per process
        assert events == ["MODE_SET"]
    finally:
        engine.dispose()


def test_connect_on_an_empty_database_migrates_it(empty_url: str):
    with helios.connect(empty_url, market_feed="manual") as hx:
        assert current_revision(hx.db.engine) == head_revision()
        assert hx.ledger.check().cash == Decimal("100000")


# --- constraints and SQLite's set-up -------------------------------------------------------------


def test_a_client_order_id_is_unique_in_orders(database_url: str):
    db = Database(database_url)
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def order() -> Order:
        return Order(
            client_order_id="pos-1-open",
            action="OPEN",
            mode="PAPER",
            pair="BTCZAR",
            side="BUY",
            quantity=Decimal("0.012493753123"),
            status="NEW",
            created_at=now,
            updated_at=now,
        )

    try:
        with db.write() as session:
            session.add(order())
        with pytest.raises(IntegrityError), db.write() as session:
            session.add(order())
        with db.read() as session:
            count = session.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
        assert count == 1
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with db.read() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert session.execute(text("PRAGMA busy_timeout")).scalar_one() == 30_000
            assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert SQLITE_BUSY_TIMEOUT_MS == 30_000
    finally:
        db.dispose()


def test_0007_adds_the_pair_locks_table_and_its_downgrade_removes_it(empty_engine: Engine):
    """Issue 18: the pair locks' table comes with 0007 and goes with its downgrade, leaving the
    rest of 0006's schema as it was."""
    upgrade_to_head(empty_engine)
    assert "pair_locks" in tables(empty_engine)
    columns = {c["name"] for c in inspect_db(empty_engine).get_columns("pair_locks")}
    assert columns == {
        "id",
        "pair",
        "starts_at",
        "ends_at",
        "reason",
        "locked_by",
        "automatic",
        "created_at",
        "lifted_at",
        "lifted_by",
        "details",
    }
    before = tables(empty_engine)
    downgrade_to(empty_engine, "0006")
    assert current_revision(empty_engine) == "0006"
    assert tables(empty_engine) == before - {"pair_locks", "replay_runs"}  # 0008 goes first
    upgrade_to_head(empty_engine)
    assert tables(empty_engine) == before
    assert schema_drift(empty_engine) == []


def test_0008_adds_the_replay_runs_table_and_its_downgrade_removes_it(empty_engine: Engine):
    """Issue 19: a replay's own record comes with 0008 and goes with its downgrade, leaving the
    rest of 0007's schema as it was."""
    upgrade_to_head(empty_engine)
    columns = {c["name"] for c in inspect_db(empty_engine).get_columns("replay_runs")}
    assert columns == {
        "id",
        "name",
        "status",
        "spec",
        "started_at",
        "finished_at",
        "candles",
        "steps",
        "light_steps",
        "wall_seconds",
        "figures",
        "exit_bars",
        "error",
    }
    before = tables(empty_engine)
    downgrade_to(empty_engine, "0007")
    assert current_revision(empty_engine) == "0007"
    assert tables(empty_engine) == before - {"replay_runs"}
    upgrade_to_head(empty_engine)
    assert tables(empty_engine) == before
    assert schema_drift(empty_engine) == []


def test_0009_indexes_candles_by_pair_and_time_and_its_downgrade_removes_it(empty_engine: Engine):
    """Issue 19: ``ix_candles_pair_ts`` (the reads of a pair's bars of every interval in a span:
    tests/test_candle_reads.py) comes with 0009 and goes with its downgrade, leaving 0008's
    schema as it was."""

    def candle_indexes() -> dict[str, list[str]]:
        found = inspect_db(empty_engine).get_indexes("candles")
        return {str(i["name"]): list(i["column_names"]) for i in found}

    upgrade_to_head(empty_engine)
    assert candle_indexes()["ix_candles_pair_ts"] == ["pair", "ts"]
    before = tables(empty_engine)
    downgrade_to(empty_engine, "0008")
    assert current_revision(empty_engine) == "0008"
    assert "ix_candles_pair_ts" not in candle_indexes()
    assert tables(empty_engine) == before
    upgrade_to_head(empty_engine)
    assert candle_indexes()["ix_candles_pair_ts"] == ["pair", "ts"]
    assert schema_drift(empty_engine) == []
