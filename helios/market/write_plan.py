"""A write of candles planned on what is stored (pure): ``write_candles``' rule, one moment of the
market after another, on the stored state read once.

A *moment* is one write as a feed makes it at one instant: each pair's rows (oldest first),
observed at ``observed`` (None: history, as old as its newest bar proves), by a clock at ``now``
(``Moment``). Its rule, as ``helios.market.writes`` states it: a row replaces the stored bar (or,
with ``merge``, extends it: open kept, high = max, low = min, close = the row's); intraday rows
roll up into the daily bar of their UTC day (``helios.market.rollup``); the newest close becomes
the pair's latest price unless a newer one is stored; what the write observed of the newest bar
(a new high, a new low, the close; or the one ``tick`` given) is kept as price ticks; a change
to a completed day bumps the history epoch.

``WritePlan`` holds the stored state the moments touch (``Stored``: the bars of their spans, the
daily bars and each day's span of stored bars, the latest prices' times), applies each moment
to it in order, exactly as the database would after that moment, and collects the net
statements: the rows inserted, in the order first written (the ids the moments written one by
one would give them), each with the last values written; the stored rows' updates, merged per
row (a later update's columns over an earlier one's); every tick in order; each pair's final
latest price; the epoch's bumps. One moment is the live write (``write_candle_batches``); a
replay plans the moments of several steps and writes them at once, the same rows
(``tests/test_candle_write_plan.py`` compares the two table by table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from helios.clock import ensure_utc
from helios.db.types import exact_value
from helios.market.bar_time import floor_time, not_ahead
from helios.market.candles import DAY, CandleRow
from helios.market.rollup import DayFold, daily_change


@dataclass(frozen=True)
class Moment:
    """One write: ``batches`` (pair -> rows, oldest first) observed at ``observed`` by a clock
    at ``now`` (``merge`` and ``tick`` as ``write_candles`` takes them)."""

    batches: Mapping[str, Sequence[CandleRow]]
    observed: datetime | None
    now: datetime
    merge: bool = False
    tick: Decimal | None = None


@dataclass
class Bar:
    """A stored bar as a write reads it (``row``: its INSERT's values while the plan inserts
    it, so a later write of the bar changes them; None for a bar stored before)."""

    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    row: dict[str, Any] | None = None


@dataclass
class Stored:
    """What the moments' writes read: ``bars`` (pair -> open time -> ``Bar``, at least every
    stored bar inside the moments' spans), ``daily`` ((pair, UTC day) -> the stored daily
    ``Bar``, for every day the moments touch), ``spans`` ((pair, day) -> (oldest, newest, count)
    of the day's stored bars of the written interval; a day without any is absent) and
    ``latest`` (pair -> the observation time of its stored latest price).

    A writer that is the only one to write its pairs' candles (a replay in its own database)
    may hold the state from one write to the next (``covers``, ``prune``): ``bars_from`` says
    from which open time on every stored bar of a pair is in ``bars`` (read without an upper
    bound), ``days`` which days' daily bars and spans are known, ``priced`` which pairs'
    latest prices are known (present in ``latest`` or known absent)."""

    bars: dict[str, dict[datetime, Bar]] = field(default_factory=dict)
    daily: dict[tuple[str, datetime], Bar] = field(default_factory=dict)
    spans: dict[tuple[str, datetime], tuple[Any, Any, int]] = field(default_factory=dict)
    latest: dict[str, datetime] = field(default_factory=dict)
    bars_from: dict[str, datetime] = field(default_factory=dict)
    days: set[datetime] = field(default_factory=set)
    priced: set[str] = field(default_factory=set)

    def clear(self) -> None:
        """Nothing known (before a read)."""
        for name, value in vars(Stored()).items():
            setattr(self, name, value)

    def covers(self, moments: Sequence[Moment], intraday: bool) -> bool:
        """Whether this held state answers every read the moments' writes make (each pair's
        bars from its first written on, its latest price, and for intraday bars every day)."""
        for pair, (first, _last) in spans_of(moments).items():
            held = self.bars_from.get(pair)
            if held is None or first < held or pair not in self.priced:
                return False
        return not intraday or set(days_of(moments)) <= self.days

    def prune(self) -> None:
        """Once the write is applied: the bars it inserted are stored rows now (a later write
        updates them), and only what the next writes of a writer that writes in time order can
        touch is kept: each pair's newest bar, and the days from the newest bar's day on."""
        for bar in self.daily.values():
            bar.row = None
        newest_day = None
        for pair, bars in self.bars.items():
            if bars:
                newest = max(bars)
                bars[newest].row = None
                self.bars[pair] = {newest: bars[newest]}
                self.bars_from[pair] = newest
                day = floor_time(newest, DAY)
                newest_day = day if newest_day is None else min(newest_day, day)
        if newest_day is None:
            return
        self.days = {day for day in self.days if day >= newest_day}
        self.daily = {key: bar for key, bar in self.daily.items() if key[1] >= newest_day}
        self.spans = {key: span for key, span in self.spans.items() if key[1] >= newest_day}


def kept(
    open_: Decimal, high: Decimal, low: Decimal, volume: Decimal, row: dict[str, Any] | None
) -> Bar:
    """A bar as the plan keeps it after writing it: its values as the exact columns give them
    back (``db.types.exact_value``), so a later moment computes with what a read would find
    (a volume with more than 18 places is stored rounded), and ``row``, its INSERT's values
    while the plan inserts it."""
    return Bar(exact_value(open_), exact_value(high), exact_value(low), exact_value(volume), row)


def new_prices(row: CandleRow, high: Decimal | None, low: Decimal | None) -> list[Decimal]:
    """What a write of ``row`` observed that its stored bar (``high``/``low``, None: a new bar)
    did not show: a new high, a new low (or the whole range of a new bar), and the close."""
    seen = []
    if high is None or row.high > high:
        seen.append(row.high)
    if low is None or row.low < low:
        seen.append(row.low)
    seen.append(row.close)
    return list(dict.fromkeys(seen))  # each price once, in that order


def spans_of(moments: Sequence[Moment]) -> dict[str, tuple[datetime, datetime]]:
    """Each pair's span of open times over the moments (what ``Stored.bars`` must cover)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for moment in moments:
        for pair, rows in moment.batches.items():
            if rows:
                first, last = rows[0].ts, rows[-1].ts
                held = spans.get(pair)
                spans[pair] = (min(held[0], first), max(held[1], last)) if held else (first, last)
    return spans


def days_of(moments: Sequence[Moment]) -> dict[datetime, set[str]]:
    """The UTC days the moments' rows fall in, each with its pairs (what ``Stored.daily`` and
    ``Stored.spans`` must cover for an intraday write)."""
    days: dict[datetime, set[str]] = {}
    for moment in moments:
        for pair, rows in moment.batches.items():
            for row in rows:
                days.setdefault(floor_time(row.ts, DAY), set()).add(pair)
    return days


@dataclass
class WritePlan:
    """The net statements of a sequence of moments of ``seconds``-long bars from ``source`` on
    ``stored`` (see the module's rule). ``stored`` is kept as each moment leaves it."""

    seconds: int
    source: str
    stored: Stored
    inserts: list[dict[str, Any]] = field(default_factory=list)  # candles, in write order
    # (pair, interval, open time) -> the columns written over a stored bar
    updates: dict[tuple[str, int, datetime], dict[str, Any]] = field(default_factory=dict)
    latest_inserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    epoch_bumps: int = 0
    epoch_at: datetime | None = None  # the last bump's time
    written: dict[str, int] = field(default_factory=dict)  # pair -> rows written (the last)

    def add(self, moment: Moment) -> None:
        """Apply one moment (every pair's rows, then the roll-up, the latest prices, the ticks
        and the epoch, as one write does)."""
        batches = {pair: list(rows) for pair, rows in moment.batches.items() if rows}
        if not batches:
            return
        now, observed = moment.now, moment.observed
        for rows in batches.values():
            not_ahead(rows[-1].ts, now, "candles.timestamp", "a bar that opens")
        if observed is not None:
            not_ahead(observed, now, "observed")
        seconds, stored = self.seconds, self.stored
        folds: list[DayFold] = []
        completed_day_changed = False
        for pair, incoming_rows in batches.items():
            bars = stored.bars.setdefault(pair, {})
            old_last = bars.get(incoming_rows[-1].ts)
            last_range = (old_last.high, old_last.low) if old_last is not None else (None, None)
            volume_change: dict[datetime, Decimal] = {}
            written: list[CandleRow] = []
            new: set[datetime] = set()
            for incoming in incoming_rows:
                old = bars.get(incoming.ts)
                row = incoming
                if old is not None and moment.merge:  # the stored bar, extended by the feed
                    row = CandleRow(
                        incoming.ts,
                        old.open,
                        max(old.high, incoming.high),
                        min(old.low, incoming.low),
                        incoming.close,
                        max(old.volume, incoming.volume),
                    )
                written.append(row)
                values = {
                    "open": row.open,
                    "high": row.high,
                    "low": row.low,
                    "close": row.close,
                    "volume": row.volume,
                    "source": self.source,
                }
                if old is None:
                    insert = {"pair": pair, "interval_seconds": seconds, "ts": row.ts, **values}
                    self.inserts.append(insert)
                    bars[row.ts] = kept(row.open, row.high, row.low, row.volume, insert)
                    new.add(row.ts)
                    delta = row.volume
                else:
                    self._update((pair, seconds, row.ts), old, values)
                    delta = row.volume - old.volume
                    bars[row.ts] = kept(row.open, row.high, row.low, row.volume, old.row)
                if seconds < DAY:
                    day = floor_time(row.ts, DAY)
                    volume_change[day] = volume_change.get(day, Decimal(0)) + delta
            if seconds < DAY:
                folds.append(DayFold(pair, written, new, volume_change))
            last = written[-1]
            seen_at = observed
            if seen_at is None:  # history: as old as its newest bar proves
                end = last.ts + timedelta(seconds=seconds)
                seen_at = end if end <= now else last.ts
            self._latest(pair, last.close, seen_at, now)
            seen = [moment.tick] if moment.tick is not None else new_prices(last, *last_range)
            self.ticks.extend({"pair": pair, "ts": seen_at, "price": value} for value in seen)
            completed_day_changed |= floor_time(written[0].ts, DAY) < floor_time(now, DAY)
            self.written[pair] = len(incoming_rows)
        if folds:
            self._roll_up(folds)
        if completed_day_changed:
            self.epoch_bumps += 1
            self.epoch_at = now

    def _update(self, key: tuple[str, int, datetime], bar: Bar, values: Mapping[str, Any]) -> None:
        """``values`` written over a stored bar (``key``: its pair, interval and open time):
        its INSERT's values while the plan inserts it, else its row's update (the later
        columns over the earlier)."""
        if bar.row is not None:
            bar.row.update(values)
        else:
            self.updates.setdefault(key, {}).update(values)

    def _roll_up(self, folds: Sequence[DayFold]) -> None:
        """The moment's intraday rows folded into their days' bars (``rollup.daily_change``),
        each day's span counting the rows this moment added first (the rule reads the span
        with them stored)."""
        stored = self.stored
        groups: dict[tuple[str, datetime], tuple[DayFold, list[CandleRow]]] = {}
        for fold in folds:
            for row in fold.rows:
                key = (fold.pair, floor_time(row.ts, DAY))
                groups.setdefault(key, (fold, []))[1].append(row)
                if row.ts in fold.new:
                    oldest, newest, count = stored.spans.get(key, (None, None, 0))
                    stored.spans[key] = (
                        row.ts if oldest is None else min(ensure_utc(oldest), row.ts),
                        row.ts if newest is None else max(ensure_utc(newest), row.ts),
                        int(count) + 1,
                    )
        for (pair, day), (fold, day_rows) in groups.items():
            daily = stored.daily.get((pair, day))
            change = daily_change(
                pair,
                day,
                day_rows,
                fold,
                (daily.high, daily.low, daily.volume) if daily is not None else None,
                stored.spans.get((pair, day), (None, None, 0)),
                self.source,
            )
            if daily is None:
                self.inserts.append(change)
                stored.daily[(pair, day)] = kept(
                    change["open"], change["high"], change["low"], change["volume"], change
                )
                continue
            self._update((pair, DAY, day), daily, change)
            stored.daily[(pair, day)] = kept(
                change.get("open", daily.open),
                change["high"],
                change["low"],
                change["volume"],
                daily.row,
            )

    def _latest(self, pair: str, close: Decimal, observed: datetime, now: datetime) -> None:
        """``close`` as the pair's latest price, observed at ``observed``, unless a newer one is
        stored (``helios.market.prices``' rule): a pair never priced gets its row inserted, a
        priced one updated (the plan keeps the last values of each)."""
        held = self.stored.latest.get(pair)
        if held is not None and observed < ensure_utc(held):
            return
        values = {"price": close, "ts": observed, "received_at": now, "source": self.source}
        if held is None or pair in self.latest_inserts:
            self.latest_inserts[pair] = {"pair": pair, **values}
        else:
            self.latest_updates[pair] = values
        self.stored.latest[pair] = observed
