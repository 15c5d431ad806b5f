"""The monitor pass over open positions: stop loss, take profit, trailing stop and timeout.

The rules themselves are the pure ``helios.positions.monitor`` (``bars_since`` then ``judge``);
this module reads what they need and acts on their verdict:

- each position is judged on the finest intraday bars stored since its last look (else its
  entry: prices before the fill never judge it) and the prices observed inside the bar it was
  last seen in, then the latest price;
- the pass's levels (best price, trailed stop, the bar seen) are written in one transaction, each
  row only if still OPEN and unchanged since the pass read it (``version``), so an older,
  slower pass never writes its view over a newer one and a trailed stop never moves back; each
  stop that moved is told as STOP_MOVED, and the account's peak and day start are maintained
  from the pass's valuation;
- a verdict to exit closes the position through ``close`` (the one-winner close) with the exit
  status as its reason, a stop-out carrying the crossed stop as the order's stop price.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from helios.accounts.account import unrealized
from helios.accounts.valuation import maintain_marks_at
from helios.clock import Clock, ensure_utc
from helios.config import Settings
from helios.db.engine import Database
from helios.db.models import Candle, Position
from helios.market.bar_time import MINUTE, floor_time
from helios.market.candles import DAY
from helios.market.prices import latest_prices, price_ticks
from helios.money import ZERO
from helios.positions.lifecycle import CLOSE_REASONS, OPEN, STOPPED_OUT
from helios.positions.monitor import LastLook, Levels, StoredBar, Verdict, bars_since, judge
from helios.positions.records import event


@dataclass(frozen=True)
class MonitorResult:
    """One position's outcome of a monitor pass (``close``: the close's dict when it exited)."""

    position_id: int
    pair: str
    side: str
    price: Decimal | None
    unrealized_pnl: Decimal | None
    unrealized_pnl_pct: float | None  # of entry notional: the price move in the position's favour
    stop_loss_price: Decimal
    take_profit_price: Decimal
    action: str  # HOLD, STOP_MOVED or the closing status
    explanation: str
    trigger_price: Decimal | None = None
    close: dict[str, Any] | None = None
    at: datetime | None = None  # the open time of the bar whose price made the exit


_NEWEST_BAR = (
    select(Candle.ts, Candle.high, Candle.low)
    .where(Candle.pair == bindparam("pair"), Candle.ts <= bindparam("now"))
    .order_by(Candle.ts.desc(), Candle.interval_seconds)
    .limit(1)
)


# the intraday bars of a pair in a span, as the monitor judges them (four columns, not whole rows)
_BARS = (
    select(Candle.ts, Candle.interval_seconds, Candle.high, Candle.low)
    .where(
        Candle.pair == bindparam("pair"),
        Candle.interval_seconds < DAY,
        Candle.ts >= bindparam("since"),
        Candle.ts <= bindparam("now"),
    )
    .order_by(Candle.ts)
)


def current_bar(
    session: Session, pair: str, now: datetime
) -> tuple[datetime, Decimal, Decimal] | None:
    """The newest intraday bar of ``pair`` at ``now`` (one-minute bars first: every live feed
    and set_price write them, and that look-up is one index probe)."""
    row = session.execute(
        _NEWEST_BAR.where(Candle.interval_seconds == MINUTE),
        {"pair": pair, "now": now},
    ).first()
    if row is None:  # a feed with coarser bars only (replay of hourly candles, say)
        row = session.execute(
            _NEWEST_BAR.where(Candle.interval_seconds < DAY), {"pair": pair, "now": now}
        ).first()
    return (row.ts, row.high, row.low) if row else None


def last_look(position: Position, now: datetime) -> datetime:
    """Since when the monitor has not seen this position's prices: its last pass, else its
    entry (prices observed before the entry must never judge it)."""
    return ensure_utc(position.last_monitored_at or position.opened_at or now)


def judge_position(
    position: Position,
    candles: Sequence[Any],
    latest: Decimal | None,
    now: datetime,
    ticks: Sequence[tuple[datetime, Decimal]] = (),
) -> tuple[Verdict, tuple[datetime, Decimal, Decimal] | None]:
    """What happened since the last look (``monitor.bars_since``: the bars and the prices
    observed, ``ticks``), then the pure ``judge``. Also returns the newest bar's (ts, high,
    low) to remember for the next pass."""
    seen_ts = position.monitor_bar_ts
    look = LastLook(
        last_look(position, now),
        ensure_utc(seen_ts) if seen_ts is not None else None,
        position.monitor_bar_high,
        position.monitor_bar_low,
    )
    stored = [StoredBar(ensure_utc(c.ts), int(c.interval_seconds), c.high, c.low) for c in candles]
    bars = bars_since(position.side, stored, list(ticks), look)
    newest = candles[-1] if candles else None
    seen = (
        (newest.ts, newest.high, newest.low)
        if newest is not None and newest.ts >= (seen_ts or newest.ts)
        else None
    )
    assert position.entry_price is not None and position.stop_loss_price is not None
    assert position.take_profit_price is not None and position.opened_at is not None
    levels = Levels(
        side=position.side,
        entry_price=position.entry_price,
        stop_loss_price=position.stop_loss_price,
        take_profit_price=position.take_profit_price,
        best_price=position.best_price or position.entry_price,
        trailing_activation_pct=position.trailing_activation_pct,
        trailing_distance_pct=position.trailing_distance_pct,
        opened_at=position.opened_at,
        max_holding_hours=position.max_holding_hours,
    )
    return judge(levels, bars, latest, now), seen


class Monitoring:
    """``close(position_id, reason, *, actor, stop_price, trigger_price, at)``: the one-winner
    close (``Closing.close_position``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        close: Callable[..., dict[str, Any]],
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._close = close

    def monitor_positions(self, now: datetime | None = None) -> list[MonitorResult]:
        """One pass over open positions: P&L, stop, target, trailing stop, timeout. Hits close
        the position with STOPPED_OUT, TAKE_PROFIT or TIMEOUT."""
        now = ensure_utc(now) if now is not None else self._clock.now()
        with self._db.read() as session:
            positions = list(
                session.scalars(
                    select(Position).where(Position.status == OPEN).order_by(Position.id)
                )
            )
            prices = latest_prices(session)
            bars_by_pair: dict[str, list[Row[Any]]] = {}
            for pair in {p.pair for p in positions}:
                starts = [
                    p.monitor_bar_ts or p.opened_at or now for p in positions if p.pair == pair
                ]
                since = floor_time(min(starts), 3600)
                rows = session.execute(_BARS, {"pair": pair, "since": since, "now": now}).all()
                finest = min((c.interval_seconds for c in rows), default=None)
                bars_by_pair[pair] = [c for c in rows if c.interval_seconds == finest]
            # the prices observed since each position's last look (or its entry)
            looked = [last_look(p, now) for p in positions]
            ticks = (
                price_ticks(session, {p.pair for p in positions}, min(looked), now)
                if positions
                else {}
            )
        results: list[MonitorResult] = []
        updates: list[dict[str, Any]] = []
        moved: dict[int, tuple[str, dict[str, str]]] = {}
        for position in positions:
            verdict, seen = judge_position(
                position,
                bars_by_pair.get(position.pair, []),
                prices.get(position.pair),
                now,
                ticks.get(position.pair, []),
            )
            mark = prices.get(position.pair)
            pnl = pct = None
            if mark is not None and position.entry_price and position.quantity:
                pnl = unrealized(position.side, position.entry_price, mark, position.quantity)
                pct = float(pnl / (position.entry_price * position.quantity))
            action = verdict.exit_status or ("STOP_MOVED" if verdict.stop_moved else "HOLD")
            update_row = {
                "pid": position.id,
                "seen_version": position.version,
                "best": verdict.best_price,
                "stop": verdict.stop_loss_price,
                "at": now,
                "bar_ts": seen[0] if seen else position.monitor_bar_ts,
                "bar_high": seen[1] if seen else position.monitor_bar_high,
                "bar_low": seen[2] if seen else position.monitor_bar_low,
            }
            updates.append(update_row)
            results.append(
                MonitorResult(
                    position.id,
                    position.pair,
                    position.side,
                    mark,
                    pnl,
                    pct,
                    verdict.stop_loss_price,
                    position.take_profit_price or ZERO,
                    action,
                    verdict.explanation,
                    verdict.trigger_price,
                    at=verdict.at,
                )
            )
            if verdict.stop_moved:
                moved[position.id] = (
                    f"trailing stop {position.stop_loss_price} -> "
                    f"{verdict.stop_loss_price} (best {verdict.best_price})",
                    {"from": str(position.stop_loss_price), "to": str(verdict.stop_loss_price)},
                )
        self._save_levels(updates, moved, prices, now)
        closed: list[MonitorResult] = []
        for result in results:
            if result.action in CLOSE_REASONS:
                outcome = self._close(
                    result.position_id,
                    result.action,
                    actor="monitor",
                    stop_price=result.trigger_price if result.action == STOPPED_OUT else None,
                    trigger_price=result.trigger_price,
                    at=now,
                )
                closed.append(MonitorResult(**{**result.__dict__, "close": outcome}))
            else:
                closed.append(result)
        return closed

    def _save_levels(
        self,
        updates: list[dict[str, Any]],
        moved: dict[int, tuple[str, dict[str, str]]],
        prices: dict[str, Decimal],
        now: datetime,
    ) -> None:
        """Store each position's best price, (trailed) stop and the bar seen, in one
        transaction, with a STOP_MOVED event for each stop that moved, and maintain the
        account's peak and day start from the pass's valuation (``ledger.maintain_marks_at``).

        Each row is written only if it is still OPEN and unchanged since this pass read it
        (``version``): a slower pass that overlapped a newer one (a notebook and the scheduler)
        never writes its older view over the newer one, so a trailed stop never moves back.
        """
        table = Position.__table__
        guarded = (
            update(table)
            .where(
                table.c.id == bindparam("pid"),
                table.c.status == OPEN,
                table.c.version == bindparam("seen_version"),
            )
            .values(
                best_price=bindparam("best"),
                stop_loss_price=bindparam("stop"),
                last_monitored_at=bindparam("at"),
                monitor_bar_ts=bindparam("bar_ts"),
                monitor_bar_high=bindparam("bar_high"),
                monitor_bar_low=bindparam("bar_low"),
                version=table.c.version + 1,
            )
        )
        with self._db.write() as session:
            connection = session.connection()
            plain = [row for row in updates if row["pid"] not in moved]
            if plain:
                connection.execute(guarded, plain)
            for row in updates:
                if row["pid"] in moved and connection.execute(guarded, row).rowcount == 1:
                    message, details = moved[row["pid"]]
                    event(session, row["pid"], now, "STOP_MOVED", message, details)
            maintain_marks_at(session, prices, now, self._settings.trading_day_timezone)
