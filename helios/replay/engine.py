"""The replay engine: history through the live code, on a manual clock (issue 19).

A replay opens a Helios of its own (``helios.connect`` on the run's database, a ``ManualClock``,
the ``manual`` feed, PAPER) and drives it with the calls the scheduler makes. Only the clock and
the feed differ: the candles come from the replay's files or the stored candles instead of a
venue, and the time is the bars' instead of the wall's.

**One step at instant t** (a bar boundary: bar k closes and bar k+1 opens at t) has two
moments, as a live market has:

1. *the close of bar k*, one microsecond before t (``TICK``): every bar that closed since the
   last step is written whole (its close becomes the latest price, observed then) and the stop
   monitor runs (``hx.positions.monitor_positions``: stop first, then the target, the trailing
   stop, on the bars since its last look): a level crossed inside a bar exits at that bar's
   close, the paper venue's fill (a stop no better than its level);
2. *the open of bar k+1*, at t: the bar is written as far as it is known (its open: open = high
   = low = close, observed at t), the day roll when t is in a new trading day
   (``hx.take_snapshot``, as the scheduler's), the watchdog (``hx.halts.check``: drawdown, daily
   loss, with their configured actions), the signals known by t (``hx.signals.submit``, then
   ``hx.signals.process_pending``: sizing, the buying-power, lock and pair pre-checks, the 7
   checks, the paper venue's fill at the open), then the monitor again (a gap through a level at
   the open, the holding limit reached).

So a signal made at a bar's close enters at the next bar's open; a position whose level a bar
crossed is closed before that bar's successor opens, so its pair is free for a signal at that
open; a position that times out, or whose level the open gaps through, at t still holds its
pair when the signals of t are taken (Freqtrade orders a candle the same way: entries, then
the exits of that candle). The timeout exits at the open of the first bar at or after the holding
limit. At the end (``end``, or the last bar's close when the data stops sooner) the price is
the open of the bar starting then if the data has it, else the last close, and what is still
open is closed there. Each exit is labelled with the open time of the bar whose price made it
(``exit_bars``), as backtesters label trades.

**Skipping ahead.** Stepping every bar gives the answer but is slow. The engine steps only at
the instants where the live code could do something different from doing nothing, and proves
the others empty with the same levels the live code holds, read back after every step:

- a signal becomes known, a trading day starts, or the data ends;
- an open position's stop, target or trailing activation (or a new best price once its trailing
  stop is active) lies inside a bar's range: the step at that bar's open (if the open itself
  crosses) or its close; its holding limit is reached;
- the equity at a bar's open (cash + margin + unrealized P&L at the opens, as ``held_equity``
  adds it up) would set a new peak (the monitor maintains the peak at every pass: one step at
  the highest equity of the span keeps the same peak) or come within reach of the drawdown or
  the daily-loss limit (halts and check 1 and 2).

The bars in between are written at the next step, so the monitor judges them then, in order,
exactly as it would have one by one (nothing in them crossed a level). ``step_every_bar=True``
turns the skipping off: the tests compare the two.

**Light steps.** Where the next instant is one only because a signal becomes known (no level,
holding limit, equity event, day start or end there; the same scan proves it), the monitor's
two passes would do nothing, so a *light step* leaves them out: the bars are written at both
moments as always, the watchdog runs (a loss realized earlier may stand at a limit with nothing
open: the scan has no moving equity to find it by), and the signals are taken at the open
(``submit``, then ``process_pending``: every decision, with the prices of that instant); if one
opened a position the monitor still runs at the open. A year of Freqtrade's EMA cross has 6,674
steps, 5,532 of them light (most a signal whose pair is full). There the book held in memory
(``memory_book``) answers the reads: the refusals are decided from it (``refusals``), the
watchdog judged on it (``Halts.act``), and what the step writes, its bars and the refusals'
records, is held (``behind``) and written in one transaction when something reads the database
(docs/replay.md, "What meeting it takes"): the same rows as the live calls leave.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from helios.clock import ManualClock, trading_day, trading_day_start
from helios.db.models import Position
from helios.market.write_plan import Stored
from helios.positions.lifecycle import OPEN
from helios.replay.bar_batches import Batches, bar_time, closed_bars, opening_bars
from helios.replay.behind import WritesBehind
from helios.replay.book import read_book
from helios.replay.candles import PairCandles
from helios.replay.memory_book import BookCheck, MemoryBook
from helios.replay.refusals import MemoryRefusals
from helios.replay.run_record import COMPLETE, FAILED, RunEnd, record_end, record_start
from helios.replay.skip import marks, next_instant
from helios.replay.sources import ReplaySignal
from helios.replay.spec import RunRules

log = logging.getLogger("helios.replay")

TICK = timedelta(microseconds=1)  # a bar's close is seen this long before the next bar opens

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayOutcome:
    run_id: int
    path: Path
    status: str
    candles: int
    steps: int
    wall_seconds: float
    exit_bars: dict[int, datetime]
    light_steps: int = 0  # of ``steps``: where only the signals could act


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


_dt = bar_time


class ReplayEngine:
    """One run: ``run()`` steps history through ``hx`` (see the module's rule)."""

    def __init__(
        self,
        path: Path,
        candles: Mapping[str, PairCandles],
        signals: Sequence[ReplaySignal],
        rules: RunRules,
        *,
        start: datetime,
        end: datetime,
        name: str,
        description: Mapping[str, Any],
        initial_capital: Decimal = Decimal("100000"),
        warmup: Mapping[str, PairCandles] | None = None,
        opener: Callable[..., Any],
        progress: Progress | None = None,
        step_every_bar: bool = False,
        verify_book: bool = False,
    ) -> None:
        if not candles:
            raise ValueError("a replay needs candles")
        intervals = {c.interval for c in candles.values()}
        if len(intervals) != 1:
            raise ValueError(f"one bar interval for every pair, got {sorted(intervals)}")
        self.path = path
        self.candles = dict(candles)
        self.interval = intervals.pop()
        self.signals = sorted(signals, key=lambda s: s.at)
        self.rules = rules
        self.start, self.end = start, end
        self.name = name
        self.description = dict(description)
        self.initial_capital = initial_capital
        self.warmup = dict(warmup or {})
        self.progress = progress
        self.step_every_bar = step_every_bar
        # the instants: every bar open before the end, then the end: ``end``, or the close of
        # the last bar when the data stops sooner. At the end the price is the open of the bar
        # starting then when the data has it (Freqtrade's last candle), else the last close.
        stop = _epoch(end)
        opens = np.unique(np.concatenate([c.ts[c.ts < stop] for c in self.candles.values()]))
        if not len(opens):
            raise ValueError("no bars in the period")
        final = min(stop, int(opens[-1]) + self.interval)
        self.instants = np.append(opens, final).astype(np.int64)
        self.total_candles = sum(int(np.count_nonzero(c.ts < final)) for c in self.candles.values())
        self._marks = marks(self.instants, self.candles, self.interval)
        self._written = {pair: 0 for pair in self.candles}
        self._signal_i = 0
        self._exit_bars: dict[int, datetime] = {}
        self.light_steps = 0  # steps where only the signals could act
        self.opener = opener  # helios.connect: the same library the scheduler runs on
        self.hx: Any = None
        self._limits: Any = None  # the limits in force for the run (read once it starts)
        self.clock: ManualClock | None = None
        # docs/replay.md, steps 2 and 3: the book in memory, read when it is due; refusals
        # decided from it at light steps, or (``verify_book``) every decision's inputs built
        # from it and compared with the stored ones instead
        self._memory: MemoryBook | None = None
        self._refusals: MemoryRefusals | None = None
        self.book_check: BookCheck | None = None
        self._verify_book = verify_book
        # docs/replay.md, step 4: the bars and the refusals written behind (``replay.behind``)
        # until something reads the database; ``verify_book`` writes each step's at once
        self._held: WritesBehind | None = None

    # --- the run ------------------------------------------------------------------------
    def run(self) -> ReplayOutcome:
        began = time.perf_counter()
        first = _dt(self.instants[0])
        self.clock = ManualClock(first)
        hx = self.opener(
            f"sqlite:///{self.path}",
            clock=self.clock,
            reconcile=False,
            market_feed="manual",
            trading_mode="PAPER",
            pairs=list(self.candles),
            initial_capital_zar=self.initial_capital,
            alert_urls=None,
            **dict(self.rules.settings),
        )
        self.hx = hx
        run_id = record_start(
            hx, self.name, {**self.description, "rules": self.rules.describe()}, self.total_candles
        )
        steps = 0
        try:
            if self.rules.limits:
                hx.risk.limit_store.update_limits(
                    dict(self.rules.limits), "replay", f"rules profile {self.rules.profile}"
                )
            self._limits = hx.risk.limit_store.get_limits()
            self._memory = MemoryBook(
                hx.settings.trading_day_timezone,
                error_window=timedelta(seconds=hx.settings.halt_exchange_error_window_seconds),
            )
            if self._verify_book:
                self.book_check = BookCheck(self._memory)
            else:
                self._refusals = MemoryRefusals(self._memory)
            self._held = WritesBehind(hx, self.interval, self._memory, self._refusals)
            if not self._verify_book:  # the run writes its candles alone: what it wrote is held
                self._held.stored = Stored()
            self._warm_up()
            day = None  # the first step takes the run's first snapshot, as a day roll does
            i, light = 0, False
            last = len(self.instants) - 1
            while True:
                t = int(self.instants[i])
                steps += 1
                if light:
                    self._light_step(t)
                    self.light_steps += 1
                else:
                    self._step(t, day, final=i == last)
                day = trading_day(_dt(t), hx.settings.trading_day_timezone)
                if self.progress is not None:
                    self.progress(self._candles_done(t), self.total_candles)
                if i == last:
                    break
                if self.step_every_bar:
                    i, light = i + 1, False
                else:
                    i, light = self._next_index(i)
            self._write_held()
            self._close_at_end()
            hx.take_snapshot()  # the equity curve ends where the run ends
            checked = self.book_check.verdict() if self.book_check is not None else None
            wall = time.perf_counter() - began
            self._record_end(run_id, COMPLETE, steps, wall, None, checked)
        except BaseException as exc:
            wall = time.perf_counter() - began
            try:  # what was held before the failure is written: the file traces the run so far
                self._write_held()
            except Exception:
                log.exception("replay run %s: writing what was held failed too", run_id)
            try:  # the run is FAILED, never complete-looking; the error raised is the first
                self._record_end(run_id, FAILED, steps, wall, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("replay run %s: recording its failure failed too", run_id)
            raise
        finally:
            hx.close()
        return ReplayOutcome(
            run_id,
            self.path,
            COMPLETE,
            self.total_candles,
            steps,
            wall,
            dict(self._exit_bars),
            self.light_steps,
        )

    def _step(self, t: int, previous_day: Any, *, final: bool) -> None:
        """The close of the bar ending at ``t`` (one microsecond before), then the open of the
        bar starting at ``t`` (the module's rule)."""
        hx, clock = self.hx, self.clock
        assert hx is not None and clock is not None
        if self._memory is not None:
            self._memory.stale = True  # the monitor, a day roll, the watchdog may write
        now = _dt(t)
        closing = now - TICK
        clock.set(closing)
        closed = self._hold_bars(closed_bars(self.candles, self._written, t), closing)
        self._write_held()  # what the monitor reads
        if closed:
            self._monitor()  # what the closed bars crossed, at their close
        clock.set(now)
        self._hold_bars(opening_bars(self.candles, self._written, t, now), now)
        self._write_held()
        if trading_day(now, hx.settings.trading_day_timezone) != previous_day:
            hx.take_snapshot()  # the scheduler's day roll (and the run's first snapshot)
        hx.halts.check()
        if not final:  # at the end no bar follows: nothing enters
            self._take_signals(t)
        self._monitor()  # the open: a gap through a level, the timeout

    def _light_step(self, t: int) -> None:
        """An instant where only the signals can act (``_next_index`` proved the monitor idle):
        the bars of both moments, the watchdog, the signals taken at the open; the monitor
        runs at the open only if a position opened (the same calls as a full step, less the
        passes proven to do nothing). What it writes is held (``replay.behind``) while the
        book in memory answers the reads: the bars, and the refusals decided from that book."""
        now, clock = _dt(t), self.clock
        assert clock is not None
        for batches, at in (
            (closed_bars(self.candles, self._written, t), now - TICK),
            (opening_bars(self.candles, self._written, t, now), now),
        ):
            self._hold_bars(batches, at)
            if self._verify_book:  # the reference: each moment written at its instant, alone
                self._write_held()
        clock.set(now)
        self._watchdog(now)  # a loss realized earlier may still stand at a limit
        if any(o.position_id is not None for o in self._take_signals(t, light=True)):
            self._monitor()

    def _take_signals(self, t: int, *, light: bool = False) -> list[Any]:
        """The signals known by ``t``: at a light step the refusals the book in memory can
        decide (``refusals``, held behind), then the rest submitted and one trading-loop pass;
        that pass's outcomes."""
        hx, now = self.hx, _dt(t)
        raws = []
        while self._signal_i < len(self.signals) and _epoch(self.signals[self._signal_i].at) <= t:
            raws.append(self._raw(self.signals[self._signal_i]))
            self._signal_i += 1
        if raws and self._refusals is not None:
            raws = self._refusals.take(hx, raws, now, self._limits, decide=light)
        if not raws:
            return []
        self._write_held()  # the live calls read the database
        for raw in raws:
            hx.signals.submit_raw(raw)
        passed = list(hx.signals.process_pending())
        if self.book_check is not None:
            self.book_check.check(hx, passed, now, self._limits)
        if self._memory is not None:
            self._memory.stale = True  # the live pass wrote the book
        return passed

    def _watchdog(self, now: datetime) -> None:
        """A light step's watchdog pass (``hx.halts``): on the book in memory when it knows
        the pass's reads (``Halts.act``: the same rules; a pass that finds something to act on
        reads the flags again and acts through the database), else ``check``; ``verify_book``
        compares the two reads and runs the live pass."""
        hx, memory = self.hx, self._memory
        reads = memory.watchdog(now, self._limits, hx.settings) if memory is not None else None
        if self.book_check is not None:
            self.book_check.check_watchdog(hx, reads)
            reads = None
        if reads is None or not hx.halts.quiet(reads):
            self._write_held()  # the pass reads or writes the database
        acted = hx.halts.act(reads) if reads is not None else hx.halts.check()
        if acted and memory is not None:
            memory.stale = True

    def _monitor(self) -> None:
        for result in self.hx.positions.monitor_positions():
            if result.close is not None and result.at is not None:
                # the bar whose price made the exit (a price seen at a bar's close is its own)
                seconds = _epoch(result.at)
                self._exit_bars[result.position_id] = _dt(seconds - seconds % self.interval)

    def _raw(self, signal: ReplaySignal) -> dict[str, Any]:
        """The signal as the live intake receives it (``hx.signals.submit_raw``)."""
        params = {**{k: v for k, v in self.rules.trade_params.items()}, **signal.trade_params()}
        payload = dict(signal.payload or {})
        lifetime = payload.get("expires_after_seconds")  # a recorded signal's own expiry
        return {
            "pair": signal.pair,
            "side": signal.side,
            "confidence": signal.confidence,
            "llm_approved": signal.llm_approved,
            "llm_reasoning": payload.get("llm_reasoning", ""),
            "predicted_return": payload.get("predicted_return"),
            "trade_params": {k: float(v) for k, v in params.items()},
            "created_at": signal.at,
            "expires_at": (
                signal.at + timedelta(seconds=float(lifetime)) if lifetime is not None else None
            ),
            "source": payload.get("source") or "replay",
        }

    def _hold_bars(self, batches: Batches, observed: datetime) -> bool:
        assert self._held is not None
        return self._held.hold_bars(batches, observed)

    def _write_held(self) -> None:
        if self._held is not None:
            self._held.write_held()

    def _warm_up(self) -> None:
        """History before the period (the market statistics' daily returns), as history."""
        hx = self.hx
        assert hx is not None
        for pair, c in self.warmup.items():
            if len(c):
                hx.market.ingest(pair, c.frame(), interval=c.interval, source="replay-history")

    def _candles_done(self, t: int) -> int:
        return sum(int(np.searchsorted(c.ts, t)) for c in self.candles.values())

    def _end_bar(self, pair: str | None) -> int:
        """The bar whose price closes a position at the end: the one opening at the end when
        the data has it, else the pair's last bar before the end."""
        final = int(self.instants[-1])
        c = self.candles.get(pair or "")
        if c is None or not len(c):
            return final - self.interval
        at = int(np.searchsorted(c.ts, final))
        if at < len(c) and int(c.ts[at]) == final:
            return final
        return int(c.ts[max(at - 1, 0)])

    # --- the end ------------------------------------------------------------------------
    def _close_at_end(self) -> None:
        """What is still open closes at the last close (the final step wrote the last bars
        whole, so the latest prices are their closes): labelled with the pair's last bar."""
        hx = self.hx
        assert hx is not None
        with hx.db.read() as session:
            rows = session.execute(
                select(Position.id, Position.pair).where(Position.status == OPEN)
            ).all()
            pairs = {int(row.id): str(row.pair) for row in rows}
        for closed in hx.positions.close_all("CLOSED", actor="replay"):
            position_id = closed.get("position_id")
            if position_id is None or not closed.get("success", True):
                continue
            self._exit_bars[int(position_id)] = _dt(self._end_bar(pairs.get(int(position_id))))

    # --- skipping ahead -----------------------------------------------------------------
    def _next_index(self, i: int) -> tuple[int, bool]:
        """The next instant (index into ``instants``) at which the live code could act, and
        whether only the signals could act there (a light step): ``skip.next_instant`` on the
        book as the live code left it."""
        t = int(self.instants[i])
        signal = len(self.instants)  # none left
        if self._signal_i < len(self.signals):
            at = _epoch(self.signals[self._signal_i].at)
            signal = int(np.searchsorted(self.instants, at))
        zone = self.hx.settings.trading_day_timezone
        tomorrow = trading_day(_dt(t), zone) + timedelta(days=1)
        day = int(np.searchsorted(self.instants, _epoch(trading_day_start(tomorrow, zone))))
        memory = self._memory
        if memory is None:
            with self.hx.db.read() as session:
                book = read_book(session)
        else:  # read again only once something other than prices and refusals wrote it
            if memory.due(_dt(t)):
                self._write_held()
                with self.hx.db.read() as session:
                    memory.load(session, _dt(t))
            book = memory.scan
        limits = self._limits  # the run's own, set before its first step
        return next_instant(
            book,
            (limits.max_drawdown_pct, limits.daily_loss_limit_pct),
            self.candles,
            self.instants,
            self.interval,
            self._marks,
            i,
            signal=signal,
            day=day,
        )

    def _record_end(
        self,
        run_id: int,
        status: str,
        steps: int,
        wall: float,
        error: str | None,
        book_check: dict[str, int] | None = None,
    ) -> None:
        figures = None
        if status == COMPLETE:
            figures = self.hx.metrics.review(self.start, _dt(self.instants[-1]))
        record_end(
            self.hx,
            run_id,
            RunEnd(
                status,
                steps,
                self.light_steps,
                wall,
                error,
                self._exit_bars,
                book_check,
                self._refusals.decided if self._refusals is not None else 0,
            ),
            figures,
        )
