"""A trading morning for the price-chart tests, made through the library on a hand-moved clock.

``trade_morning`` gives the pairs their history, then twelve hours of BTCZAR 1-minute candles,
then trades BTCZAR one position at a time so that each ends for a different reason: a take
profit, a stop loss, a trailing stop, a manual close, an emergency close and a timeout; then it
leaves a BUY and a SELL open (their stops and targets are drawn) and opens and closes one ETHZAR
position (not on BTCZAR's chart). Every step is an hour apart on the clock, so the markers
spread over the morning. Returns what each position is, by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

import helios
from helios.clock import ManualClock
from helios.market.bar_time import floor_time
from tests.factories import PRICES, SEED_REASONING, SEED_TRADE, give_market

HOUR = timedelta(hours=1)
TRAILING = {**SEED_TRADE, "trailing_activation_pct": 0.01, "trailing_distance_pct": 0.01}
SHORT = {**SEED_TRADE, "max_holding_hours": 1.0}


@dataclass(frozen=True)
class Morning:
    ids: dict[str, int]  # what -> position id (BTCZAR unless named eth)
    started: Any  # the first BTCZAR minute candle's open (UTC)
    ended: Any  # the clock at the end

    @property
    def btc(self) -> list[int]:
        return [pid for what, pid in self.ids.items() if what != "eth"]

    @property
    def btc_open(self) -> list[int]:
        return [self.ids["open_buy"], self.ids["open_sell"]]


def minute_history(end: Any, hours: int, last_close: float, seed: int = 7) -> pd.DataFrame:
    """``hours`` of 1-minute candles ending at ``end``'s minute: a small random walk that closes
    at ``last_close``."""
    rng = np.random.default_rng(seed)
    n = hours * 60
    last = floor_time(end, 60)
    steps = rng.normal(0, 0.0004, n)
    closes = last_close * np.exp(np.cumsum(steps) - np.sum(steps))
    opens = np.concatenate([[closes[0]], closes[:-1]])
    spread = np.abs(rng.normal(0, 0.0003, n))
    return pd.DataFrame(
        {
            "timestamp": [last - timedelta(minutes=n - i) for i in range(n)],
            "open": np.round(opens, 2),
            "high": np.round(np.maximum(opens, closes) * (1 + spread), 2),
            "low": np.round(np.minimum(opens, closes) * (1 - spread), 2),
            "close": np.round(closes, 2),
            "volume": 0.5,
        }
    )


def _open(hx: helios.Helios, pair: str, side: str, trade: dict[str, Any]) -> int:
    """Open at the latest price, observed again now (an opening trade needs a fresh price)."""
    hx.market.set_price(pair, hx.market.latest_price(pair))
    opened = hx.positions.open_position(pair, side, trade, SEED_REASONING)
    assert opened["success"], opened
    return int(opened["position_id"])


def _move(hx: helios.Helios, clock: ManualClock, pair: str, factor: str) -> None:
    """An hour later, the price moves by ``factor``, and the monitor passes."""
    clock.advance(HOUR)
    price = hx.market.latest_price(pair)
    assert price is not None
    hx.market.set_price(pair, (price * Decimal(factor)).quantize(Decimal("0.01")))
    hx.positions.monitor_positions()


def _start_the_day_at(hx: helios.Helios, when: Any) -> None:
    """The account's trading day set to ``when``'s, its start the equity (setup, as a day roll
    would leave it): the morning is laid out from 19 h before the real clock on a database made
    at the real time, and the start-of-day marks only roll forward, so a morning on the previous
    SAST day (a run before about 19:00 SAST) had no start-of-day equity: every open refused.
    The account is funded before the morning too (its initial capital booked a day before it):
    a morning crossing SAST midnight (a run at 15:00-17:00 UTC) rebuilt the new day's start from
    the ledger, found the capital booked after that midnight, and every later open was refused."""
    from sqlalchemy import select, update

    from helios.clock import trading_day
    from helios.db.models import LedgerEntry, PortfolioState

    day = trading_day(when, hx.settings.trading_day_timezone)
    with hx.db.write() as session:
        state = session.scalars(select(PortfolioState)).one()
        session.execute(
            update(PortfolioState).values(trading_day=day, start_of_day_equity=state.peak_equity)
        )
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.kind == "INITIAL_CAPITAL")
            .values(ts=when - timedelta(days=1))
        )


def morning_start(now: Any) -> Any:
    """Where the morning's hand-moved clock starts: 19 h before ``now``'s hour, so the morning
    (about 16 h) ends about three hours before the real clock the pages read with."""
    return floor_time(now, 3600) - timedelta(hours=19)


def trade_morning(hx: helios.Helios, clock: ManualClock) -> Morning:
    give_market(hx)
    _start_the_day_at(hx, clock.now())
    history = minute_history(clock.now(), 12, float(PRICES["BTCZAR"]))
    hx.market.ingest("BTCZAR", history, "1m", source="test")
    ids: dict[str, int] = {}
    clock.advance(HOUR)
    hx.market.set_price("BTCZAR", PRICES["BTCZAR"])
    ids["take_profit"] = _open(hx, "BTCZAR", "BUY", SEED_TRADE)
    _move(hx, clock, "BTCZAR", "1.07")
    clock.advance(HOUR)
    ids["stop_loss"] = _open(hx, "BTCZAR", "BUY", SEED_TRADE)
    _move(hx, clock, "BTCZAR", "0.97")
    clock.advance(HOUR)
    ids["trailing_stop"] = _open(hx, "BTCZAR", "BUY", TRAILING)
    _move(hx, clock, "BTCZAR", "1.03")  # the stop trails to about +1.97%
    _move(hx, clock, "BTCZAR", "0.98")  # below the trailed stop
    clock.advance(HOUR)
    ids["manual"] = _open(hx, "BTCZAR", "BUY", SEED_TRADE)
    _move(hx, clock, "BTCZAR", "1.005")
    assert hx.positions.close_position(ids["manual"], actor="tests")["success"]
    clock.advance(HOUR)
    ids["emergency"] = _open(hx, "BTCZAR", "SELL", SEED_TRADE)
    _move(hx, clock, "BTCZAR", "0.995")
    closed = hx.positions.close_position(ids["emergency"], "EMERGENCY_CLOSE", actor="tests")
    assert closed["success"], closed
    clock.advance(HOUR)
    ids["timeout"] = _open(hx, "BTCZAR", "BUY", SHORT)
    _move(hx, clock, "BTCZAR", "1.002")
    _move(hx, clock, "BTCZAR", "1.001")  # held two hours: past its one
    clock.advance(HOUR)
    ids["open_buy"] = _open(hx, "BTCZAR", "BUY", SEED_TRADE)
    ids["open_sell"] = _open(hx, "BTCZAR", "SELL", SEED_TRADE)
    ids["eth"] = _open(hx, "ETHZAR", "BUY", SEED_TRADE)
    assert hx.positions.close_position(ids["eth"], actor="tests")["success"]
    clock.advance(timedelta(minutes=30))
    hx.market.set_price("BTCZAR", hx.market.latest_price("BTCZAR"))
    return Morning(ids, history["timestamp"].iloc[0].to_pydatetime(), clock.now())
