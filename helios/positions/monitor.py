"""The stop monitor's rules for one position: a pure function of the position's levels and the
price bars seen since the last pass.

- Bars are the finest intraday candles stored. A bar that started after the last pass counts with
  its full high and low. The bar the last pass was inside counts only for how far its high rose or
  its low fell since then (a bar's range only widens), so an excursion before the position opened,
  or one already judged, never fires a stop. The latest price is a last, flat bar.
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
        )
    return Verdict(None, None, stop, best, moved, f"stop trailed to {stop}" if moved else "hold")
