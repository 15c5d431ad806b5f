"""Benchmark for issue 18 (the price chart): a year of 1-minute candles rolled up to 1 h, the
positions in range and the figure, warm.

Target (issue 18): the candle chart with a year of 1m candles rolled to 1h draws in under 1.5 s.

The scenario: ``helios.connect`` on a scratch database (migrations, the account), then in one
transaction with SQLAlchemy Core executemany in chunks of 20,000: 525,600 BTCZAR 1-minute
candles (a year ending at the current minute: a random walk from R1,200,000 with about 3% daily
volatility), the 365 daily candles they roll up to, and ``--positions`` (default 10,000) closed
positions over 3 pairs (a third of them BTCZAR, about 3,300 on the chart: 6,600 markers), their
entries and exits at the walk's closes, closed uniformly over the year with the issue-7 mix of
reasons (a tenth of the stops trailed), plus 2 open BTCZAR positions.

Measured (time.perf_counter, after 2 warm-up calls; median, p90, p99, mean of ``--n`` runs):
**the chart** = ``hx.market.chart_candles("BTCZAR", "1h", year)`` + ``hx.positions
.trades_in_range`` + ``ui.candles.build_figure`` (what the Chart page does for "Last year, 1h"),
the target row; then each part alone, the figure serialised to JSON (what Streamlit sends to
the browser), the page's other ranges (24 h at 5m, 30 days at 1h, 7 days at 15m) and the whole
Chart page run through Streamlit's AppTest (app.py, the figure, the positions table). On
PostgreSQL the scratch database is ANALYZEd after the bulk load, as autovacuum would do within
a minute of it (without statistics the planner guesses one row per table).

Usage::

    python bench/bench_chart.py
    python bench/bench_chart.py --database-url postgresql://postgres@127.0.0.1:5432/test

Results are printed and appended to ``bench/results/chart.md``. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from itertools import islice
from typing import Any

import numpy as np
from common import HERE, Timing, append_results, database_version, fmt, measure, scratch_database

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
RESULTS = HERE / "results" / "chart.md"
HEADING = (
    "# Price chart benchmark (issue 18)\n\n"
    "Produced by `python bench/bench_chart.py [--database-url URL]`; newest last.\n"
    "Target: a year of 1m candles (525,600 rows) rolled up to 1h, the positions in range and the "
    "figure built, warm, under 1.5 s.\n"
)
TARGET = 1.5
MINUTES = 365 * 24 * 60
CHUNK = 20_000
PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR")
MIX = {"STOPPED_OUT": 0.35, "TAKE_PROFIT": 0.25, "TIMEOUT": 0.15, "CLOSED": 0.18}
MIX["EMERGENCY_CLOSE"] = 0.07
FEE = 0.0035


def chunks(rows: list[dict[str, Any]]) -> Any:
    it = iter(rows)
    while batch := list(islice(it, CHUNK)):
        yield batch


def money(value: float, places: int = 8) -> str:
    return f"{value:.{places}f}"


def walk(rng: np.random.Generator, end: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """A year of minute open times ending before ``end``'s minute and their closes/opens."""
    last = end.replace(second=0, microsecond=0)
    times = [last - timedelta(minutes=MINUTES - i) for i in range(MINUTES)]
    steps = rng.normal(0, 0.03 / np.sqrt(1440), MINUTES)
    close = 1_200_000.0 * np.exp(np.cumsum(steps))
    return times, close, np.concatenate([[close[0]], close[:-1]])


def candle_rows(times: list[Any], close: np.ndarray, open_: np.ndarray, rng: Any) -> list[dict]:
    wiggle = np.abs(rng.normal(0, 0.0004, MINUTES))
    high = np.maximum(open_, close) * (1 + wiggle)
    low = np.minimum(open_, close) * (1 - wiggle)
    rows = [
        {
            "pair": "BTCZAR",
            "interval_seconds": 60,
            "ts": times[i],
            "open": money(open_[i], 2),
            "high": money(high[i], 2),
            "low": money(low[i], 2),
            "close": money(close[i], 2),
            "volume": "0.25",
            "source": "bench",
        }
        for i in range(MINUTES)
    ]
    days: dict[Any, list[int]] = {}
    for i, ts in enumerate(times):
        days.setdefault(ts.replace(hour=0, minute=0), []).append(i)
    for day, idx in days.items():
        rows.append(
            {
                "pair": "BTCZAR",
                "interval_seconds": 86400,
                "ts": day,
                "open": rows[idx[0]]["open"],
                "high": money(float(high[idx].max()), 2),
                "low": money(float(low[idx].min()), 2),
                "close": rows[idx[-1]]["close"],
                "volume": money(0.25 * len(idx), 2),
                "source": "bench",
            }
        )
    return rows


def position_rows(
    rng: np.random.Generator, times: list[Any], close: np.ndarray, n: int
) -> list[dict[str, Any]]:
    """``n`` closed positions (a third BTCZAR, at the walk's prices) and 2 open BTCZAR ones."""
    rows = []
    starts = np.sort(rng.integers(0, MINUTES - 72 * 60 - 1, n))
    statuses = rng.choice(list(MIX), n, p=list(MIX.values()))
    for k in range(n + 2):
        still_open = k >= n
        i = MINUTES - 90 if still_open else int(starts[k])
        status = "OPEN" if still_open else str(statuses[k])
        held = 60 if still_open else int(min(max(rng.exponential(12 * 60), 2), 72 * 60))
        side = "BUY" if rng.random() < 0.7 else "SELL"
        sign = 1 if side == "BUY" else -1
        entry = float(close[i])
        exit_ = float(close[min(i + held, MINUTES - 1)])
        size, leverage, stop_pct = 1500.0, 1.0, 0.02
        quantity = size * leverage / entry
        pnl = sign * (exit_ - entry) * quantity - size * FEE - quantity * exit_ * FEE
        stop = entry * (1 - sign * stop_pct)
        if status == "STOPPED_OUT" and rng.random() < 0.1:
            stop = entry * (1 + sign * 0.005)  # trailed
        rows.append(
            {
                "pair": "BTCZAR" if still_open else PAIRS[k % 3],
                "side": side,
                "status": status,
                "mode": "PAPER",
                "position_size_zar": money(size),
                "leverage": money(leverage),
                "notional": money(size * leverage),
                "quantity": money(quantity, 12),
                "entry_price": money(entry),
                "exit_price": None if still_open else money(exit_),
                "entry_fee": money(size * FEE),
                "exit_fee": None if still_open else money(quantity * exit_ * FEE),
                "realized_pnl": None if still_open else money(pnl),
                "stop_loss_pct": money(stop_pct),
                "take_profit_pct": "0.06",
                "stop_loss_price": money(stop),
                "take_profit_price": money(entry * (1 + sign * 0.06)),
                "best_price": money(entry),
                "max_holding_hours": "72",
                "strategic_reasoning": "bench",
                "close_reason": None if still_open else status,
                "exit_trigger_price": money(stop) if status == "STOPPED_OUT" else None,
                "created_at": times[i],
                "opened_at": times[i],
                "closed_at": None if still_open else times[min(i + held, MINUTES - 1)],
                "updated_at": times[i],
                "version": 3,
            }
        )
    return rows


PAGE_ROW = "the Chart page, last year at 1h (AppTest rerun: the chart + the positions table)"


def page_run(url: str) -> Any:
    """One run of the Chart page (through app.py, as ``tests/dashboard_support.open_page``)
    showing the last year at 1h, for ``measure``: what a rerun of the page costs on the server
    (the browser's drawing is not in it)."""
    from streamlit.testing.v1 import AppTest

    os.environ.update(DATABASE_URL=url, MARKET_FEED="manual")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("app_pages/chart.py").run()
    at.selectbox(key="chart_range").set_value("Last year").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("positions in range" in c.value for c in at.caption)
    return at.run


def run(args: argparse.Namespace) -> None:
    os.environ["HELIOS_ENV_FILE"] = ""
    from sqlalchemy import insert

    import helios
    from helios.db.engine import WRITE_OPTION
    from helios.db.models import Candle, Position
    from ui.candles import build_figure, marker_count

    load_at_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rng = np.random.default_rng(20261126)
    with (
        scratch_database(args.database_url) as (url, kind),
        helios.connect(url, market_feed="manual") as hx,
    ):
        now = hx.clock.now()
        times, close, open_ = walk(rng, now)
        began = time.perf_counter()
        candles = candle_rows(times, close, open_, rng)
        positions = position_rows(rng, times, close, args.positions)
        with hx.db.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                for batch in chunks(candles):
                    conn.execute(insert(Candle.__table__), batch)
                for batch in chunks(positions):
                    conn.execute(insert(Position.__table__), batch)
        built = time.perf_counter() - began
        if kind == "postgresql":  # the statistics autovacuum gathers within a minute of a load
            with hx.db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        zone = hx.settings.trading_day_timezone
        year = (now - timedelta(days=365), now)

        def chart(interval: str, start: Any, end: Any) -> Any:
            frame = hx.market.chart_candles("BTCZAR", interval, start, end)
            trades = hx.positions.trades_in_range("BTCZAR", start, end)
            return build_figure(frame, trades, pair="BTCZAR", interval=interval, end=end, zone=zone)

        frame = hx.market.chart_candles("BTCZAR", "1h", *year)
        trades = hx.positions.trades_in_range("BTCZAR", *year)
        figure = build_figure(frame, trades, pair="BTCZAR", interval="1h", end=now, zone=zone)
        n, w = args.n, 2
        timings: list[Timing] = [
            measure(
                "the chart: last year at 1h (read + roll-up + positions + figure)",
                lambda: chart("1h", *year),
                n,
                w,
            ),
            measure(
                "  candles: a year of 1m rolled up to 1h in SQL",
                lambda: hx.market.chart_candles("BTCZAR", "1h", *year),
                n,
                w,
            ),
            measure(
                "  positions in range (trades_in_range)",
                lambda: hx.positions.trades_in_range("BTCZAR", *year),
                n,
                w,
            ),
            measure(
                "  figure (build_figure)",
                lambda: build_figure(
                    frame, trades, pair="BTCZAR", interval="1h", end=now, zone=zone
                ),
                n,
                w,
            ),
            measure("  figure serialised (to_json, what Streamlit sends)", figure.to_json, n, w),
            measure("last 24 hours at 5m", lambda: chart("5m", now - timedelta(days=1), now), n, w),
            measure("last 7 days at 15m", lambda: chart("15m", now - timedelta(days=7), now), n, w),
            measure("last 30 days at 1h", lambda: chart("1h", now - timedelta(days=30), now), n, w),
            measure("last year at 1d (stored daily candles)", lambda: chart("1d", *year), n, w),
            measure(PAGE_ROW, page_run(url), n, w),
        ]
        markers = marker_count(figure)
        version = database_version(hx)
    print(f"{kind}: {version}; scenario built in {built:.1f} s")
    print(f"the year at 1h: {len(frame):,} bars, {len(trades):,} positions, {markers:,} markers")
    for t in timings:
        print(
            f"{t.name:<70} median {fmt(t.median):>11}  p90 {fmt(t.p90):>11}  max-ish p99 "
            f"{fmt(t.p99):>11}"
        )
    verdict = "meets" if timings[0].median < TARGET else "MISSES"
    print(f"target: the chart's warm median < {TARGET} s -> {verdict}")
    if args.no_record:
        return
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    facts = [
        f"- database: {version}",
        f"- scenario: 525,600 BTCZAR 1m candles + 365 daily; {args.positions:,} closed positions "
        f"over 3 pairs + 2 open BTCZAR; on the chart: {len(frame):,} hourly bars, "
        f"{len(trades):,} positions, {markers:,} markers; built in {built:.1f} s (bulk insert"
        + ("; ANALYZE after it)" if kind == "postgresql" else ")"),
        f"- load average at the start of the run: {load_at_start}",
        f"- code: commit {commit}",
        f"- target: the chart's warm median < {TARGET} s -> {verdict}",
    ]
    append_results(RESULTS, HEADING, kind, args.note, facts, timings)
    print(f"recorded in {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=7, help="timed runs per row")
    parser.add_argument("--note", default="", help="a label for the recorded section")
    parser.add_argument("--no-record", action="store_true", help="only print")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
