"""Benchmark for issue 3 (the guardian): how long a risk check takes on a realistic book.

The scenario: 5 pairs (BTCZAR, ETHZAR, SOLZAR, XRPZAR, ADAZAR), a year of hourly candles each
(the real Binance USDT history in ``../shared/data/binance_spot`` scaled by a fixed USD->ZAR rate,
or a seeded random walk when that folder is absent), the latest prices set, and 20 open positions
spread over the 5 pairs, each opened on the paper exchange and booked by the real ledger. The
clock stands on the day after the data ends, so every candle belongs to a completed day.

Measured (time.perf_counter, many iterations after a warm-up; median, p90, p99):

- ``hx.risk.check_trade_risk``: the seed's call, reads the state and stores a decision each time
  (target: median < 2 ms);
- ``hx.risk.preview``: the same without storing, plus headroom and capacity;
- ``hx.risk.gather``: the reads alone;
- ``helios.risk.checks.evaluate``: the pure function on the real inputs (target: < 100 us);
- ``hx.risk.market_stats()`` on a cache hit;
- ``hx.risk.refresh_stats()``: the GARCH(1,1) refit of the 5 pairs.

Usage::

    python bench/bench_risk.py                       # a temporary SQLite file
    python bench/bench_risk.py --database-url postgresql://postgres@127.0.0.1:5432/test

A PostgreSQL URL names the server: the benchmark creates a scratch database on it
(``helios_bench_<pid>``) and drops it at the end; the named database is not touched. Results are
printed and appended to ``bench/results/risk.md``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from common import (
    DEFAULT_DATA,
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

HERE = Path(__file__).resolve().parent
# the seed's Tier 5 trade: a R903 BTCZAR buy
TRADE = ("BTCZAR", "BUY", {"position_size_zar": 903, "leverage": 1})
RESULTS = HERE / "results" / "risk.md"


# --- the scenario -------------------------------------------------------------------------------


def positions_plan() -> list[tuple[str, str, Decimal, Decimal]]:
    """20 positions, 4 per pair: (pair, side, margin ZAR, leverage). One short per pair.

    Per pair: notional 1,500 + 2,625 + 4,000 + 2,250 = R10,375; in all R51,875 on a R100k book,
    inside every default limit, so the R903 buy is checked against a full but legal book."""
    shape = [
        ("BUY", Decimal("1500"), Decimal("1")),
        ("BUY", Decimal("1750"), Decimal("1.5")),
        ("BUY", Decimal("2000"), Decimal("2")),
        ("SELL", Decimal("2250"), Decimal("1")),
    ]
    return [(pair, *shape[k]) for k in range(4) for pair in PAIRS]


def build_scenario(hx, history: dict[str, pd.DataFrame]) -> None:  # type: ignore[no-untyped-def]
    from helios.accounts.book import book_open
    from helios.db.models import Position
    from helios.exchange.base import OrderRequest, OrderStatus

    for pair, frame in history.items():
        hx.market.ingest(pair, frame, interval="1h", source="bench")
        # the latest price: the last close, seen now (today's first tick)
        hx.market.set_price(pair, frame["close"].iloc[-1])
    for pair, side, size, leverage in positions_plan():
        now = hx.clock.now()
        with hx.db.write() as session:
            position = Position(
                pair=pair,
                side=side,
                status="OPENING",
                mode="PAPER",
                position_size_zar=size,
                leverage=leverage,
                stop_loss_pct=Decimal("0.02"),
                take_profit_pct=Decimal("0.06"),
                max_holding_hours=Decimal("72"),
                created_at=now,
                updated_at=now,
            )
            session.add(position)
            session.flush()
            position_id = position.id
        fill = hx.paper_exchange.submit_market_order(
            OrderRequest.build(f"pos-{position_id}-open", pair, side, quote_amount=size * leverage)
        )
        if fill.status is not OrderStatus.FILLED:
            raise RuntimeError(f"the paper exchange did not fill position {position_id}: {fill}")
        with hx.db.write() as session:
            position = session.get(Position, position_id)
            book_open(
                session,
                position,
                fill_price=fill.price,
                quantity=fill.quantity,
                fee=fill.fee,
                now=now,
            )
            position.status = "OPEN"
            position.opened_at = now
            position.updated_at = now


# --- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    # the benchmark configures Helios explicitly: a developer's .env and shell must not leak in
    os.environ["HELIOS_ENV_FILE"] = ""
    import helios
    from helios.config import Settings
    from helios.risk.checks import evaluate

    for key in Settings.model_fields:
        os.environ.pop(key.upper(), None)

    history, source = load_history(args.data_dir)
    last = max(pd.to_datetime(frame["timestamp"], utc=True).iloc[-1] for frame in history.values())
    today = (last.floor("D") + pd.Timedelta(days=1)).to_pydatetime()  # the day after the data
    clock = helios.ManualClock(today + timedelta(hours=8))  # 10:00 in Johannesburg

    with scratch_database(args.database_url) as (url, kind):
        began = time.perf_counter()
        with helios.connect(url, clock=clock, market_feed="manual", pairs=list(PAIRS)) as hx:
            build_scenario(hx, history)
            setup = time.perf_counter() - began
            pair, side, params = TRADE
            inputs, _ = hx.risk.gather(pair, side, params)
            n_open = len(inputs.state.positions)
            stats = hx.risk.market_stats()
            result = hx.risk.check_trade_risk(pair, side, params)
            replayed = hx.risk.replay(result.decision_id)
            print(f"database: {database_version(hx)}")
            print(f"history: {source}; {len(history)} pairs x {HOURS} hourly candles")
            print(
                f"book: {n_open} open positions, equity R{inputs.state.equity:,.2f}; "
                f"clock {clock.now():%Y-%m-%d %H:%M} UTC; setup {setup:.1f} s"
            )
            print(
                "volatility: "
                + ", ".join(
                    f"{p} {v.daily_vol:.2%} ({v.method})"
                    for p, v in stats.vols.items()
                    if v.daily_vol is not None
                )
            )
            print(
                f"R903 BTCZAR buy: passed={result.passed} ({result.reason}); "
                f"replay agrees: {replayed.to_dict() == result.to_dict()}"
            )
            if n_open != 20:
                raise RuntimeError(f"expected 20 open positions, found {n_open}")

            scale = args.scale
            timings = [
                measure(
                    "check_trade_risk (stores a decision)",
                    lambda: hx.risk.check_trade_risk(pair, side, params),
                    int(2000 * scale),
                    100,
                ),
                measure(
                    "preview (no store, + headroom)",
                    lambda: hx.risk.preview(pair, side, params),
                    int(2000 * scale),
                    100,
                ),
                measure(
                    "gather (the reads alone)",
                    lambda: hx.risk.gather(pair, side, params),
                    int(2000 * scale),
                    100,
                ),
                measure(
                    "checks.evaluate (pure function)",
                    lambda: evaluate(inputs.state, inputs.limits, inputs.trade, inputs.stats),
                    int(20000 * scale),
                    1000,
                ),
                measure(
                    "market_stats() cache hit",
                    hx.risk.market_stats,
                    int(2000 * scale),
                    100,
                ),
                measure(
                    "refresh_stats() (GARCH refit, 5 pairs)",
                    hx.risk.refresh_stats,
                    max(3, int(10 * scale)),
                    1,
                ),
            ]
            fit = hx.risk.market_stats().fit_seconds
            db_version = database_version(hx)

    print()
    header = f"{'operation':42} {'n':>6} {'median':>11} {'p90':>11} {'p99':>11} {'mean':>11}"
    print(header)
    print("-" * len(header))
    for t in timings:
        print(
            f"{t.name:42} {t.n:>6} {fmt(t.median):>11} {fmt(t.p90):>11} "
            f"{fmt(t.p99):>11} {fmt(t.mean):>11}"
        )
    print(f"(last refit: the fit itself took {fmt(fit)} of the refresh)")
    check, pure = timings[0], timings[3]
    print(
        f"\ntargets: check_trade_risk median {fmt(check.median)} "
        f"({'meets' if check.median < 2e-3 else 'MISSES'} < 2 ms); evaluate median "
        f"{fmt(pure.median)} ({'meets' if pure.median < 100e-6 else 'MISSES'} < 100 us)"
    )
    if not args.no_record:
        record(timings, fit, kind, db_version, source, args.note)
        print(f"recorded in {RESULTS.relative_to(HERE.parent)}")


def record(
    timings: list[Timing], fit: float, kind: str, db_version: str, source: str, note: str
) -> None:
    append_results(
        RESULTS,
        "# Risk check benchmark (issue 3)\n\n"
        "Produced by `python bench/bench_risk.py [--database-url URL]`; newest section last.\n"
        "Targets: `check_trade_risk` median < 2 ms, `checks.evaluate` median < 100 us.\n",
        kind,
        note,
        [
            f"- database: {db_version}",
            f"- scenario: 5 pairs x {HOURS} hourly candles from {source}; 20 open positions; "
            "the R903 BTCZAR buy",
        ],
        timings,
        [f"GARCH fit alone (last refit): {fmt(fit)}.", ""],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: a temporary SQLite file; a PostgreSQL URL names the server on which a "
        "scratch database is created and dropped",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the iteration counts (default 1)"
    )
    parser.add_argument("--note", default="", help="a label for the recorded section")
    parser.add_argument(
        "--no-record", action="store_true", help=f"print only, do not append to {RESULTS.name}"
    )
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
