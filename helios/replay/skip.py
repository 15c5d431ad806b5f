"""Where a replay may skip: the next instant at which the live code could act (pure).

The replay engine steps history through the live calls; between two steps nothing may happen
that the live code would have acted on. These rules find the next such instant from the levels
the live code holds (read back after every step) and the bars in memory. Floats are used only to
choose the instant (the live code then decides, in exact decimals), and every test errs towards
stepping: a level within a bar's range, an equity within ``NEAR`` of a limit.

An instant ``t`` has two moments (``helios.replay.engine``): the close of the bar ending at t
(the latest price is that close; the monitor judges the bars closed since its last look) and the
open of the bar starting at t (the latest price is that open; the watchdog, the signals, the
monitor again). So:

- an open position needs a step at the close of the first bar whose range reaches its stop, its
  target or (with a trailing stop) its activation or a new best price, or at the open of such a
  bar when the open itself reaches it; and at the first instant at or after its holding limit;
- the account needs a step where its equity (cash + margin + unrealized P&L, as the ledger adds
  it up) at either moment comes within ``NEAR`` of the drawdown or daily-loss limit (the
  watchdog, checks 1 and 2), and at the moment of the highest equity of the span when that is
  a new peak (the monitor maintains the peak at every pass: one step at the highest keeps the
  peak it would have kept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from helios.replay.candles import PairCandles

SCAN_CHUNK = 4096  # bars scanned at a time
NEAR = 1e-6  # an equity within this fraction of a limit steps (the live code decides)


@dataclass(frozen=True)
class Held:
    """An open position as the scan reads it. ``settled`` False: between two states (the
    replay then steps every bar until it settles)."""

    pair: str
    long: bool
    entry: float
    quantity: float
    margin: float
    stop: float
    target: float
    best: float
    activation: float | None  # the price at which the trailing stop activates
    timeout_at: int  # epoch seconds
    settled: bool = True


@dataclass(frozen=True)
class Book:
    """The open positions and the account's cash, peak and day start, as the scan reads them
    (``helios.replay.book``)."""

    held: list[Held]
    cash: float
    peak: float
    day_equity: float


@dataclass(frozen=True)
class Marks:
    """Each pair's latest price at each instant's two moments: ``at_close`` (the close of the
    last bar ended by then) and ``at_open`` (the open of the bar starting then, else the
    latest close)."""

    at_close: Mapping[str, np.ndarray]
    at_open: Mapping[str, np.ndarray]


def marks(instants: np.ndarray, candles: Mapping[str, PairCandles], interval: int) -> Marks:
    count = len(instants)
    at_close: dict[str, np.ndarray] = {}
    at_open: dict[str, np.ndarray] = {}
    for pair, c in candles.items():
        closes = np.full(count, np.nan)
        ends = np.searchsorted(instants, c.ts + interval)
        shut = (ends < count) & (instants[np.minimum(ends, count - 1)] == c.ts + interval)
        closes[ends[shut]] = c.close[shut]
        closes = _forward_fill(closes)
        opens = np.full(count, np.nan)
        starts = np.searchsorted(instants, c.ts)
        hit = (starts < count) & (instants[np.minimum(starts, count - 1)] == c.ts)
        opens[starts[hit]] = c.open[hit]
        at_close[pair] = closes
        at_open[pair] = np.where(np.isnan(opens), closes, opens)
    return Marks(at_close, at_open)


def _forward_fill(values: np.ndarray) -> np.ndarray:
    index = np.where(~np.isnan(values), np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    return values[index]


def position_event(
    p: Held, c: PairCandles | None, instants: np.ndarray, interval: int, i: int, bound: int
) -> int | None:
    """The first instant index in (i, bound] at which the monitor could act on ``p``, None
    when it could act at none of them."""
    if c is None or not p.settled:
        return i + 1
    limit = int(np.searchsorted(instants, p.timeout_at))
    reached = limit if limit <= bound else None
    bound = min(bound, limit)
    t = int(instants[i])
    first = int(np.searchsorted(c.ts, t))  # the bar opening at t: its open already judged
    j0 = first
    stop_by = int(instants[bound])
    while j0 < len(c) and int(c.ts[j0]) < stop_by:
        j1 = min(len(c), j0 + SCAN_CHUNK)
        hit, open_hit = _reaches(p, c.low[j0:j1], c.high[j0:j1], c.open[j0:j1])
        found = np.flatnonzero(hit)
        if len(found):
            j = j0 + int(found[0])
            at = int(c.ts[j])
            if j > first and open_hit[found[0]]:
                return min(bound, int(np.searchsorted(instants, at)))  # its open reaches it
            step = int(np.searchsorted(instants, at + interval))
            return step if step <= bound else reached
        j0 = j1
    return reached


def _reaches(
    p: Held, low: np.ndarray, high: np.ndarray, opens: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per bar: does its range, and does its open, reach a level of ``p``?"""
    if p.long:
        hit = (low <= p.stop) | (high >= p.target)
        open_hit = (opens <= p.stop) | (opens >= p.target)
    else:
        hit = (high >= p.stop) | (low <= p.target)
        open_hit = (opens >= p.stop) | (opens <= p.target)
    if p.activation is not None:
        favourable = high if p.long else low
        line = max(p.activation, p.best) if p.long else min(p.activation, p.best)
        hit = hit | ((favourable > line) if p.long else (favourable < line))
        open_hit = open_hit | ((opens > line) if p.long else (opens < line))
    return hit, open_hit


def equity_event(
    held: Sequence[Held],
    cash: float,
    peak: float,
    day_equity: float,
    max_drawdown_pct: float,
    daily_loss_limit_pct: float,
    at: Marks,
    i: int,
    bound: int,
) -> int | None:
    """The first instant index in (i, bound] whose equity at either moment could matter (the
    module's rule), None when none could."""
    if any(not p.settled for p in held):
        return i + 1
    lo, hi = i + 1, bound + 1
    if hi <= lo:
        return None
    # the moments in time order: the close of each instant, then its open
    equity = np.full(2 * (hi - lo), cash)
    for p in held:
        prices = np.empty(2 * (hi - lo))
        prices[0::2] = at.at_close[p.pair][lo:hi]
        prices[1::2] = at.at_open[p.pair][lo:hi]
        move = (prices - p.entry) if p.long else (p.entry - prices)
        equity = equity + p.margin + move * p.quantity
    equity = np.nan_to_num(equity, nan=cash)
    running = np.maximum.accumulate(np.maximum(equity, peak))
    near = (equity <= running * (1 - max_drawdown_pct) * (1 + NEAR)) | (
        equity <= day_equity * (1 - daily_loss_limit_pct) * (1 + NEAR)
    )
    found = np.flatnonzero(near)
    last = len(equity) - 1 if not len(found) else int(found[0])
    chosen = None if not len(found) else lo + last // 2
    top = int(np.argmax(equity[: last + 1]))
    if equity[top] > peak * (1 + 1e-12):
        chosen = lo + top // 2 if chosen is None else min(chosen, lo + top // 2)
    return chosen


def next_instant(
    book: Book,
    limits: tuple[float, float],
    candles: Mapping[str, PairCandles],
    instants: np.ndarray,
    interval: int,
    at: Marks,
    i: int,
    *,
    signal: int,
    day: int,
) -> tuple[int, bool]:
    """The next instant index after ``i`` at which the live code could act, and whether only
    a signal could act there (a *light step*: the monitor proven idle).

    ``limits``: (max drawdown, daily loss limit); ``signal``: the index of the next signal's
    instant (``len(instants)``: none left); ``day``: the index of the next trading day's start.
    The bound is the first of the next signal, the next day and the end; a position's level or
    holding limit before it, or an equity event before the first of those, comes first (the
    equity's span ends at the first position event: it changes the book)."""
    last = len(instants) - 1
    bound = min(last, signal, day)
    events = [
        position_event(p, candles.get(p.pair), instants, interval, i, bound) for p in book.held
    ]
    event = min((e for e in events if e is not None), default=None)
    if book.held:
        found = equity_event(
            book.held,
            book.cash,
            book.peak,
            book.day_equity,
            limits[0],
            limits[1],
            at,
            i,
            bound if event is None else min(bound, event),
        )
        if found is not None:
            event = found if event is None else min(event, found)
    chosen = max(bound if event is None else min(bound, event), i + 1)
    # events lie at or before the bound: light only with none, the signal making the bound
    return chosen, event is None and signal < min(last, day)
