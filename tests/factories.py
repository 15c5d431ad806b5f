"""Shared builders for the position tests: a market the 7 risk checks can judge, the seed's
trade, and counts of what was written.

The risk checks need a volatility estimate for every pair (DESIGN.md, "Fail closed"), so a book
gets ``HISTORY_DAYS`` completed daily candles per pair: a seeded random walk (3% daily log
returns) ending yesterday at the pair's price, which makes the estimates GARCH fits (>= 100
returns) and the statistics the same on every run. Today's price is then set at ``now``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import event, func, select

import helios
from helios.clock import ManualClock
from helios.db.engine import WRITE_OPTION
from helios.db.models import (
    Candle,
    Fill,
    LedgerEntry,
    Order,
    PaperVenueOrder,
    Position,
    PositionEvent,
    RiskDecision,
)
from helios.market.bar_time import floor_time

D = Decimal
HISTORY_DAYS = 200
DAILY_VOL = 0.03
PRICES = {"BTCZAR": "1200000", "ETHZAR": "60000", "SOLZAR": "2500"}
SEEDS = {"BTCZAR": 11, "ETHZAR": 12, "SOLZAR": 13}

# The seed's trade (portfolio-manager.md, "Execution"): R903 of BTC at 1x, 2% stop, 6% target.
SEED_TRADE: dict[str, Any] = {
    "position_size_zar": 903.0,
    "leverage": 1.0,
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.06,
}
SEED_REASONING = "Kelly + Vol targeting, LLM approved"


def daily_history(pair: str, last_close: float, days: int, end: Any) -> pd.DataFrame:
    """``days`` + 1 daily candles, the last one opening on ``end``'s UTC day and closing at
    ``last_close``: a random walk seeded per pair, walked backwards from that close."""
    rng = np.random.default_rng(SEEDS.get(pair, 1))
    steps = rng.normal(0.0, DAILY_VOL, days)
    log_closes = np.log(last_close) - np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])
    closes = np.round(np.exp(log_closes), 2)
    opens = np.concatenate([[closes[0]], closes[:-1]])
    last_day = floor_time(end, 86400)
    return pd.DataFrame(
        {
            "timestamp": [last_day - timedelta(days=days - i) for i in range(days + 1)],
            "open": opens,
            "high": np.maximum(opens, closes) * 1.01,
            "low": np.minimum(opens, closes) * 0.99,
            "close": closes,
            "volume": 10.0,
        }
    )


def give_market(hx: helios.Helios, pairs: list[str] | None = None) -> None:
    """Each pair (default: every configured one) gets its daily history ending yesterday, then
    today's price (``PRICES``)."""
    chosen = pairs if pairs is not None else list(hx.settings.pairs)
    yesterday = hx.clock.now() - timedelta(days=1)
    for pair in chosen:
        frame = daily_history(pair, float(PRICES[pair]), HISTORY_DAYS, yesterday)
        hx.market.ingest(pair, frame, "1d", source="test")
    for pair in chosen:
        hx.market.set_price(pair, PRICES[pair])


def connect_book(database_url: str, clock: ManualClock, **overrides: Any) -> helios.Helios:
    """The seed's R100,000 paper book: the 0.35% taker fee, no slippage unless given."""
    settings: dict[str, Any] = {"market_feed": "manual", "paper_slippage_pct": "0"}
    settings.update(overrides)
    return helios.connect(database_url, clock=clock, **settings)


def count_rows(hx: helios.Helios) -> dict[str, int]:
    """How many rows each table a trade writes holds (to prove nothing was written)."""
    tables = {
        "positions": Position,
        "orders": Order,
        "fills": Fill,
        "venue_orders": PaperVenueOrder,
        "position_events": PositionEvent,
        "risk_decisions": RiskDecision,
        "ledger_entries": LedgerEntry,
    }
    with hx.db.read() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


def position(hx: helios.Helios, position_id: int) -> Position:
    with hx.db.read() as session:
        row = session.get(Position, position_id)
        assert row is not None
        return row


def stored_candles(hx: helios.Helios, pair: str, seconds: int) -> list[Candle]:
    """The exact candles of ``pair`` at ``seconds`` in the database, oldest first."""
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(Candle)
                .where(Candle.pair == pair, Candle.interval_seconds == seconds)
                .order_by(Candle.ts)
            )
        )


def venue_orders(hx: helios.Helios) -> list[PaperVenueOrder]:
    with hx.db.read() as session:
        return list(session.scalars(select(PaperVenueOrder).order_by(PaperVenueOrder.id)))


def orders_of(hx: helios.Helios, position_id: int) -> list[Order]:
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(Order).where(Order.position_id == position_id).order_by(Order.id)
            )
        )


def event_kinds(hx: helios.Helios, position_id: int) -> list[str]:
    with hx.db.read() as session:
        return list(
            session.scalars(
                select(PositionEvent.kind)
                .where(PositionEvent.position_id == position_id)
                .order_by(PositionEvent.id)
            )
        )


# --- positions built by hand: the ledger and the paper venue without the position manager -------


def position_row(
    pair: str, side: str, size: str, leverage: str, now: Any, status: str = "OPENING"
) -> Position:
    """A position row as the position manager writes it before its order is sent."""
    return Position(
        pair=pair,
        side=side,
        status=status,
        mode="PAPER",
        position_size_zar=D(size),
        leverage=D(leverage),
        stop_loss_pct=D("0.02"),
        take_profit_pct=D("0.06"),
        max_holding_hours=D("72"),
        created_at=now,
        updated_at=now,
    )


def new_position(hx: helios.Helios, pair: str, side: str, size: str, leverage: str) -> int:
    """An OPENING position with no order yet; returns its id."""
    with hx.db.write() as session:
        position = position_row(pair, side, size, leverage, hx.clock.now())
        session.add(position)
        session.flush()
        return position.id


def booked_position(hx: helios.Helios, pair: str, side: str, size: str, leverage: str) -> int:
    """An OPEN position made without the risk checks: S x L bought (or sold) on the paper venue
    and booked by the ledger, as the position manager would; returns its id."""
    from helios.accounts.book import book_open
    from helios.accounts.invariants import check_invariants
    from helios.exchange.base import OrderRequest, OrderStatus
    from helios.market.prices import latest_prices

    position_id = new_position(hx, pair, side, size, leverage)
    fill = hx.paper_exchange.submit_market_order(
        OrderRequest.build(
            f"pos-{position_id}-open", pair, side, quote_amount=D(size) * D(leverage)
        )
    )
    assert fill.status is OrderStatus.FILLED
    now = hx.clock.now()
    with hx.db.write() as session:
        position = session.get(Position, position_id)
        assert position is not None
        assert fill.price is not None and fill.quantity is not None and fill.fee is not None
        book_open(
            session, position, fill_price=fill.price, quantity=fill.quantity, fee=fill.fee, now=now
        )
        position.status = "OPEN"
        position.opened_at = now
        position.updated_at = now
        check_invariants(session, latest_prices(session))
    return position_id


@contextmanager
def transactions(hx: helios.Helios) -> Iterator[list[str]]:
    """The database transactions ``hx`` begins inside the block (each a ``begin`` of a
    connection; a session that runs no statement begins none): the per-pass cost that
    dominates a replay's step (docs/replay.md, "Where the speed and the memory stand")."""
    begun: list[str] = []

    def count(connection: Any) -> None:
        begun.append("write" if connection.get_execution_options().get(WRITE_OPTION) else "read")

    event.listen(hx.db.engine, "begin", count)
    try:
        yield begun
    finally:
        event.remove(hx.db.engine, "begin", count)
