"""Benchmark for issue 7 (the dashboard): every page's script run on a year of data.

Target (issue 7, quality): on a database with a year of minute snapshots (about 525,000 rows) and
10,000 closed positions, every page's script run takes under 1.5 s (charts downsample, tables
page).

The scenario, built through the public library and then bulk-inserted:

- ``helios.connect`` on a scratch database (migrations, the account, the trading mode), the 3
  default pairs with 400 days of daily candles (``tests/factories.daily_history``, ending
  yesterday) and a latest price each, 5 open positions (``hx.positions.open_position``), 40 risk
  decisions (``hx.risk.check_trade_risk``, about a third refused) and a halt and a resume;
- then, in one transaction with SQLAlchemy Core ``insert(...)`` executemany in chunks of 20,000:
  525,600 ``portfolio_snapshots`` (one a minute for the year ending now: a random-walk equity
  from R100,000 with its running peak, drawdown, start-of-day equity, daily P&L and loss, a book
  of 0 to 6 positions changing every hour: margin, exposure, leverage, risk used), 10,000 closed
  positions (STOPPED_OUT 35%, TAKE_PROFIT 25%, TIMEOUT 15%, CLOSED 18%, EMERGENCY_CLOSE 7% over
  BTCZAR, ETHZAR and SOLZAR, closed uniformly over the year, entry and exit prices, fees and
  realized P&L consistent with the status), their 20,000 orders and 20,000 fills, 40,000
  position events, and 8,760 system events (about one an hour). The ledger is not rewritten for
  the bulk positions (no page reads the ledger entries; cash comes from ``portfolio_state``).

Measured (time.perf_counter around ``AppTest.run()``, Streamlit's headless runner, with
``DATABASE_URL`` at the scratch database, ``MARKET_FEED=manual`` and ``HELIOS_ENV_FILE=''``), for
each page (Summary, the default of ``app.py``; Positions, Chart (BTCZAR, the last 7 days at
1h), Risk, Review over its default
period, the last 7 days, with the daily profit table of 7 days; Trade preview,
Optimizer, Controls): the first visit (a new AppTest right after ``st.cache_resource.clear()``:
the page's first imports, ``helios.connect``, the first fit of the risk statistics), a cold run
(the same again, imports warm) and ``--warm`` (5) warm reruns of that AppTest: median and max.
The target is on the warm median. For information, heavier inputs: the Summary's equity chart
over the year, the Review over the last 90 days and over the whole year, its daily profit
table over 366 days, the Chart over BTCZAR's year at 1d with its trades (the year at 1h from
minute candles is ``bench/bench_chart.py``), and Positions
with the closed positions over the year at page 50 and one position's story open.
A row whose warm median misses the target (``--profile``: every row) gets one more warm run under
cProfile (in the script's thread), a cold run over the target one more cold run
(``--profile-cold``: every row); the top helios, pages and ui functions are printed and recorded.
When the Review over the year misses (or with ``--reads``), what ``hx.metrics.review``
reads for the year is timed alone beside cheaper reads of the same answers, and the whole
``hx.metrics.review`` call over the year, 90 days and 7 days (the Summary's "Last 7 days" box).

Usage::

    python bench/bench_dashboard.py
    python bench/bench_dashboard.py --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/bench_dashboard.py --sqlite-file /tmp/dash.db   # keep it; reuse it next time

Results are printed and appended to ``bench/results/dashboard.md``. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from common import HERE, database_version, machine_info, scratch_database

ROOT = HERE.parent
APP = ROOT / "app.py"
RESULTS = HERE / "results" / "dashboard.md"
HEADING = (
    "# Dashboard benchmark (issue 7)\n\n"
    "Produced by `python bench/bench_dashboard.py [--database-url URL]`; newest last.\n"
    "Target: on a year of minute snapshots (525,600 rows) and 10,000 closed positions, every "
    "page's script run (Streamlit AppTest, warm median) under 1.5 s.\n"
)
TARGET = 1.5
MINUTES = 365 * 24 * 60
CLOSED = 10_000
CANDLE_DAYS = 400
CHUNK = 20_000
PAIRS = ("BTCZAR", "ETHZAR", "SOLZAR")
PRICE = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0}
STATUS_MIX = {
    "STOPPED_OUT": 0.35,
    "TAKE_PROFIT": 0.25,
    "TIMEOUT": 0.15,
    "CLOSED": 0.18,
    "EMERGENCY_CLOSE": 0.07,
}
EVENT_MIX = {  # kind: (share, severity, actor, message)
    "LEADER": (0.30, "INFO", "scheduler", "scheduler took the lead"),
    "EXCHANGE_ERROR": (0.25, "WARNING", "paper", "paper venue timeout (simulated)"),
    "LOGIN": (0.25, "INFO", "thandi", "dashboard sign-in by thandi"),
    "HALT": (0.08, "CRITICAL", "watchdog", "stale prices: no price for 120 s"),
    "RESUME": (0.08, "INFO", "thandi", "trading resumed"),
    "LIMITS_CHANGED": (0.03, "INFO", "thandi", "limits version changed"),
    "EMERGENCY_STOP": (0.01, "CRITICAL", "thandi", "emergency stop"),
}
FEE = 0.0035
OPEN_BOOK = 5
DECISIONS = 40


@dataclass
class Scenario:
    label: str
    page: str | None  # None: app.py's default page (Summary)
    setup: Callable[[Any], None] | None = None  # applied after the cold run, before warm runs
    target: bool = True  # False: an information row (heavier inputs), not the target


@dataclass
class Result:
    scenario: Scenario
    first: float | None  # the page's first visit in this process: its imports, connect, fit
    cold: float | None  # after st.cache_resource.clear(): connect and the statistics fit
    warm: list[float]
    errors: list[str] = field(default_factory=list)
    title: str = ""
    profile: str = ""  # a warm run under cProfile
    profiled: float = 0.0
    cold_profile: str = ""  # a cold run under cProfile
    cold_profiled: float = 0.0

    @property
    def median(self) -> float:
        return float(np.median(self.warm))

    @property
    def worst(self) -> float:
        return float(max(self.warm))


def clean_environment() -> None:
    """No .env and no configuration from the shell: the benchmark sets what it uses."""
    os.environ["HELIOS_ENV_FILE"] = ""
    os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"  # a failing page says why
    from helios.config import Settings

    for key in Settings.model_fields:
        os.environ.pop(key.upper(), None)


# --- the scenario ------------------------------------------------------------------------------


def chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def money(value: float, places: int = 8) -> str:
    return f"{value:.{places}f}"


def build(hx: Any, rng: np.random.Generator, scale: float) -> dict[str, Any]:
    """The year of data (see the module docstring); returns what was written and how long."""
    sys.path.insert(0, str(ROOT))
    from tests.factories import daily_history

    began = time.perf_counter()
    now = hx.clock.now()
    yesterday = now - timedelta(days=1)
    for pair in PAIRS:
        frame = daily_history(pair, PRICE[pair], CANDLE_DAYS, yesterday)
        hx.market.ingest(pair, frame, "1d", source="bench")
        hx.market.set_price(pair, str(PRICE[pair]))
    trade = {"position_size_zar": 1500, "leverage": 1, "stop_loss_pct": 0.05}
    for i in range(OPEN_BOOK):
        opened = hx.positions.open_position(PAIRS[i % 3], "BUY", trade, "bench: the open book")
        if not opened["success"]:
            raise RuntimeError(f"open book position refused: {opened}")
    refused = 0
    for i in range(DECISIONS):
        size = float(rng.choice([900, 2500, 8000, 30000]))
        params = {"position_size_zar": size, "leverage": float(rng.choice([1, 2, 3]))}
        result = hx.risk.check_trade_risk(PAIRS[i % 3], "BUY" if i % 4 else "SELL", params)
        refused += not result.passed
    hx.controls.halt("bench: a halt for the event log", "bench")
    hx.controls.resume("bench", "bench: resumed")
    live = time.perf_counter() - began

    from sqlalchemy import insert

    from helios.db.engine import WRITE_OPTION
    from helios.db.models import Event, Fill, Order, PortfolioSnapshot, Position, PositionEvent

    minutes = max(int(MINUTES * scale), 2)
    closed = max(int(CLOSED * scale), 10)
    counts: dict[str, int] = {}
    began = time.perf_counter()
    with hx.db.engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            positions = position_rows(rng, now, closed)
            table = Position.__table__
            ids: list[int] = []
            for batch in chunks(positions):
                stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                ids.extend(conn.execute(stmt, batch).scalars().all())
            counts["positions (closed)"] = len(ids)
            orders = order_rows(positions, ids)
            table = Order.__table__
            order_ids: list[int] = []
            for batch in chunks(orders):
                stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                order_ids.extend(conn.execute(stmt, batch).scalars().all())
            counts["orders"] = len(order_ids)
            fills = fill_rows(positions, orders, order_ids)
            for batch in chunks(fills):
                conn.execute(insert(Fill.__table__), batch)
            counts["fills"] = len(fills)
            story = position_event_rows(positions, ids)
            for batch in chunks(story):
                conn.execute(insert(PositionEvent.__table__), batch)
            counts["position_events"] = len(story)
            events = event_rows(rng, now, max(int(365 * 24 * scale), 10))
            for batch in chunks(events):
                conn.execute(insert(Event.__table__), batch)
            counts["events"] = len(events)
            n = 0
            for batch in chunks(snapshot_rows(rng, now, minutes, hx.settings.initial_capital_zar)):
                conn.execute(insert(PortfolioSnapshot.__table__), batch)
                n += len(batch)
            counts["portfolio_snapshots"] = n
    bulk = time.perf_counter() - began
    return {
        "counts": counts,
        "live_seconds": live,
        "bulk_seconds": bulk,
        "refused": refused,
        "last_closed_id": ids[-1],
    }


def snapshot_rows(
    rng: np.random.Generator, now: datetime, minutes: int, initial: Any
) -> Iterator[dict[str, Any]]:
    """One snapshot a minute for ``minutes`` ending at ``now``'s minute."""
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    steps = rng.normal(0.000004, 0.012 / np.sqrt(1440), minutes)  # ~1.2% daily volatility
    steps[0] = 0.0
    equity = float(initial) * np.exp(np.cumsum(steps))
    peak = np.maximum.accumulate(equity)
    drawdown = 1 - equity / peak
    offsets = np.arange(minutes)
    # the trading day in Africa/Johannesburg (UTC+2, no daylight saving)
    day = (int(start.timestamp()) // 60 + offsets + 120) // 1440
    day -= day[0]
    first = np.unique(day, return_index=True)[1]
    sod = equity[first][day]
    daily_pnl = equity - sod
    daily_loss = np.maximum(0.0, 1 - equity / sod)
    hours = offsets // 60
    book = rng.integers(0, 7, hours[-1] + 1)[hours]
    margin = book * rng.uniform(800, 2500, hours[-1] + 1)[hours]
    gross = margin * rng.choice([1.0, 1.0, 2.0, 3.0], hours[-1] + 1)[hours]
    upnl = gross * rng.normal(0, 0.01, minutes)
    cash = equity - margin - upnl
    leverage = gross / equity
    risk_used = gross * 0.03
    for i in range(minutes):
        yield {
            "ts": start + timedelta(minutes=i),
            "mode": "PAPER",
            "equity": money(equity[i]),
            "cash": money(cash[i]),
            "margin": money(margin[i]),
            "unrealized_pnl": money(upnl[i]),
            "gross_exposure": money(gross[i]),
            "peak_equity": money(peak[i]),
            "start_of_day_equity": money(sod[i]),
            "drawdown": money(drawdown[i]),
            "daily_pnl": money(daily_pnl[i]),
            "daily_loss": money(daily_loss[i]),
            "leverage": money(leverage[i]),
            "open_positions": int(book[i]),
            "risk_used": money(risk_used[i]),
            "halted": False,
        }


def position_rows(rng: np.random.Generator, now: datetime, n: int) -> list[dict[str, Any]]:
    """``n`` closed positions, closed uniformly over the year, oldest first (ids grow with time)."""
    statuses = rng.choice(list(STATUS_MIX), n, p=list(STATUS_MIX.values()))
    held = {
        "STOPPED_OUT": lambda: rng.exponential(10),
        "TAKE_PROFIT": lambda: rng.exponential(20),
        "TIMEOUT": lambda: 72.0,
        "CLOSED": lambda: rng.uniform(0.1, 72),
        "EMERGENCY_CLOSE": lambda: rng.uniform(0.1, 72),
    }
    closed_at = sorted(now - timedelta(seconds=float(s)) for s in rng.uniform(600, 365 * 86400, n))
    rows = []
    for i, status in enumerate(statuses):
        status = str(status)
        pair = PAIRS[int(rng.integers(3))]
        side = "BUY" if rng.random() < 0.7 else "SELL"
        sign = 1 if side == "BUY" else -1
        size = round(float(rng.uniform(500, 5000)), 2)
        leverage = float(rng.choice([1, 1, 1, 2, 3]))
        stop_pct = round(float(rng.uniform(0.01, 0.05)), 4)
        take_pct = round(stop_pct * 3, 4)
        entry = PRICE[pair] * float(np.exp(rng.normal(0, 0.15)))
        if status == "STOPPED_OUT":
            exit_ = entry * (1 - sign * stop_pct) * (1 - sign * abs(rng.normal(0, 0.001)))
        elif status == "TAKE_PROFIT":
            exit_ = entry * (1 + sign * take_pct)
        else:
            exit_ = entry * float(np.exp(rng.normal(0, 0.02)))
        notional = size * leverage
        quantity = notional / entry
        entry_fee = notional * FEE
        exit_fee = quantity * exit_ * FEE
        pnl = sign * (exit_ - entry) * quantity - entry_fee - exit_fee
        closed = closed_at[i]
        hours = min(max(float(held[status]()), 0.02), 72.0)
        opened = closed - timedelta(hours=hours)
        rows.append(
            {
                "pair": pair,
                "side": side,
                "status": status,
                "mode": "PAPER",
                "position_size_zar": money(size),
                "leverage": money(leverage),
                "notional": money(notional),
                "quantity": money(quantity, 12),
                "entry_price": money(entry),
                "exit_price": money(exit_),
                "entry_fee": money(entry_fee),
                "exit_fee": money(exit_fee),
                "realized_pnl": money(pnl),
                "stop_loss_pct": money(stop_pct),
                "take_profit_pct": money(take_pct),
                "stop_loss_price": money(entry * (1 - sign * stop_pct)),
                "take_profit_price": money(entry * (1 + sign * take_pct)),
                "best_price": money(max(entry, exit_) if side == "BUY" else min(entry, exit_)),
                "max_holding_hours": "72",
                "strategic_reasoning": "Kelly + Vol targeting, LLM approved (bench)",
                "close_reason": status,
                "created_at": opened - timedelta(seconds=2),
                "opened_at": opened,
                "closed_at": closed,
                "last_monitored_at": closed - timedelta(seconds=1),
                "updated_at": closed,
                "version": 4,
            }
        )
    return rows


def order_rows(positions: list[dict[str, Any]], ids: list[int]) -> list[dict[str, Any]]:
    rows = []
    for pid, p in zip(ids, positions, strict=True):
        closing = "SELL" if p["side"] == "BUY" else "BUY"
        for action, side, when in (("OPEN", p["side"], p["opened_at"]), ("CLOSE", closing, None)):
            rows.append(
                {
                    "client_order_id": f"HX-bench-{pid}-{action}" + ("-1" if when is None else ""),
                    "position_id": pid,
                    "action": action,
                    "mode": "PAPER",
                    "pair": p["pair"],
                    "side": side,
                    "quantity": None if when else p["quantity"],
                    "quote_amount": p["notional"] if when else None,
                    "status": "FILLED",
                    "exchange_order_id": f"bench-{pid}-{action.lower()}",
                    "created_at": (when or p["closed_at"]) - timedelta(seconds=1),
                    "updated_at": when or p["closed_at"],
                }
            )
    return rows


def fill_rows(
    positions: list[dict[str, Any]], orders: list[dict[str, Any]], ids: list[int]
) -> list[dict[str, Any]]:
    """One fill per order: the opening one at the entry price, the closing one at the exit."""
    rows = []
    for i, p in enumerate(positions):
        for j, price, fee in (
            (2 * i, "entry_price", "entry_fee"),
            (2 * i + 1, "exit_price", "exit_fee"),
        ):
            rows.append(
                {
                    "order_id": ids[j],
                    "client_order_id": orders[j]["client_order_id"],
                    "price": p[price],
                    "quantity": p["quantity"],
                    "fee": p[fee],
                    "ts": orders[j]["updated_at"],
                }
            )
    return rows


def position_event_rows(positions: list[dict[str, Any]], ids: list[int]) -> list[dict[str, Any]]:
    rows = []
    for pid, p in zip(ids, positions, strict=True):
        status = p["status"]
        for when, kind, message in (
            (p["created_at"], "OPEN_REQUESTED", f"{p['side']} {p['pair']} margin "),
            (p["opened_at"], "OPENED", f"filled {p['quantity']} at {p['entry_price']}"),
            (p["closed_at"] - timedelta(seconds=1), "CLOSE_REQUESTED", f"{status} requested"),
            (p["closed_at"], "CLOSED", f"{status}: filled at {p['exit_price']}, realized "),
        ):
            rows.append(
                {
                    "position_id": pid,
                    "ts": when,
                    "kind": kind,
                    "message": message
                    + (p["position_size_zar"] if kind == "OPEN_REQUESTED" else "")
                    + (p["realized_pnl"] if kind == "CLOSED" else ""),
                    "details": None,
                }
            )
    return rows


def event_rows(rng: np.random.Generator, now: datetime, n: int) -> list[dict[str, Any]]:
    kinds = rng.choice(list(EVENT_MIX), n, p=[v[0] for v in EVENT_MIX.values()])
    stamps = sorted(now - timedelta(seconds=float(s)) for s in rng.uniform(60, 365 * 86400, n))
    rows = []
    for kind, ts in zip(kinds, stamps, strict=True):
        _share, severity, actor, message = EVENT_MIX[str(kind)]
        rows.append(
            {
                "ts": ts,
                "kind": str(kind),
                "severity": severity,
                "message": message,
                "actor": actor,
                "details": None,
            }
        )
    return rows


# --- measuring ---------------------------------------------------------------------------------


def scenarios(today: Any, story_id: int) -> list[Scenario]:
    today_minus_year = today - timedelta(days=365)

    def weekly_year(at: Any) -> None:
        at.date_input[0].set_value(today_minus_year)

    def weekly_quarter(at: Any) -> None:
        at.date_input[0].set_value(today - timedelta(days=90))

    def positions_year(at: Any) -> None:
        at.date_input(key="closed_from").set_value(today_minus_year)
        at.number_input(key="story_id").set_value(story_id)
        at.selectbox(key="closed_page_size").set_value(100)
        at.number_input(key="closed_page").set_value(50)  # rows 4,901-5,000 (OFFSET 4900)

    def profit_year(at: Any) -> None:
        at.number_input(key="profit_count_daily").set_value(366)

    def chart_year(at: Any) -> None:  # a year of daily candles, ~3,300 of the positions marked
        at.selectbox(key="chart_interval").set_value("1d")
        at.selectbox(key="chart_range").set_value("Last year")

    def summary_year(at: Any) -> None:
        at.segmented_control(key="equity_period").set_value("Year")

    return [
        Scenario("Summary", None),
        Scenario("Positions", "app_pages/positions.py"),
        Scenario("Chart (its default: BTCZAR, the last 7 days)", "app_pages/chart.py"),
        Scenario("Risk", "app_pages/risk.py"),
        Scenario("Review (the last 7 days; the daily profit table)", "app_pages/review.py"),
        Scenario("Trade preview", "app_pages/preview.py"),
        Scenario("Optimizer", "app_pages/optimizer.py"),
        Scenario("Controls", "app_pages/controls.py"),
        Scenario("Summary, the equity chart over the year", None, summary_year, False),
        Scenario("Review, the last 90 days", "app_pages/review.py", weekly_quarter, False),
        Scenario("Review, the whole year", "app_pages/review.py", weekly_year, False),
        Scenario(
            "Review, the daily profit table over 366 days",
            "app_pages/review.py",
            profit_year,
            False,
        ),
        Scenario(
            "Chart, BTCZAR's year at 1d with its trades", "app_pages/chart.py", chart_year, False
        ),
        Scenario(
            "Positions, closed over the year, page 50 + a story",
            "app_pages/positions.py",
            positions_year,
            False,
        ),
    ]


def new_app(page: str | None, timeout: float) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if page is not None:
        at.switch_page(page)
    return at


def timed_run(at: Any) -> float:
    began = time.perf_counter()
    at.run()
    return time.perf_counter() - began


def measure_page(scenario: Scenario, warm: int, timeout: float) -> tuple[Result, Any]:
    """Target rows: the first visit and a cold run (each a new AppTest after
    ``st.cache_resource.clear()``), then ``warm`` reruns of the cold one. Information rows: one
    untimed run, the heavier inputs set, then the warm reruns."""
    import streamlit as st

    first = cold = None
    if scenario.target:
        st.cache_resource.clear()
        first = timed_run(new_app(scenario.page, timeout))
        st.cache_resource.clear()  # cold: helios.connect and the risk statistics again
        at = new_app(scenario.page, timeout)
        cold = timed_run(at)
    else:
        at = new_app(scenario.page, timeout)
        at.run()
    errors = failures(at)
    if scenario.setup is not None:
        try:
            scenario.setup(at)
        except (KeyError, ValueError, AttributeError) as exc:  # the widget is not on the page
            errors.append(f"setup: {type(exc).__name__}: {exc}")
    samples = [timed_run(at) for _ in range(warm)]
    errors += [e for e in failures(at) if e not in errors]
    title = at.title[0].value if len(at.title) else ""
    return Result(scenario, first, cold, samples, errors, title), at


def profile_cold(scenario: Scenario, timeout: float, top: int) -> tuple[float, str]:
    import streamlit as st

    st.cache_resource.clear()
    return profile_run(new_app(scenario.page, timeout), top)


def failures(at: Any) -> list[str]:
    """The page's exceptions, each with the last line of its traceback."""
    return [
        e.message + (f" ({e.stack_trace[-1].strip()})" if e.stack_trace else "")
        for e in at.exception
    ]


@contextmanager
def thread_profiles() -> Iterator[list[cProfile.Profile]]:
    """cProfile in every thread started inside the block (AppTest runs the script in one)."""
    profilers: list[cProfile.Profile] = []

    def hook(*_args: Any) -> None:
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()  # replaces this hook in the new thread

    threading.setprofile(hook)
    try:
        yield profilers
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]


def profile_run(at: Any, top: int) -> tuple[float, str]:
    with thread_profiles() as profilers:
        seconds = timed_run(at)
    stats: pstats.Stats | None = None
    out = io.StringIO()
    for profiler in profilers:
        profiler.disable()
        if not profiler.getstats():
            continue
        if stats is None:
            stats = pstats.Stats(profiler, stream=out)
        else:
            stats.add(profiler)
    if stats is None:
        return seconds, "(nothing profiled)"
    stats.sort_stats("cumulative").print_stats(r"helios/|app_pages/|ui/", top)
    stats.sort_stats("tottime").print_stats(top)
    keep = []
    for line in out.getvalue().splitlines():
        if line.strip() and not line.startswith(("   Ordered by", "   List reduced")):
            for prefix in (str(ROOT), sys.prefix, sys.base_prefix):
                line = line.replace(prefix + "/", "")
            keep.append(line)
    return seconds, "\n".join(keep)


def fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def verdict(result: Result) -> str:
    if result.errors:
        return "ERROR"
    if not result.scenario.target:
        return "information"
    return "meets" if result.median < TARGET else "MISSES"


# --- where review() could save: its reads over the year, as now and alternatives -------------


def review_reads(url: str, repeats: int = 3) -> list[tuple[str, float, str]]:
    """Time what ``hx.metrics.review`` read for a year before its per-day reads, cheaper reads of
    the same answers (the evidence for that change), and the whole call as it is now over a year,
    90 days and 7 days: (label, median s, answer)."""
    from sqlalchemy import Float, cast, func, select

    import helios
    from helios.db.models import PortfolioSnapshot as S
    from helios.db.models import Position

    hx = helios.connect(url, market_feed="manual")
    end = hx.clock.now()
    begin = end - timedelta(days=365)
    period = (S.ts >= begin, S.ts <= end)
    statuses = list(STATUS_MIX)

    def as_now() -> str:
        with hx.db.read() as session:
            rows = session.execute(
                select(S.ts, S.equity, S.drawdown, S.daily_loss, S.leverage)
                .where(*period)
                .order_by(S.ts)
            ).all()
        return f"{len(rows):,} rows"

    def cast_floats() -> str:
        with hx.db.read() as session:
            rows = session.execute(
                select(
                    S.ts,
                    cast(S.equity, Float),
                    cast(S.drawdown, Float),
                    cast(S.daily_loss, Float),
                    cast(S.leverage, Float),
                )
                .where(*period)
                .order_by(S.ts)
            ).all()
        return f"{len(rows):,} rows"

    def as_floats() -> str:
        with hx.db.read() as session:
            rows = session.execute(
                select(cast(S.equity, Float)).where(*period).order_by(S.ts)
            ).scalars()
            equity = np.fromiter(rows, dtype=float)
        peaks = np.maximum.accumulate(equity)
        return f"max drawdown {float(np.max(1 - equity / peaks)):.4f}"

    def counted() -> str:
        with hx.db.read() as session:
            row = session.execute(
                select(
                    func.count(),
                    func.count().filter(cast(S.drawdown, Float) > 0.15),
                    func.count().filter(cast(S.daily_loss, Float) > 0.05),
                    func.count().filter(cast(S.leverage, Float) > 3.0),
                    func.max(cast(S.drawdown, Float)),
                ).where(*period)
            ).one()
        return f"{row[0]:,} snapshots, violations {row[1]}/{row[2]}/{row[3]}, max {row[4]:.4f}"

    def daily_last() -> str:
        last = select(func.max(S.id)).where(*period).group_by(func.date(S.ts))
        with hx.db.read() as session:
            rows = session.execute(
                select(S.ts, S.equity).where(S.id.in_(last)).order_by(S.ts)
            ).all()
        return f"{len(rows)} daily closes"

    def window_drawdown() -> str:
        equity = cast(S.equity, Float)
        peak = func.max(equity).over(order_by=S.ts, rows=(None, 0))
        inner = select((1 - equity / peak).label("dd")).where(*period).subquery()
        with hx.db.read() as session:
            return f"max drawdown {session.scalar(select(func.max(inner.c.dd))):.4f}"

    def positions_orm() -> str:
        with hx.db.read() as session:
            rows = list(
                session.scalars(
                    select(Position).where(
                        Position.status.in_(statuses),
                        Position.closed_at >= begin,
                        Position.closed_at <= end,
                    )
                )
            )
        return f"{len(rows):,} Position objects"

    def positions_columns() -> str:
        with hx.db.read() as session:
            rows = session.execute(
                select(
                    Position.pair,
                    Position.status,
                    Position.realized_pnl,
                    Position.position_size_zar,
                ).where(
                    Position.status.in_(statuses),
                    Position.closed_at >= begin,
                    Position.closed_at <= end,
                )
            ).all()
        return f"{len(rows):,} rows of 4 columns"

    def whole(days: int) -> Callable[[], str]:
        def call() -> str:
            review = hx.metrics.review(end - timedelta(days=days), end)
            return (
                f"{review['daily_returns']} daily returns, {review['closed_positions']:,} closed, "
                f"max drawdown {review['max_drawdown']:.4f}, violations "
                f"{review['risk_limit_violations_total']}"
            )

        return call

    reads = [
        ("every snapshot: ts + 4 Exact columns (review() before b85b2b1)", as_now),
        ("every snapshot: ts + 4 columns CAST AS FLOAT (review() at b85b2b1)", cast_floats),
        ("equity only, CAST AS FLOAT, into numpy (exact max drawdown)", as_floats),
        ("violations and max stored drawdown counted in SQL (one pass)", counted),
        ("the last snapshot of each UTC day in SQL (Sharpe, Sortino)", daily_last),
        ("max drawdown in SQL (window: running peak)", window_drawdown),
        ("closed positions, ORM, every column (review() up to its per-day reads)", positions_orm),
        ("closed positions, the 4 columns review() uses (review() now)", positions_columns),
        ("hx.metrics.review over the year, the whole call (now)", whole(365)),
        ("hx.metrics.review over the last 90 days, the whole call (now)", whole(90)),
        ("hx.metrics.review over the last 7 days (the Summary's box; now)", whole(7)),
    ]
    out = []
    try:
        for label, read in reads:
            samples = []
            for _ in range(repeats):
                began = time.perf_counter()
                answer = read()
                samples.append(time.perf_counter() - began)
            out.append((label, float(np.median(samples)), answer))
            print(f"  {label:<64} {fmt_s(out[-1][1]):>9}  ({answer})", flush=True)
    finally:
        hx.close()
    return out


# --- running -----------------------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, str, bool]]:
    """(URL, kind, built here). ``--sqlite-file``: kept afterwards, reused when it exists."""
    if args.sqlite_file is not None:
        path = args.sqlite_file.resolve()
        yield f"sqlite:///{path}", "sqlite", not path.exists()
        return
    with scratch_database(args.database_url) as (url, kind):
        yield url, kind, True


def run(args: argparse.Namespace) -> None:
    import helios

    rng = np.random.default_rng(20261126)
    load_before = os.getloadavg()
    code_before = code_state()  # helios is imported once, now: this is the code measured
    with database(args) as (url, kind, fresh):
        with helios.connect(url, market_feed="manual") as hx:
            built = build(hx, rng, args.scale) if fresh else describe(hx)
            version = database_version(hx)
            today = hx.clock.now().astimezone(_zone(hx)).date()
            size = database_size(hx, url)
        print(
            f"{kind}: {version}; built {fresh}: {built['counts']}"
            + (
                f" in {built['live_seconds']:.1f} s (library) + {built['bulk_seconds']:.1f} s "
                "(bulk insert)"
                if fresh
                else ""
            )
            + f"; size {size}",
            flush=True,
        )
        os.environ["DATABASE_URL"] = url
        os.environ["MARKET_FEED"] = "manual"
        main_module = sys.modules["__main__"]
        results: list[Result] = []
        try:
            chosen = [
                s
                for s in scenarios(today, built["last_closed_id"])
                if not args.pages or any(p.lower() in s.label.lower() for p in args.pages)
            ]
            for scenario in chosen:
                result, at = measure_page(scenario, args.warm, args.timeout)
                if args.profile or result.median >= TARGET:
                    result.profiled, result.profile = profile_run(at, args.profile_top)
                if result.cold is not None and (args.profile_cold or result.cold >= TARGET):
                    result.cold_profiled, result.cold_profile = profile_cold(
                        scenario, args.timeout, args.profile_top
                    )
                results.append(result)
                print(
                    f"{scenario.label:<44} first {fmt_s(result.first):>9}  cold "
                    f"{fmt_s(result.cold):>9}  warm median "
                    f"{fmt_s(result.median):>9}  max {fmt_s(result.worst):>9}  {verdict(result)}"
                    + f"  [{result.title}]"
                    + (f"  errors: {result.errors}" if result.errors else ""),
                    flush=True,
                )
        finally:
            import streamlit as st

            st.cache_resource.clear()  # dispose the app's engine before the database goes
            sys.modules["__main__"] = main_module
        reads: list[tuple[str, float, str]] = []
        year = [r for r in results if r.scenario.label.startswith("Review, the whole")]
        if args.reads or any(r.median >= TARGET for r in year):
            print("\nhx.metrics.review's reads over the year, and cheaper ones:", flush=True)
            reads = review_reads(url)
    for result in results:
        if result.profile:
            print(
                f"\n--- {result.scenario.label}: one warm run under cProfile "
                f"({result.profiled:.2f} s)\n{result.profile}"
            )
        if result.cold_profile:
            print(
                f"\n--- {result.scenario.label}: one cold run under cProfile "
                f"({result.cold_profiled:.2f} s)\n{result.cold_profile}"
            )
    if not args.no_record:
        record(args, kind, version, built, fresh, size, results, load_before, reads, code_before)


def _zone(hx: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(hx.settings.trading_day_timezone)


def describe(hx: Any) -> dict[str, Any]:
    """Row counts of a reused database."""
    from sqlalchemy import func, select

    from helios.db.models import Event, Fill, Order, PortfolioSnapshot, Position, PositionEvent

    counts = {}
    with hx.db.read() as session:
        for name, model in (
            ("positions (closed)", Position),
            ("orders", Order),
            ("fills", Fill),
            ("position_events", PositionEvent),
            ("events", Event),
            ("portfolio_snapshots", PortfolioSnapshot),
        ):
            query = select(func.count()).select_from(model)
            if model is Position:
                query = query.where(Position.status.in_(list(STATUS_MIX)))
            counts[name] = int(session.scalar(query) or 0)
        last = session.scalar(select(func.max(Position.id)))
    return {"counts": counts, "last_closed_id": int(last or 1)}


def code_state() -> str:
    """The commit measured, and the dashboard's files changed on top of it (uncommitted)."""
    import subprocess

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip("\n")  # not strip(): a status line starts with a space

    commit = git("rev-parse", "--short", "HEAD").strip() or "?"
    changed = git("status", "--porcelain", "--", "helios", "pages", "ui", "app.py").splitlines()
    names = [line[3:] for line in changed]
    return f"commit {commit}" + (
        f" with uncommitted changes to {', '.join(names)}" if names else " (clean)"
    )


def database_size(hx: Any, url: str) -> str:
    if hx.db.dialect == "sqlite":
        path = Path(url.split("sqlite:///", 1)[1])
        wal = path.with_name(path.name + "-wal")
        mib = path.stat().st_size / 2**20
        return f"{mib:.0f} MiB" + (
            f" + {wal.stat().st_size / 2**20:.0f} MiB WAL" if wal.exists() else ""
        )
    from sqlalchemy import text

    with hx.db.engine.connect() as conn:
        found = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    return f"{found / 2**20:.0f} MiB"


def record(
    args: argparse.Namespace,
    kind: str,
    version: str,
    built: dict[str, Any],
    fresh: bool,
    size: str,
    results: list[Result],
    load_before: tuple[float, float, float],
    reads: list[tuple[str, float, str]],
    code_before: str,
) -> None:
    info = machine_info()
    counts = ", ".join(f"{n:,} {name}" for name, n in built["counts"].items())
    how = (
        f"built in {built['live_seconds']:.1f} s through the library and "
        f"{built['bulk_seconds']:.1f} s of bulk insert"
        if fresh
        else "a database built by an earlier run (reused)"
    )
    missed = [r.scenario.label for r in results if verdict(r) in ("MISSES", "ERROR")]
    slow = [r.scenario.label for r in results if verdict(r) == "information" and r.median >= TARGET]
    load = ", ".join(f"{x:.2f}" for x in load_before)
    lines = [
        "",
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {kind}"
        + (f": {args.note}" if args.note else ""),
        "",
        f"- database: {version}, {size}",
        f"- scenario: {counts}; 3 pairs x {CANDLE_DAYS} daily candles, {OPEN_BOOK} open "
        f"positions, {DECISIONS} risk decisions ({built.get('refused', '?')} refused); {how}",
        "- measured: Streamlit AppTest, `at.run()` timed; first = the page's first visit in the "
        "process (a new AppTest after `st.cache_resource.clear()`: the page's first imports, "
        "`helios.connect`, the first risk-statistics fit); cold = the same again, imports warm; "
        f"warm = {args.warm} reruns of the cold AppTest (median, max); information rows: the "
        "heavier inputs set after one untimed run",
        f"- code: {code_before}"
        + (
            ""
            if (code_after := code_state()) == code_before
            else f" (helios as imported then; by the end: {code_after}, which app_pages/ and ui/ "
            "changes may have reached, as AppTest reads the page files on every run)"
        ),
        f"- machine: {info['cpu']}; load average {load} at the start",
        f"- python {info['python']}, numpy {info['numpy']}, pandas {info['pandas']}, "
        f"sqlalchemy {info['sqlalchemy']}, arch {info['arch']}",
        f"- target: warm median < {TARGET:g} s on every page -> "
        + ("meets" if not missed else f"MISSES on {', '.join(missed)}")
        + (f"; over {TARGET:g} s, for information: {', '.join(slow)}" if slow else ""),
        "",
        "| page | first visit | cold | warm median | warm max | n | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
        *(
            f"| {r.scenario.label} | {fmt_s(r.first)} | {fmt_s(r.cold)} | {fmt_s(r.median)} | "
            f"{fmt_s(r.worst)} | {len(r.warm)} | {verdict(r)} |"
            for r in results
        ),
        "",
    ]
    for r in results:
        if r.errors:
            lines += [f"- {r.scenario.label}: errors {r.errors}"]
    if reads:
        lines += [
            "What `hx.metrics.review` read for the year before its per-day reads (the Weekly "
            "review over the whole year), timed alone, cheaper reads of the same answers, and "
            "the whole call as it is now over a year, 90 days and 7 days (median of 3):",
            "",
            "| read | median | answer |",
            "|---|---:|---|",
            *(f"| {label} | {fmt_s(seconds)} | {answer} |" for label, seconds, answer in reads),
            "",
        ]
    for r in results:
        for which, seconds, text in (
            ("warm", r.profiled, r.profile),
            ("cold", r.cold_profiled, r.cold_profile),
        ):
            if text:
                lines += [
                    f"Where the time goes on {r.scenario.label}: one more {which} run under "
                    f"cProfile ({seconds:.2f} s; the profiler slows it), helios, pages and ui "
                    "functions by cumulative time, then every function by its own time:",
                    "",
                    "```",
                    text.rstrip(),
                    "```",
                    "",
                ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(HEADING)
    with RESULTS.open("a") as out:
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sqlite-file", type=Path, default=None, help="keep (or reuse) this DB")
    parser.add_argument("--scale", type=float, default=1.0, help="of the snapshots and positions")
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--pages", nargs="*", default=None, help="labels to run (substring)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--profile", action="store_true", help="profile a warm run of each")
    parser.add_argument("--profile-cold", action="store_true", help="and a cold run of each")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument(
        "--reads",
        action="store_true",
        help="time review()'s reads over the year (automatic "
        "when the Review over the year misses the target)",
    )
    parser.add_argument("--note", default="")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    clean_environment()
    run(args)


if __name__ == "__main__":
    main()
