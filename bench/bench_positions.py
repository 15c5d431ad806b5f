"""Benchmark for issue 4 (positions): a stop-monitor pass and opening a position.

The scenario: the 5 pairs of ``common`` with a year of hourly candles each (real Binance history
scaled to ZAR, or a seeded random walk), 100 open positions spread over them (each opened
through ``hx.positions.open_position``: the 7 checks, the paper order, the records), limits
loosened so a book of 100 positions is legal, and a clock on the day after the data.

Measured (time.perf_counter; median, p90, p99):

- ``hx.positions.monitor_positions()`` over the 100 open positions, each pass after fresh prices
  for every pair (a small move that triggers no stop: the pass reads, judges, writes its
  watermarks). Targets: median < 20 ms on SQLite, < 50 ms on PostgreSQL.
- ``hx.positions.open_position``: checks, order intent, paper fill, records (target < 10 ms), on
  a book of 20 open positions (the risk benchmark's); each timed open is closed again untimed.
  Also reported, for information, on the 100-position book (the check reads every position and
  the stored decision holds them all, so opening grows with the book).
- ``hx.positions.close_position``: the manual close of one of them.

Usage::

    python bench/bench_positions.py
    python bench/bench_positions.py --database-url postgresql://postgres@127.0.0.1:5432/test

Results are printed and appended to ``bench/results/positions.md``. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import (
    DEFAULT_DATA,
    HERE,
    HOURS,
    PAIRS,
    Timing,
    append_results,
    database_version,
    fmt,
    load_history,
    measure,
    scratch_database,
)

RESULTS = HERE / "results" / "positions.md"
OPEN_POSITIONS = 100
BOOK_FOR_OPENING = 20
TRADE = {"position_size_zar": 500, "leverage": 1, "stop_loss_pct": 0.05, "take_profit_pct": 0.5}
LOOSE_LIMITS = {
    "max_single_position_pct": 1.0,
    "max_sector_exposure_pct": 1.0,
    "max_correlation_threshold": 1.0,
    "max_portfolio_risk_exposure_pct": 1.0,
    "max_leverage": 10.0,
}


def run(args: argparse.Namespace) -> None:
    os.environ["HELIOS_ENV_FILE"] = ""  # a developer's .env must not leak in
    import helios
    from helios.config import Settings

    for key in Settings.model_fields:
        os.environ.pop(key.upper(), None)
    history, source = load_history(args.data_dir)
    last = max(pd.to_datetime(frame["timestamp"], utc=True).iloc[-1] for frame in history.values())
    clock = helios.ManualClock((last.floor("D") + pd.Timedelta(days=1, hours=8)).to_pydatetime())
    rng = np.random.default_rng(7)
    scale = args.scale
    with (
        scratch_database(args.database_url) as (url, kind),
        helios.connect(url, clock=clock, market_feed="manual", pairs=list(PAIRS)) as hx,
    ):
        for pair, frame in history.items():
            hx.market.ingest(pair, frame, interval="1h", source="bench")
            hx.market.set_price(pair, frame["close"].iloc[-1])
        prices = {pair: float(frame["close"].iloc[-1]) for pair, frame in history.items()}
        hx.risk.update_limits(LOOSE_LIMITS, changed_by="bench")
        counter = iter(range(10**9))

        def open_one() -> int:
            pair = PAIRS[next(counter) % len(PAIRS)]
            result = hx.positions.open_position(pair, "BUY", TRADE, "bench")
            if not result["success"]:
                raise RuntimeError(result)
            return int(result["position_id"])

        # opening, on a book of BOOK_FOR_OPENING open positions (the risk benchmark's book):
        # each timed open is closed again, untimed, so the book stays that size
        for _ in range(BOOK_FOR_OPENING):
            open_one()
        samples = []
        for _ in range(int(200 * scale) + 5):
            began = time.perf_counter()
            opened = open_one()
            samples.append(time.perf_counter() - began)
            hx.positions.close_position(opened, "CLOSED")
        opening = summarise(f"open_position ({BOOK_FOR_OPENING} open)", samples[5:])
        for _ in range(OPEN_POSITIONS - BOOK_FOR_OPENING):
            open_one()

        def fresh_prices() -> None:
            clock.advance(seconds=5)
            for pair in PAIRS:
                prices[pair] *= float(np.exp(rng.normal(0, 0.0002)))
                hx.market.set_price(pair, round(prices[pair], 8))

        samples = []
        for _ in range(int(200 * scale) + 5):
            fresh_prices()
            began = time.perf_counter()
            hx.positions.monitor_positions()
            samples.append(time.perf_counter() - began)
        monitor = summarise(f"monitor_positions ({OPEN_POSITIONS} open)", samples[5:])
        open_large = measure(
            f"open_position ({OPEN_POSITIONS}+ open, information)", open_one, int(50 * scale), 2
        )
        ids = [p["position_id"] for p in hx.positions.get_open_positions()]
        closing = measure(
            "close_position (manual)",
            lambda: hx.positions.close_position(ids.pop(), "CLOSED"),
            int(100 * scale),
            2,
        )
        hx.ledger.check()
        timings = [monitor, opening, open_large, closing]
        print(f"\n{kind}: {database_version(hx)}; candles: {source}")
        print(f"{'operation':<46}{'n':>6}{'median':>12}{'p90':>12}{'p99':>12}")
        for t in timings:
            print(f"{t.name:<46}{t.n:>6}{fmt(t.median):>12}{fmt(t.p90):>12}{fmt(t.p99):>12}")
        target = 0.020 if kind == "sqlite" else 0.050
        print(
            f"targets: monitor median {fmt(monitor.median)} "
            f"({'meets' if monitor.median < target else 'MISSES'} < {fmt(target)}); "
            f"open median {fmt(opening.median)} "
            f"({'meets' if opening.median < 0.010 else 'MISSES'} < 10 ms)"
        )
        if not args.no_record:
            record(timings, kind, database_version(hx), source, args.note)


def summarise(name: str, samples: list[float]) -> Timing:
    values = np.array(samples)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return Timing(name, len(values), float(p50), float(p90), float(p99), float(values.mean()))


def record(timings: list[Timing], kind: str, db_version: str, source: str, note: str) -> None:
    append_results(
        RESULTS,
        "# Position benchmark (issue 4)\n\n"
        "Produced by `python bench/bench_positions.py [--database-url URL]`; newest last.\n"
        "Targets: a monitor pass over 100 open positions, median < 20 ms on SQLite and "
        "< 50 ms on PostgreSQL; opening a position median < 10 ms.\n",
        kind,
        note,
        [
            f"- database: {db_version}",
            f"- scenario: 5 pairs x {HOURS} hourly candles from {source}; {OPEN_POSITIONS} open "
            "positions; fresh prices for every pair before each monitor pass",
        ],
        timings,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--note", default="")
    parser.add_argument("--no-record", action="store_true")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
