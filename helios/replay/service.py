"""``hx.replay``: run a replay, list the runs, read a run's trades, equity and decisions, sweep.

Where runs live (DESIGN choice, docs/replay.md): each run is **its own SQLite file** under
``REPLAY_DIR`` (``data/replays/<id>.sqlite``), holding the whole Helios schema: the replay's
signals, risk decisions (so rejections count by limit), positions, orders, fills, ledger,
snapshots (the equity curve), halts and events, written by the live code itself, plus one
``replay_runs`` row saying what was replayed and whether it is COMPLETE (written last). A run is
then read with the same reads as the live database, a failed run is never listed as complete,
and deleting a run is deleting a file. Nothing of a replay touches the operator's database.

``ReplayRequest`` is what a person asks for (the sources by name: candle files or the stored
candles, recorded signals, a CSV or a strategy; the period; the rules) and is what a sweep sends
to its worker processes; ``Replays.run`` resolves it (every input checked before anything
runs) and starts the engine.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from helios.clock import ensure_utc
from helios.config import Settings
from helios.config.paths import project_path
from helios.db.models import PortfolioSnapshot, Position, ReplayRun, RiskDecision, Signal
from helios.errors import InvalidInput
from helios.market.candles import parse_interval
from helios.market.store import MarketData
from helios.memory import release_freed_memory
from helios.replay.candles import PairCandles, from_frame, load_candle_file, parse_candle_spec
from helios.replay.engine import ReplayEngine
from helios.replay.run_record import COMPLETE
from helios.replay.sources import (
    ReplaySignal,
    signals_from_csv,
    signals_from_database,
)
from helios.replay.spec import rules
from helios.replay.strategy import load_strategy, signals_from_strategy
from helios.replay.ticks import data_tick

WARMUP_DAYS = 60  # daily history before the period for the market statistics, when available
RECORDED = "recorded"


@dataclass(frozen=True)
class ReplayRequest:
    """A replay as asked for (picklable: a sweep sends it to worker processes).

    ``candles``: ``PAIR=PATH[*FACTOR]`` specs, or empty for the stored candles of
    ``interval`` (the operator's database). ``signals``: ``"recorded"`` (this database's
    signals in the period), a CSV path, or ``strategy`` (a built-in name or a .py file)."""

    start: datetime
    end: datetime
    candles: tuple[str, ...] = ()
    interval: str = "1m"
    signals: str = ""
    strategy: str = ""
    profile: str = "helios"
    limits: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    trade_params: Mapping[str, Any] = field(default_factory=dict)
    initial_capital: Decimal = Decimal("100000")
    name: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "candles": list(self.candles) or f"stored {self.interval}",
            "signals": f"strategy {self.strategy}" if self.strategy else self.signals,
            "initial_capital": str(self.initial_capital),
        }


@dataclass(frozen=True)
class RunSummary:
    id: str
    path: Path
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    candles: int
    steps: int
    light_steps: int
    wall_seconds: float | None
    spec: dict[str, Any]
    figures: dict[str, Any] | None
    error: str | None

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def candles_per_second(self) -> float | None:
        if not self.wall_seconds:
            return None
        return self.candles / self.wall_seconds


class Replays:
    """``hx.replay`` (see the module's rule). ``opener`` is ``helios.connect``."""

    def __init__(self, settings: Settings, market: MarketData, opener: Callable[..., Any]) -> None:
        self._settings = settings
        self._market = market
        self._opener = opener
        self.folder = project_path(settings.replay_dir) or Path("data/replays")

    # --- running ------------------------------------------------------------------------
    def run(
        self,
        request: ReplayRequest,
        progress: Callable[[int, int], None] | None = None,
        *,
        step_every_bar: bool = False,
        run_id: str | None = None,
        verify_book: bool = False,
    ) -> RunSummary:
        """Resolve ``request`` (every input checked first: nothing runs on a bad one), replay
        it into a new run file, and return the run's record. ``verify_book``: build every
        decision's inputs from a book held in memory too and compare them with the stored ones
        (``memory_book``; a disagreement fails the run)."""
        chosen = rules(request.profile, request.limits, request.settings, request.trade_params)
        start, end = ensure_utc(request.start), ensure_utc(request.end)
        if end <= start:
            raise InvalidInput("--to", end.isoformat(), f"after --from ({start.isoformat()})")
        candles, warmup = self._candles(request, start, end)
        if chosen.profile == "freqtrade" and "price_tick" not in request.settings:
            # Freqtrade's stops lie on the data's price grid: so do the profile's
            grid = data_tick(
                column for c in candles.values() for column in (c.open, c.high, c.low, c.close)
            )
            chosen = replace(chosen, settings={**chosen.settings, "price_tick": grid})
        signals = self._signals(request, candles, start, end)
        release_freed_memory()  # what reading the files and the strategy freed (helios.memory)
        self.folder.mkdir(parents=True, exist_ok=True)
        identity = run_id or new_run_id()
        path = self.folder / f"{identity}.sqlite"
        engine = ReplayEngine(
            path,
            candles,
            signals,
            chosen,
            start=start,
            end=end,
            name=request.name or identity,
            description={**request.describe(), "gaps": gaps_of(candles, end)},
            initial_capital=request.initial_capital,
            warmup=warmup,
            opener=self._opener,
            progress=progress,
            step_every_bar=step_every_bar,
            verify_book=verify_book,
        )
        engine.run()
        return read_run(path)

    def _candles(
        self, request: ReplayRequest, start: datetime, end: datetime
    ) -> tuple[dict[str, PairCandles], dict[str, PairCandles]]:
        warm_from = start - timedelta(days=WARMUP_DAYS)
        candles: dict[str, PairCandles] = {}
        warmup: dict[str, PairCandles] = {}
        if request.candles:
            for spec in request.candles:
                pair, path, factor = parse_candle_spec(spec)
                if pair in candles:
                    raise InvalidInput("--candles", spec, "each pair once")
                # read once: the history before the period (the statistics' warm-up, when the
                # file has it) and the period through the bar opening at its end (that bar's
                # open is the price at the end)
                until = end + timedelta(days=1)
                try:
                    whole = load_candle_file(pair, path, factor=factor, start=warm_from, end=until)
                except InvalidInput:
                    # the loader's own refusal, naming the period asked for (not the wider
                    # window read) when that is what is wrong
                    load_candle_file(pair, path, factor=factor, start=start, end=end)
                    raise
                period = whole.between(start, until)
                if not len(period) or int(period.ts[0]) >= int(end.timestamp()):
                    # nothing in the period: the loader says so, naming the file and its range
                    load_candle_file(pair, path, factor=factor, start=start, end=end)
                candles[pair] = period
                history = whole.between(warm_from, start)
                if len(history):
                    warmup[pair] = history
            return candles, warmup
        seconds = parse_interval(request.interval)
        for pair in self._settings.pairs:
            frame = self._market.candles(pair, request.interval, start, end)
            if frame.empty:
                continue
            candles[pair] = from_frame(
                pair, frame, source=f"stored {request.interval}", interval=seconds
            )
            history = self._market.candles(pair, "1d", warm_from, start)
            history = history[history["timestamp"] < pd.Timestamp(start)]
            if len(history):
                warmup[pair] = from_frame(pair, history, source="stored 1d")
        if not candles:
            raise InvalidInput(
                "period",
                f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
                f"a period with stored {request.interval} candles (none of "
                f"{', '.join(self._settings.pairs)} has any in it)",
            )
        return candles, warmup

    def _signals(
        self,
        request: ReplayRequest,
        candles: Mapping[str, PairCandles],
        start: datetime,
        end: datetime,
    ) -> list[ReplaySignal]:
        pairs = list(candles)
        if request.strategy:
            strategy = load_strategy(request.strategy)
            interval = next(iter(candles.values())).interval
            found = signals_from_strategy(
                strategy, {p: c.frame() for p, c in candles.items()}, interval
            )
        elif request.signals == RECORDED:
            found, _skipped = signals_from_database(self._settings.database_url, start, end, pairs)
        elif request.signals:
            found = signals_from_csv(request.signals, pairs)
        else:
            raise InvalidInput(
                "signals", "", "recorded, a CSV of signals or --strategy (a name or a .py file)"
            )
        return [s for s in found if start <= s.at < end + timedelta(seconds=1)]

    def sweep(
        self,
        request: ReplayRequest,
        grid: Sequence[Mapping[str, float]],
        workers: int | None = None,
    ) -> list[RunSummary]:
        """One run per combination of limits in ``grid``, in parallel processes (one per core
        by default), in the grid's order."""
        requests = [
            replace(
                request,
                limits={**request.limits, **combo},
                name=(request.name or "sweep")
                + " "
                + " ".join(f"{k}={v:g}" for k, v in combo.items()),
            )
            for combo in grid
        ]
        for each in requests:  # every combination checked before any process starts
            rules(each.profile, each.limits, each.settings, each.trade_params)
        count = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=min(count, len(requests))) as pool:
            paths = list(
                pool.map(
                    _run_in_worker,
                    [self._opener] * len(requests),
                    [self._settings.database_url] * len(requests),
                    [str(self.folder)] * len(requests),
                    requests,
                )
            )
        return [read_run(Path(p)) for p in paths]

    # --- reading ------------------------------------------------------------------------
    def runs(self) -> list[RunSummary]:
        """Every run in ``REPLAY_DIR``, newest first (a file that cannot be read is listed
        as FAILED with the reason)."""
        if not self.folder.is_dir():
            return []
        found = [read_run(path) for path in self.folder.glob("*.sqlite")]
        return sorted(
            found, key=lambda r: r.started_at or datetime.min.replace(tzinfo=UTC), reverse=True
        )

    def get(self, run_id: str) -> RunSummary:
        path = self._path(run_id)
        return read_run(path)

    def _path(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id.startswith("."):
            raise InvalidInput("run", run_id, "a run id from `helios replay --list`")
        path = self.folder / f"{run_id}.sqlite"
        if not path.is_file():
            raise InvalidInput("run", run_id, f"a run id in {self.folder}")
        return path

    def trades(self, run_id: str) -> pd.DataFrame:
        """One row per position: pair, entry_time, exit_time (the open times of the bars
        whose prices it used), entry_price, exit_price, exit_reason, net_pnl (exact strings)."""
        return run_trades(self._path(run_id))

    def equity(self, run_id: str) -> pd.DataFrame:
        """The run's equity curve (its snapshots: ts, equity as float for charts)."""
        with _session(self._path(run_id)) as session:
            rows = session.execute(
                select(PortfolioSnapshot.ts, PortfolioSnapshot.equity).order_by(
                    PortfolioSnapshot.ts
                )
            ).all()
        return pd.DataFrame({"ts": [r.ts for r in rows], "equity": [float(r.equity) for r in rows]})

    def rejections(self, run_id: str) -> dict[str, int]:
        """Rejected decisions counted by the limit they broke (or their reason's first word
        when no limit: a lock, a full pair, a halt, the buying power)."""
        return run_rejections(self._path(run_id))

    def signal_outcomes(self, run_id: str) -> dict[str, int]:
        """The run's signals counted by what became of them (their status: EXECUTED,
        REJECTED, ...), for the Replay page's "actual vs would have"."""
        with _session(self._path(run_id)) as session:
            rows = session.execute(select(Signal.status, func.count()).group_by(Signal.status))
            return {str(status): int(n) for status, n in rows}


def gaps_of(candles: Mapping[str, PairCandles], end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Each pair's holes in the period, as reported with the run (filled flat at the previous
    close: ``helios.replay.candles``)."""
    return {
        pair: [
            {"start": gap.start.isoformat(), "bars": gap.bars, "filled": gap.filled}
            for gap in c.gaps
            if gap.start < end
        ]
        for pair, c in candles.items()
        if any(gap.start < end for gap in c.gaps)
    }


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _run_in_worker(
    opener: Callable[..., Any], database_url: str, folder: str, request: ReplayRequest
) -> str:
    """A sweep's worker: its own library (``opener`` is ``helios.connect``) on the operator's
    database (read only: the stored candles and signals) and the run into its own file."""
    hx = opener(database_url, migrate=False, reconcile=False, replay_dir=folder)
    try:
        return str(hx.replay.run(request).path)
    finally:
        hx.close()


def _session(path: Path) -> Session:
    engine = create_engine(f"sqlite:///{path}")
    return Session(engine)


def read_run(path: Path) -> RunSummary:
    identity = path.stem
    try:
        with _session(path) as session:
            row = session.scalars(select(ReplayRun).order_by(ReplayRun.id)).first()
    except Exception as exc:  # a file that is not a run (or a broken one) is FAILED
        return RunSummary(
            identity, path, identity, "FAILED", None, None, 0, 0, 0, None, {}, None, str(exc)
        )
    if row is None:
        return RunSummary(
            identity, path, identity, "FAILED", None, None, 0, 0, 0, None, {}, None, "no record"
        )
    return RunSummary(
        identity,
        path,
        row.name,
        row.status,
        row.started_at,
        row.finished_at,
        row.candles,
        row.steps,
        row.light_steps,
        row.wall_seconds,
        dict(row.spec or {}),
        dict(row.figures) if row.figures is not None else None,
        row.error,
    )


def run_trades(path: Path) -> pd.DataFrame:
    with _session(path) as session:
        record = session.scalars(select(ReplayRun).order_by(ReplayRun.id)).first()
        bars = dict((record.exit_bars or {}) if record is not None else {})
        rows = session.scalars(
            select(Position).where(Position.opened_at.is_not(None)).order_by(Position.id)
        ).all()
        out = [
            {
                "position_id": p.id,
                "pair": p.pair,
                "side": p.side,
                "entry_time": _iso(p.opened_at),
                "exit_time": bars.get(str(p.id)) or _iso(p.closed_at),
                "entry_price": str(p.entry_price),
                "exit_price": "" if p.exit_price is None else str(p.exit_price),
                "exit_reason": p.status,
                "net_pnl": "" if p.realized_pnl is None else str(p.realized_pnl),
            }
            for p in rows
        ]
    columns = [
        "position_id",
        "pair",
        "side",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "exit_reason",
        "net_pnl",
    ]
    return pd.DataFrame(out, columns=columns)


def run_rejections(path: Path) -> dict[str, int]:
    with _session(path) as session:
        rows = session.execute(
            select(RiskDecision.violated_limits, RiskDecision.reason, func.count())
            .where(RiskDecision.passed.is_(False))
            .group_by(RiskDecision.violated_limits, RiskDecision.reason)
        ).all()
        # signals refused by a halt in force get no risk decision (the trading loop rejects
        # them before the checks): counted by the limit whose halt it was
        decided = select(RiskDecision.signal_id).where(RiskDecision.signal_id.is_not(None))
        halted = session.execute(
            select(Signal.status_reason, func.count())
            .where(Signal.status == "REJECTED", Signal.id.not_in(decided))
            .where(Signal.status_reason.like("trading halted:%"))
            .group_by(Signal.status_reason)
        ).all()
    counts: dict[str, int] = {}
    for limits, reason, count in rows:
        names = list(limits or []) or [_reason_kind(reason or "")]
        for name in names:
            counts[name] = counts.get(name, 0) + int(count)
    for reason, count in halted:
        name = _halt_kind(reason or "")
        counts[name] = counts.get(name, 0) + int(count)
    return dict(sorted(counts.items()))


def _halt_kind(reason: str) -> str:
    """The limit behind an automatic halt's reason ("trading halted: automatic: drawdown ..."),
    else "halted"."""
    cause = reason.removeprefix("trading halted:").strip().removeprefix("automatic:").strip()
    if cause.startswith("drawdown"):
        return "max_drawdown_pct"
    if cause.startswith("daily loss"):
        return "daily_loss_limit_pct"
    return "halted"


def _reason_kind(reason: str) -> str:
    if "MAX_POSITIONS_PER_PAIR" in reason:
        return "pair_full"
    if "locked" in reason.lower():
        return "pair_lock"
    if "halt" in reason.lower():
        return "halted"
    return reason.split(":")[0][:40] or "other"


def _iso(when: datetime | None) -> str:
    return "" if when is None else ensure_utc(when).isoformat()
