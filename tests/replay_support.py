"""Synthetic markets, signals and the live loop for the replay engine's tests (issue 19).

- ``minute_bars``: 1m candles per pair, prices with 2 decimals (so a price read back from a CSV
  or a stored candle as float64 and turned into Decimal through its repr is the same number),
  a random walk with a crash at the end of the period when asked.
- ``daily_history``: daily candles before the period (the market statistics: volatility and the
  correlation need 30 daily returns), 2-decimal prices as well.
- ``make_signals``: signals spread over the period, each at its own second, with stops,
  targets, trailing stops and holding limits varied so that every exit happens.
- ``LiveLoop``: the scheduler's calls on a ManualClock, bar by bar, as the engine's step does
  them (``helios/replay/engine.py``), written out here so that the test does not use the
  engine to check the engine.
- ``book``: what a database holds of a run (decisions, positions, fills, cash, equity) as
  plain tuples of exact values, to compare two runs with ``==``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import helios
from helios.accounts.account import MARGIN_HELD_STATUSES
from helios.clock import ManualClock, trading_day
from helios.db.models import (
    Fill,
    Order,
    PortfolioSnapshot,
    PortfolioState,
    Position,
    RiskDecision,
    Signal,
)
from helios.market.candles import CandleRow

MINUTE = 60


def _round2(values: np.ndarray) -> np.ndarray:
    return np.round(values, 2)


def minute_bars(
    pair: str,
    start: datetime,
    minutes: int,
    first: float,
    *,
    seed: int,
    vol: float = 0.0012,
    drift: float = 0.0,
    gap_at: int | None = None,
    gap: float = 0.0,
    bar_minutes: int = 1,
) -> pd.DataFrame:
    """``minutes`` bars of ``bar_minutes`` (1m by default) from ``start``: a random walk of
    the closes (``vol`` per bar, log, ``drift`` its mean), each bar opening near the previous
    close, high and low a bit outside; bar ``gap_at`` opens ``gap`` (a fraction) below the
    previous close (a crash through every stop)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(drift, vol, minutes)
    gaps = rng.normal(0.0, vol / 4, minutes)
    if gap_at is not None and gap:
        steps[gap_at] += np.log(1 - gap)
        gaps[gap_at] += np.log(1 - gap)
    closes = _round2(first * np.exp(np.cumsum(steps)))
    opens = _round2(np.concatenate([[first], closes[:-1]]) * np.exp(gaps))
    wick_up = np.abs(rng.normal(0.0, vol / 2, minutes))
    wick_down = np.abs(rng.normal(0.0, vol / 2, minutes))
    highs = np.maximum(
        _round2(np.maximum(opens, closes) * (1 + wick_up)), np.maximum(opens, closes)
    )
    lows = np.minimum(
        _round2(np.minimum(opens, closes) * (1 - wick_down)), np.minimum(opens, closes)
    )
    return pd.DataFrame(
        {
            "timestamp": [start + timedelta(minutes=i * bar_minutes) for i in range(minutes)],
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": rng.integers(1, 50, minutes).astype(float),
        }
    )


def daily_history(
    pair: str, before: datetime, last_close: float, days: int, seed: int
) -> pd.DataFrame:
    """``days`` daily candles ending the UTC day before ``before``, the last closing at
    ``last_close`` (2-decimal prices)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.03, days)
    log_closes = np.log(last_close) - np.concatenate([np.cumsum(steps[::-1])[::-1][1:], [0.0]])
    closes = _round2(np.exp(log_closes))
    opens = _round2(np.concatenate([[closes[0]], closes[:-1]]))
    highs = _round2(np.maximum(opens, closes) * 1.01)
    lows = _round2(np.minimum(opens, closes) * 0.99)
    day = datetime(before.year, before.month, before.day, tzinfo=UTC)
    return pd.DataFrame(
        {
            "timestamp": [day - timedelta(days=days - i) for i in range(days)],
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": 10.0,
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["timestamp"] = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in out["timestamp"]]
    out.to_csv(path, index=False)
    return path


@dataclass(frozen=True)
class LiveSignal:
    at: datetime
    pair: str
    side: str
    confidence: float
    trade_params: dict[str, float]


def make_signals(
    pairs: Sequence[str], start: datetime, minutes: int, count: int, *, seed: int
) -> list[LiveSignal]:
    """``count`` signals spread over ``minutes`` from ``start``, each at its own second (so the
    order they are processed in is the order they were made in, whichever source reads them),
    mostly BUY, with margins of R2,000 to R30,000 (the largest broken by
    max_single_position_pct), leverage 1 to 3, stops of 0.3% to 1.5%, targets of 0.3% to 2%,
    a trailing stop on every third, holding limits of 10 minutes to 2 hours."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.choice(np.arange(30, minutes * MINUTE - 120), count, replace=False))
    out = []
    for i, offset in enumerate(seconds):
        params: dict[str, float] = {
            "position_size_zar": float(rng.choice([1000, 2000, 3000, 5000, 25000])),
            "leverage": float(rng.choice([1, 1, 1, 2, 3])),
            "stop_loss_pct": round(float(rng.uniform(0.004, 0.025)), 4),
            "take_profit_pct": round(float(rng.uniform(0.003, 0.02)), 4),
            "max_holding_hours": float(rng.choice([0.17, 0.5, 1, 2])),
        }
        if i % 3 == 0:
            params["trailing_activation_pct"] = round(float(rng.uniform(0.001, 0.004)), 4)
            params["trailing_distance_pct"] = round(float(rng.uniform(0.001, 0.003)), 4)
        side = "SELL" if rng.random() < 0.2 else "BUY"
        if side == "SELL":
            params["take_profit_pct"] = min(params["take_profit_pct"], 0.9)
        out.append(
            LiveSignal(
                start + timedelta(seconds=int(offset)),
                str(rng.choice(list(pairs))),
                side,
                round(float(rng.uniform(0.55, 0.95)), 3),
                params,
            )
        )
    return out


def candle_rows(frame: pd.DataFrame) -> list[CandleRow]:
    """The table's bars as exact rows (a 2-decimal float's repr is its Decimal)."""
    return [
        CandleRow(
            ts if ts.tzinfo else ts.replace(tzinfo=UTC),
            Decimal(repr(float(o))),
            Decimal(repr(float(h))),
            Decimal(repr(float(lo))),
            Decimal(repr(float(c))),
            Decimal(repr(float(v))),
        )
        for ts, o, h, lo, c, v in zip(
            frame["timestamp"],
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]


class LiveLoop:
    """The scheduler's calls on a ManualClock, one instant (bar boundary) at a time.

    At instant t (bar k closes, bar k+1 opens at t), two moments, written out here with the
    public calls rather than taken from the engine: the close of bar k, one microsecond before
    t (every bar closed since the last step written whole, observed then, every pair's at once
    through ``hx.market.write_candle_batches``, as the scheduler's poll stores a moment;
    ``hx.positions.monitor_positions``),
    then the open of bar k+1 at t (the bar as its open, observed at t; the day roll
    ``hx.take_snapshot`` when the trading day changed; ``hx.halts.check``; the signals known by
    t through ``hx.signals.submit`` and ``hx.signals.process_pending``;
    ``hx.positions.monitor_positions`` again). At the end: no signals, and what is still open
    closed at the last close."""

    def __init__(
        self,
        hx: helios.Helios,
        clock: ManualClock,
        bars: dict[str, pd.DataFrame],
        observe: Callable[[datetime], None] | None = None,
    ) -> None:
        self.observe = observe  # called after the watchdog at each instant
        self.hx, self.clock, self.bars = hx, clock, bars
        self.written = {pair: 0 for pair in bars}
        self.rows = {pair: candle_rows(frame) for pair, frame in bars.items()}
        self.epochs = {
            pair: np.array([int(ts.timestamp()) for ts in frame["timestamp"]], dtype=np.int64)
            for pair, frame in bars.items()
        }
        self.day: date | None = None  # the first instant takes a snapshot, as a day roll does

    def step(self, t: datetime, signals: Sequence[LiveSignal] = (), *, final: bool = False) -> None:
        hx = self.hx
        now = int(t.timestamp())
        # the close of the bar ending at t, one microsecond before: the bars closed since the
        # last step, whole, then the stop monitor
        closing = t - timedelta(microseconds=1)
        self.clock.set(closing)
        # every pair's bars of a moment in one write, as the scheduler's poll stores them
        # (``hx.market.pull``: ``helios.market.polls``)
        closed: dict[str, list[CandleRow]] = {}
        for pair, rows in self.rows.items():
            done = int(np.searchsorted(self.epochs[pair], now))
            chosen = rows[self.written[pair] : done]
            if chosen:
                closed[pair] = chosen
            self.written[pair] = done
        if closed:
            with hx.db.write() as session:
                hx.market.write_candle_batches(session, MINUTE, closed, "replay", closing)
            hx.positions.monitor_positions()
        # the open of the bar starting at t: its open, the day roll, the watchdog, the signals
        # known by t, then the monitor again
        self.clock.set(t)
        opening: dict[str, list[CandleRow]] = {}
        for pair, rows in self.rows.items():
            at = self.written[pair]
            if at < len(rows) and int(self.epochs[pair][at]) == now:
                value = rows[at].open
                opening[pair] = [CandleRow(t, value, value, value, value, Decimal(0))]
        if opening:
            with hx.db.write() as session:
                hx.market.write_candle_batches(session, MINUTE, opening, "replay", t)
        today = trading_day(t, hx.settings.trading_day_timezone)
        if today != self.day:
            hx.take_snapshot()
        self.day = today
        hx.halts.check()
        if self.observe is not None:
            self.observe(t)
        if not final:
            for s in signals:
                hx.signals.submit(
                    s.pair,
                    s.side,
                    s.confidence,
                    True,
                    trade_params=s.trade_params,
                    created_at=s.at,
                    source="python",
                )
            if signals:
                hx.signals.process_pending()
        hx.positions.monitor_positions()
        if final:
            hx.positions.close_all("CLOSED", actor="replay")
            hx.take_snapshot()  # the run's last snapshot

    def run(self, start: datetime, minutes: int, signals: Sequence[LiveSignal]) -> None:
        """Every instant from ``start`` to the end of the last bar."""
        pending = sorted(signals, key=lambda s: s.at)
        k = 0
        for i in range(minutes + 1):
            t = start + timedelta(minutes=i)
            due = []
            while k < len(pending) and pending[k].at <= t:
                due.append(pending[k])
                k += 1
            self.step(t, due, final=i == minutes)


# --- reading a run back ------------------------------------------------------------------------


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class SignalRow(NamedTuple):
    pair: str | None
    side: str | None
    confidence: Decimal | None
    created_at: datetime | None
    trade_params: dict[str, Any] | None
    status: str
    status_reason: str


class DecisionRow(NamedTuple):
    ts: datetime | None
    pair: str
    side: str
    passed: bool
    reason: str
    violated_limits: list[str]


class PositionRow(NamedTuple):
    pair: str
    side: str
    status: str
    opened_at: datetime | None
    closed_at: datetime | None
    entry_price: Decimal | None
    exit_price: Decimal | None
    quantity: Decimal | None
    entry_fee: Decimal | None
    exit_fee: Decimal | None
    realized_pnl: Decimal | None
    position_size_zar: Decimal
    leverage: Decimal
    stop_loss_pct: Decimal
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None
    trailing_activation_pct: Decimal | None
    best_price: Decimal | None


class FillRow(NamedTuple):
    pair: str
    side: str
    action: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    ts: datetime | None


class SnapshotRow(NamedTuple):
    ts: datetime | None
    equity: Decimal
    cash: Decimal
    peak_equity: Decimal
    start_of_day_equity: Decimal
    halted: bool


@dataclass(frozen=True)
class Book:
    signals: list[SignalRow]
    decisions: list[DecisionRow]
    positions: list[PositionRow]
    fills: list[FillRow]
    snapshots: list[SnapshotRow]
    cash: Decimal
    equity: Decimal  # cash + the margin and P&L of what is open (nothing, after the end)
    peak_equity: Decimal
    open_positions: int


def book(path: str | Path) -> Book:
    """Everything of a run that must agree, read from its SQLite file."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as s:
            signals = [
                SignalRow(
                    r.pair,
                    r.side,
                    r.confidence,
                    _utc(r.created_at),
                    r.trade_params,
                    r.status,
                    r.status_reason,
                )
                for r in s.scalars(select(Signal).order_by(Signal.created_at, Signal.id))
            ]
            decisions = [
                DecisionRow(
                    _utc(r.ts),
                    r.pair,
                    r.side,
                    bool(r.passed),
                    r.reason,
                    list(r.violated_limits or []),
                )
                for r in s.scalars(select(RiskDecision).order_by(RiskDecision.id))
            ]
            rows = s.scalars(select(Position).order_by(Position.id)).all()
            positions = [
                PositionRow(
                    r.pair,
                    r.side,
                    r.status,
                    _utc(r.opened_at),
                    _utc(r.closed_at),
                    r.entry_price,
                    r.exit_price,
                    r.quantity,
                    r.entry_fee,
                    r.exit_fee,
                    r.realized_pnl,
                    r.position_size_zar,
                    r.leverage,
                    r.stop_loss_pct,
                    r.stop_loss_price,
                    r.take_profit_price,
                    r.trailing_activation_pct,
                    # the best price only where it acts (a trailing stop): without one, live
                    # also records the open of the exit bar, seen at the step before, which
                    # the skip-ahead does not step at (a known difference, nothing else)
                    r.best_price if r.trailing_activation_pct is not None else None,
                )
                for r in rows
            ]
            fills = [
                FillRow(o.pair, o.side, o.action, f.price, f.quantity, f.fee, _utc(f.ts))
                for f, o in s.execute(
                    select(Fill, Order).join(Order, Fill.order_id == Order.id).order_by(Fill.id)
                )
            ]
            snapshots = [
                SnapshotRow(
                    _utc(r.ts), r.equity, r.cash, r.peak_equity, r.start_of_day_equity, r.halted
                )
                for r in s.scalars(select(PortfolioSnapshot).order_by(PortfolioSnapshot.id))
            ]
            state = s.get(PortfolioState, 1)
            assert state is not None
            held = [r for r in rows if r.status in MARGIN_HELD_STATUSES]
            # after the end nothing is open: the equity is the cash plus the margin held
            equity = state.cash + sum((r.position_size_zar for r in held), Decimal(0))
            return Book(
                signals,
                decisions,
                positions,
                fills,
                snapshots,
                state.cash,
                equity,
                state.peak_equity,
                len(held),
            )
    finally:
        engine.dispose()


# --- the operator's database and the comparison, shared by the replay tests ------------------

REPO = Path(__file__).resolve().parents[1]
PAIRS = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0}
ZONE = "America/Sao_Paulo"  # UTC-3 all year: the trading day rolls at 03:00 UTC
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday at midnight UTC
# the settings the operator's database and the replays share: the trading day's zone, and a pair
# locked for half an hour after 4 losing stop-outs (so a lock happens without ending the run)
SETTINGS: dict[str, Any] = {
    "trading_day_timezone": ZONE,
    "lock_after_stops": 4,
    "lock_hours": 0.5,
}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def operator(
    folder: Path, limits: dict[str, float], *, clock: ManualClock | None = None
) -> tuple[helios.Helios, ManualClock]:
    """The operator's database, set up the way a replay run's database is (``ReplayEngine.run``):
    PAPER, the manual feed, the pairs, R100,000, the limits, then 60 days of daily history
    before the period (the market statistics)."""
    clock = clock or ManualClock(START)
    hx = helios.connect(
        sqlite_url(folder / "operator.db"),
        clock=clock,
        market_feed="manual",
        trading_mode="PAPER",
        pairs=list(PAIRS),
        initial_capital_zar=Decimal("100000"),
        alert_urls=None,
        **SETTINGS,
        replay_dir=str(folder / "runs"),
    )
    if limits:
        hx.risk.limit_store.update_limits(dict(limits), "replay", "rules profile helios")
    for i, (pair, last) in enumerate(PAIRS.items()):
        frame = daily_history(pair, START, last, 60, seed=100 + i)
        hx.market.ingest(pair, frame, interval="1d", source="test")
    return hx, clock


def operator_again(folder: Path) -> tuple[helios.Helios, ManualClock]:
    """The operator's database opened again (after the live run)."""
    clock = ManualClock(START)
    hx = helios.connect(
        sqlite_url(folder / "operator.db"),
        clock=clock,
        market_feed="manual",
        pairs=list(PAIRS),
        alert_urls=None,
        reconcile=False,
        replay_dir=str(folder / "runs"),
        **SETTINGS,
    )
    return hx, clock


# --- replay and live agree: the scenario (tests/test_replay_engine.py, tests/test_replay_week.py)

# the operator's limits in both runs: a tight daily loss (the gap's halt) and a position cap the
# largest signals break
LIVE_LIMITS = {"daily_loss_limit_pct": 0.02, "max_single_position_pct": 0.2}
GAP_BEFORE_END = 35  # minutes: every pair opens 20% lower then (the daily-loss halt)


def run_live(folder: Path, minutes: int, signals: int) -> Book:
    """``signals`` signals on 3 pairs and ``minutes`` of 1m prices from ``START`` (the trading
    day rolls at 03:00 UTC; ``GAP_BEFORE_END`` minutes before the end every pair opens 20% lower,
    which halts on the daily loss and closes everything), stepped bar by bar through the live
    calls (``LiveLoop``) on the operator's database in ``folder``; returns what it wrote."""
    hx, clock = operator(folder, LIVE_LIMITS)
    gap_at = minutes - GAP_BEFORE_END
    bars = {
        pair: minute_bars(pair, START, minutes, first, seed=i + 1, gap_at=gap_at, gap=0.2)
        for i, (pair, first) in enumerate(PAIRS.items())
    }
    made = make_signals(list(PAIRS), START, minutes, signals, seed=7)
    LiveLoop(hx, clock, bars).run(START, minutes, made)
    hx.close()
    return book(folder / "operator.db")


def recorded_request(minutes: int, limits: dict[str, float]) -> Any:
    """A ``ReplayRequest`` of the operator's recorded signals over its stored 1m candles."""
    from helios.replay.service import ReplayRequest

    return ReplayRequest(
        start=START,
        end=START + timedelta(minutes=minutes),
        candles=(),
        interval="1m",
        signals="recorded",
        limits=limits,
        settings=SETTINGS,
    )


def replay_live(
    folder: Path, minutes: int, *, step_every_bar: bool, verify_book: bool = False
) -> Any:
    """The operator's recorded signals replayed over its stored 1m candles: a ``RunSummary``
    (``verify_book``: every decision's inputs also built from the memory book and compared)."""
    hx, _clock = operator_again(folder)
    try:
        request = recorded_request(minutes, LIVE_LIMITS)
        return hx.replay.run(request, step_every_bar=step_every_bar, verify_book=verify_book)
    finally:
        hx.close()


def _mismatch(name: str, live: list[Any], replayed: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(live, replayed, strict=False)):
        if a != b:
            return f"{name}[{i}] differs:\n live   {a}\n replay {b}"
    return f"{name}: {len(live)} live, {len(replayed)} replayed"


def assert_same(live: Book, replayed: Book) -> None:
    for name in ("signals", "decisions", "positions", "fills", "snapshots"):
        a, b = getattr(live, name), getattr(replayed, name)
        assert a == b, _mismatch(name, a, b)
    assert (live.cash, live.equity, live.peak_equity) == (
        replayed.cash,
        replayed.equity,
        replayed.peak_equity,
    )


def run_rows(path: Path) -> dict[str, list[tuple[str, ...]]]:
    """Every table of a run's file, row by row in insertion order, with what differs between
    two databases by design masked: the installation id (random per database, in every client
    order id), the paper venue's order UUIDs and the writing process's identity."""
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    with sqlite3.connect(path) as db:
        (installation,) = db.execute(
            "SELECT value FROM settings WHERE key = 'installation_id'"
        ).fetchone()
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name not in ("replay_runs", "alembic_version")
        ]
        out = {}
        for table in tables:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            rows = [
                tuple(str(v).replace(installation, "INST") for v in row)
                for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid")
            ]
            out[table] = [
                tuple(
                    "PROCESS"
                    if column == "sender"
                    else uuid.sub("UUID", str(v).replace(installation, "INST"))
                    for column, v in zip(columns, row, strict=True)
                )
                for row in rows
            ]
    return out
