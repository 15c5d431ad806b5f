"""The stop monitor's rules for one position: a pure function of the position's levels and the
price bars seen since the last pass.

- Bars are the finest intraday candles stored, and the prices observed inside the bar the last
  pass was in (``bars_since``): a bar that started after the last pass counts with its full high
  and low; the bar the last pass was inside counts with the prices observed in it since, so an
  excursion before the position opened, or one already judged, never fires a stop, and a
  revisit inside the range it had is still seen. The latest price is a last, flat bar.
- Within one bar the order of the high and the low is unknown: the stop is checked first, then the
  target, then the trailing stop moves (with the bar's favourable extreme). When both the stop and
  the target were crossed inside one bar, the stop is assumed hit first (the conservative reading).
- The trailing stop activates once the best price is ``trailing_activation_pct`` beyond the entry
  and then follows it at ``trailing_distance_pct``; it only moves in the position's favour.
- The holding-time limit (72 h by default) closes with TIMEOUT when no level was hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from helios.money import price as to_price
from helios.positions.lifecycle import STOPPED_OUT, TAKE_PROFIT, TIMEOUT


@dataclass(frozen=True)
class Bar:
    ts: datetime
    high: Decimal | None  # None: no new high in this bar since the last pass
    low: Decimal | None


@dataclass(frozen=True)
class Levels:
    side: str
    entry_price: Decimal
    stop_loss_price: Decimal
    take_profit_price: Decimal
    best_price: Decimal
    trailing_activation_pct: Decimal | None
    trailing_distance_pct: Decimal | None
    opened_at: datetime
    max_holding_hours: Decimal


@dataclass(frozen=True)
class Verdict:
    exit_status: str | None  # STOPPED_OUT, TAKE_PROFIT, TIMEOUT or None (hold)
    trigger_price: Decimal | None  # the level crossed (or the latest price for TIMEOUT)
    stop_loss_price: Decimal  # possibly trailed
    best_price: Decimal
    stop_moved: bool
    explanation: str
    # the open time of the bar whose price made the exit (``now`` for the latest price and the
    # timeout): what a replay labels the trade's exit with, as backtesters do
    at: datetime | None = None


@dataclass(frozen=True)
class StoredBar:
    """An intraday candle as stored (the finest interval of the pair)."""

    ts: datetime
    seconds: int
    high: Decimal
    low: Decimal

    @property
    def end(self) -> datetime:
        return self.ts + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class LastLook:
    """What the monitor had seen of a position's prices: when it last looked (its entry, before
    the first pass) and the bar it was inside then with that bar's range at the time (None
    when no bar existed yet)."""

    at: datetime
    bar_ts: datetime | None = None
    bar_high: Decimal | None = None
    bar_low: Decimal | None = None


def bars_since(
    side: str,
    stored: list[StoredBar],
    ticks: list[tuple[datetime, Decimal]],
    look: LastLook,
) -> list[Bar]:
    """What happened to the price since the monitor last looked, as the bars ``judge`` reads,
    in time order. Prices observed before that look (before the entry, for a new position)
    never count.

    - A bar that began after the look counts with its full range.
    - The bar the look was inside counts with the prices observed in it since (``ticks``: every
      price observed, each a flat bar in time order), so a revisit inside its earlier range is
      seen: a dip after the entry above a deeper pre-entry low, a dip below a stop trailed up in
      the meantime. An extreme beyond the range it had at the look that no such price shows (a
      bar written without its ticks) happened at a time unknown inside the window: its adverse
      side is judged first, against the stop as it was at the look, and its favourable side
      last, so it moves the trailing stop only after every price seen in the window (the same
      reading as inside one bar: the stop first, the trail after).
    - A bar that began before the look but had no range recorded then (no bar existed yet when
      the position opened) counts with the prices observed in it since the look.
    """
    long = side == "BUY"
    out: list[Bar] = []
    for bar in stored:
        if look.bar_ts is not None and bar.ts == look.bar_ts:
            seen = _ticks_between(ticks, look.at, bar.end)
            shown_high = max((b.high for b in seen if b.high is not None), default=None)
            shown_low = min((b.low for b in seen if b.low is not None), default=None)
            high = _beyond(bar.high, look.bar_high, shown_high, higher=True)
            low = _beyond(bar.low, look.bar_low, shown_low, higher=False)
            adverse, favourable = (
                (Bar(bar.ts, None, low), Bar(bar.ts, high, None))
                if long
                else (Bar(bar.ts, high, None), Bar(bar.ts, None, low))
            )
            out.extend(
                b for b in (adverse, *seen, favourable) if b.high is not None or b.low is not None
            )
        elif bar.ts > (look.bar_ts or look.at):
            out.append(Bar(bar.ts, bar.high, bar.low))
        elif look.bar_ts is None and bar.end > look.at:
            out.extend(_ticks_between(ticks, look.at, bar.end))
    return out


def _beyond(
    extreme: Decimal, known: Decimal | None, shown: Decimal | None, *, higher: bool
) -> Decimal | None:
    """``extreme`` if it goes beyond both the range known at the look and what the observed
    prices show (None: nothing new to judge)."""
    for bound in (known, shown):
        if bound is not None and (extreme <= bound if higher else extreme >= bound):
            return None
    return extreme


def _ticks_between(
    ticks: list[tuple[datetime, Decimal]], after: datetime, before: datetime
) -> list[Bar]:
    """The prices observed in (``after``, ``before``) as flat bars in time order (several at one
    instant: one bar with their high and low)."""
    grouped: dict[datetime, list[Decimal]] = {}
    for ts, value in ticks:
        if after < ts < before:
            grouped.setdefault(ts, []).append(value)
    return [Bar(ts, max(values), min(values)) for ts, values in grouped.items()]


def _trail(levels: Levels, best: Decimal, stop: Decimal) -> Decimal:
    activation, distance = levels.trailing_activation_pct, levels.trailing_distance_pct
    if activation is None or distance is None:
        return stop
    if levels.side == "BUY":
        if best >= levels.entry_price * (1 + activation):
            return max(stop, to_price(best * (1 - distance)))
        return stop
    if best <= levels.entry_price * (1 - activation):
        return min(stop, to_price(best * (1 + distance)))
    return stop


def judge(levels: Levels, bars: list[Bar], latest: Decimal | None, now: datetime) -> Verdict:
    stop, best = levels.stop_loss_price, levels.best_price
    long = levels.side == "BUY"
    sequence = list(bars)
    if latest is not None:
        sequence.append(Bar(now, latest, latest))
    for bar in sequence:
        adverse = bar.low if long else bar.high
        favourable = bar.high if long else bar.low
        if adverse is not None and (adverse <= stop if long else adverse >= stop):
            return Verdict(
                STOPPED_OUT,
                stop,
                stop,
                best,
                stop != levels.stop_loss_price,
                f"stop {stop} crossed ({'low' if long else 'high'} {adverse} at "
                f"{bar.ts:%Y-%m-%d %H:%M} UTC)",
                bar.ts,
            )
        target = levels.take_profit_price
        if favourable is not None and (favourable >= target if long else favourable <= target):
            return Verdict(
                TAKE_PROFIT,
                target,
                stop,
                best,
                stop != levels.stop_loss_price,
                f"target {target} reached ({'high' if long else 'low'} {favourable} "
                f"at {bar.ts:%Y-%m-%d %H:%M} UTC)",
                bar.ts,
            )
        if favourable is not None:
            best = max(best, favourable) if long else min(best, favourable)
            stop = _trail(levels, best, stop)
    moved = stop != levels.stop_loss_price
    held = now - levels.opened_at
    if held >= timedelta(hours=float(levels.max_holding_hours)):
        return Verdict(
            TIMEOUT,
            latest,
            stop,
            best,
            moved,
            f"held {held.total_seconds() / 3600:.1f} h >= {levels.max_holding_hours} h",
            now,
        )
    return Verdict(None, None, stop, best, moved, f"stop trailed to {stop}" if moved else "hold")
