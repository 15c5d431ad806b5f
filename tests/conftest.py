"""Shared fixtures: every database test runs on a real SQLite file and on a real PostgreSQL
server, each test in a database of its own.

PostgreSQL comes from ``HELIOS_TEST_POSTGRES_URL`` (for example
``postgresql://postgres@127.0.0.1:5432/test``). The suite creates its own databases on that server
(``helios_test_<pid>_...``), cloned from a migrated template, and drops them at the end; leftovers
of a crashed run are dropped by the next run. Without the variable the PostgreSQL half is skipped
with the reason, unless ``HELIOS_REQUIRE_POSTGRES=1`` (CI), which turns that into a failure.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import helios
from helios.clock import ManualClock
from helios.config import Settings
from helios.db.engine import build_engine, normalise_url
from helios.db.migrate import upgrade_to_head

# Tests configure Helios explicitly: the developer's .env and shell must not leak in.
os.environ["HELIOS_ENV_FILE"] = ""
for _key in Settings.model_fields:
    os.environ.pop(_key.upper(), None)

PG_ENV = "HELIOS_TEST_POSTGRES_URL"
PG_URL = os.environ.get(PG_ENV, "")
REQUIRE_PG = os.environ.get("HELIOS_REQUIRE_POSTGRES") == "1"
PREFIX = f"helios_test_{os.getpid()}_"
_counter = itertools.count()
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # a Thursday, 10:00 in Johannesburg
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# The longest files first (longest processing time first): with ``--dist loadfile`` a file runs
# whole on one worker, and a long one handed out last leaves the other worker idle at the end.
# scripts/test.sh passes --no-loadscope-reorder so xdist keeps this order (by default it hands
# out the files with the most tests first). The rest keep their order.
# The two alert-outage files mostly wait (a real scheduler, a receiver down for minutes): they
# must not run at the same time, or every core idles (2026-12-07: 120 s with both workers in an
# outage, CPU 87% idle), so the PostgreSQL one comes after the CPU-bound replay files, by when
# the SQLite one has ended. Durations on 2026-12-07 (a slow machine): outage SQLite 353 s, the
# week 259 s, parity 231 s, outage PostgreSQL 124 s, chaos 70 s.
LONGEST_FIRST = (
    "test_alert_outage_sqlite.py",
    "test_replay_parity.py",
    "test_replay_week.py",
    "test_chaos.py",
    "test_replay_engine.py",
    "test_browser_phone.py",
    "test_alert_outage_postgres.py",
    "test_replay_runs.py",
    "test_browser.py",
    "test_notebooks.py",
    "test_notebook_replay.py",
    "test_browser_chart.py",
    "test_browser_trades.py",
    "test_browser_locks.py",
    "test_browser_risk.py",
    "test_browser_login.py",
    "test_browser_profit.py",
    "test_browser_replay.py",
    "test_dashboard_replay.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: number for number, name in enumerate(LONGEST_FIRST)}
    order = {id(item): number for number, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), order[id(item)]))


def pytest_report_header(config: pytest.Config) -> list[str]:
    if PG_URL:
        shown = make_url(normalise_url(PG_URL)).render_as_string(hide_password=True)
        pg = f"postgresql at {shown}"
    else:
        pg = f"postgresql SKIPPED ({PG_ENV} is not set)"
    return [f"helios databases: sqlite (a temporary file per test) and {pg}"]


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")


def _drop_stale(admin) -> None:  # type: ignore[no-untyped-def]
    """Drop databases left by earlier runs whose process is gone."""
    with admin.connect() as conn:
        names = (
            conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'helios_test_%'"))
            .scalars()
            .all()
        )
        for name in names:
            match = re.match(r"helios_test_(\d+)_", name)
            pid = int(match.group(1)) if match else None
            if pid is not None and pid != os.getpid() and Path(f"/proc/{pid}").exists():
                continue  # a concurrent run's database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_URL:
        message = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
        if REQUIRE_PG:
            pytest.fail(message + " and HELIOS_REQUIRE_POSTGRES=1 forbids skipping them")
        pytest.skip(message)
    admin = _admin_engine()
    try:
        _drop_stale(admin)
    except Exception as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
    template = PREFIX + "template"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    url = make_url(normalise_url(PG_URL)).set(database=template)
    engine = build_engine(url.render_as_string(hide_password=False))
    upgrade_to_head(engine)
    engine.dispose()
    yield template
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def new_sqlite_url(template: Path, folder: Path) -> str:
    path = folder / f"helios-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database; the test id says which kind."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        yield new_sqlite_url(template, tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    name = f"{PREFIX}{next(_counter)}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = make_url(normalise_url(PG_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def hx(database_url: str, clock: ManualClock) -> Iterator[helios.Helios]:
    """Helios on a fresh database with the manual feed and a hand-moved clock."""
    with helios.connect(database_url, clock=clock, market_feed="manual") as instance:
        yield instance


@pytest.fixture
def priced_hx(hx: helios.Helios) -> helios.Helios:
    """``hx`` with a price for every default pair (the seed's R1,200,000 BTC)."""
    for pair, value in {"BTCZAR": "1200000", "ETHZAR": "60000", "SOLZAR": "2500"}.items():
        hx.market.set_price(pair, value)
    return hx


# --- the browser tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless and off the network, for the whole module (every
    ``test_browser_*`` file; skipped with the reason when it is not installed)."""
    from tests.browser_support import (
        CHROMIUM,
        CHROMIUM_FLAGS,
        WAIT_MS,
        expect,
        require_browser,
        sync_playwright,
    )

    require_browser()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


# --- the dashboard (AppTest) ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def keep_the_main_module() -> Iterator[None]:
    """AppTest runs app.py as ``__main__`` and leaves it in sys.modules; a later test that starts
    processes with the "spawn" method would then re-import app.py in each child."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[helios.Helios]:
    """Helios on the test database, which the dashboard (run by AppTest) opens itself from the
    environment."""
    import streamlit as st

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MARKET_FEED", "manual")
    st.cache_resource.clear()  # a Helios cached by an earlier test points at another database
    with helios.connect(database_url, market_feed="manual") as hx:
        yield hx
    st.cache_resource.clear()  # disposes the app's engine (on_release) before the DB is dropped
