"""What the benchmarks share: the market they run on (a year of hourly candles for 5 ZAR pairs),
a scratch database, the timer and the machine description recorded with every result."""

from __future__ import annotations

import gc
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "binance_spot"
PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR", "XRPZAR", "ADAZAR")
USD_ZAR = Decimal("18.5")  # a fixed, approximate 2024 rate: the shape of the history is what counts
HOURS = 365 * 24
# the fallback random walk: start price (ZAR) and daily volatility per pair
WALK = {
    "BTCZAR": (780_000.0, 0.030),
    "ETHZAR": (42_000.0, 0.035),
    "SOLZAR": (1_900.0, 0.050),
    "XRPZAR": (11.5, 0.045),
    "ADAZAR": (11.0, 0.045),
}


# --- the market -----------------------------------------------------------------------------------


def load_history(data_dir: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """A year of hourly candles per pair, in ZAR, and where they came from."""
    files = {pair: data_dir / f"{pair[:-3]}-USDT_1h.csv" for pair in PAIRS}
    if all(path.is_file() for path in files.values()):
        history = {}
        for pair, path in files.items():
            frame = pd.read_csv(path).tail(HOURS).reset_index(drop=True)
            for column in ("open", "high", "low", "close"):
                frame[column] = [
                    (Decimal(repr(float(v))) * USD_ZAR).quantize(Decimal("1e-8"))
                    for v in frame[column]
                ]
            history[pair] = frame
        return history, f"{data_dir} (USDT x {USD_ZAR} ZAR)"
    return random_walk(), f"seeded random walk ({data_dir} not found)"


def random_walk(seed: int = 20261126) -> dict[str, pd.DataFrame]:
    """Correlated hourly geometric random walks (one market factor), ending 2024-12-30 01:00."""
    rng = np.random.default_rng(seed)
    end = datetime(2024, 12, 30, 1, tzinfo=UTC)
    stamps = pd.date_range(end=end, periods=HOURS, freq="h")
    market = rng.standard_normal(HOURS)
    history = {}
    for pair, (start, daily_vol) in WALK.items():
        hourly = daily_vol / np.sqrt(24)
        shocks = hourly * (0.8 * market + 0.6 * rng.standard_normal(HOURS))
        close = start * np.exp(np.cumsum(shocks))
        open_ = np.concatenate([[start], close[:-1]])
        wiggle = np.abs(rng.standard_normal(HOURS)) * hourly * 0.5
        high = np.maximum(open_, close) * (1 + wiggle)
        low = np.minimum(open_, close) * (1 - wiggle)
        history[pair] = pd.DataFrame(
            {
                "timestamp": stamps,
                "open": [Decimal(f"{v:.8f}") for v in open_],
                "high": [Decimal(f"{v:.8f}") for v in high],
                "low": [Decimal(f"{v:.8f}") for v in low],
                "close": [Decimal(f"{v:.8f}") for v in close],
                "volume": rng.uniform(1, 100, HOURS).round(4),
            }
        )
    return history


# --- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    name: str
    n: int
    median: float  # seconds
    p90: float
    p99: float
    mean: float


def measure(name: str, call: Callable[[], object], n: int, warmup: int) -> Timing:
    for _ in range(warmup):
        call()
    gc.collect()
    samples = np.empty(n)
    clock = time.perf_counter
    for i in range(n):
        began = clock()
        call()
        samples[i] = clock() - began
    p50, p90, p99 = np.percentile(samples, [50, 90, 99])
    return Timing(name, n, float(p50), float(p90), float(p99), float(samples.mean()))


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds:.3f} s"


# --- the database -------------------------------------------------------------------------------


@contextmanager
def scratch_database(url: str | None) -> Iterator[tuple[str, str]]:
    """(URL to use, database kind). SQLite: a new file; PostgreSQL: a scratch database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from helios.db.engine import normalise_url

    if url is None:
        with tempfile.TemporaryDirectory(prefix="helios-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db", "sqlite"
        return
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and Path(parsed.database).exists():
            sys.exit(f"{parsed.database} exists: give the name of a new SQLite file")
        yield url, "sqlite"
        return
    name = f"helios_bench_{os.getpid()}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False), "postgresql"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_version(hx) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    if hx.db.dialect == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (WAL, file)"
    with hx.db.engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    return f"PostgreSQL {version} (psycopg 3, local TCP)"


def machine_info() -> dict[str, str]:
    import arch
    import sqlalchemy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical CPUs, load average {load} at the end of the run",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "arch": arch.__version__,
    }


def append_results(
    path: Path,
    heading: str,
    kind: str,
    note: str,
    facts: list[str],
    timings: list[Timing],
    footer: list[str] | None = None,
) -> None:
    """Append one dated section (machine, database, scenario facts, the timings table) to a
    results file, creating it with ``heading`` (its title and targets) the first time."""
    info = machine_info()
    lines = [
        "",
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {kind}" + (f": {note}" if note else ""),
        "",
        *facts,
        f"- machine: {info['cpu']}",
        f"- python {info['python']}, numpy {info['numpy']}, pandas {info['pandas']}, "
        f"sqlalchemy {info['sqlalchemy']}, arch {info['arch']}",
        "",
        "| operation | n | median | p90 | p99 | mean |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {t.name} | {t.n} | {fmt(t.median)} | {fmt(t.p90)} | {fmt(t.p99)} | {fmt(t.mean)} |"
            for t in timings
        ),
        "",
        *(footer or []),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(heading)
    with path.open("a") as out:
        out.write("\n".join(lines))
