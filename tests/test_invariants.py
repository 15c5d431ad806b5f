"""The guardian's invariants over random histories (issue 14): a hypothesis state machine drives
a real book on a real database (SQLite and PostgreSQL, a fresh one per example) through opens,
closes, price moves, monitor passes, day boundaries, watchdog passes, halts and resumes, and
after every step checks what must always be true:

- the cash is never negative, and the ledger agrees with itself (``hx.ledger.check``: cash =
  the entries, equity = cash + margin + unrealized P&L two ways, margin = the margin entries);
- equity = cash + margin + unrealized P&L, exactly;
- the peak is at least every equity a valuation saw (each step ends with a monitor pass, as the
  scheduler's would, and its equity is recorded);
- after any accepted open, every limit holds for the book it made (measured on the equity the
  decision saw, the seed's convention: the entry fee comes after);
- no order reached the venue without its intent row in ``orders``;
- each position has at most one closing fill (exactly one once it is closed).

Prices move at most 8% a step and every step ends with a monitor pass, so a stop (at most 10%
away) is acted on before a loss can exceed a position's margin: a gap through a leveraged stop
is the exchange's liquidation's business, not the ledger's.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import PREFIX, START, _admin_engine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import helios
from helios.clock import ManualClock, trading_day_start
from helios.db.engine import normalise_url
from helios.db.models import Fill, Order, PaperVenueOrder, Position
from helios.market.bar_time import floor_time

PAIRS = {"BTCZAR": 1_200_000.0, "ETHZAR": 60_000.0, "SOLZAR": 2_500.0}
SECTORS = {"BTCZAR": "majors", "ETHZAR": "majors", "SOLZAR": "alts"}
ZONE = "Africa/Johannesburg"
TOLERANCE = 2e-3  # a short's notional at the mark exceeds its request by the fill's slippage
LOOSE = {  # as loose as their ranges allow: the cash is all that holds the book back
    "max_single_position_pct": 1.0,
    "max_sector_exposure_pct": 10.0,
    "max_portfolio_risk_exposure_pct": 1.0,
    "max_correlation_threshold": 1.0,
    "max_leverage": 10.0,
}


def history(last_close: float, seed: int) -> pd.DataFrame:
    """60 daily candles ending yesterday (UTC) at ``last_close``: EWMA volatility, fast."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.03, 60)
    closes = np.round(np.exp(np.log(last_close) - np.cumsum(steps[::-1])[::-1]), 2)
    opens = np.concatenate([[closes[0]], closes[:-1]])
    last_day = floor_time(START, 86400) - timedelta(days=1)
    return pd.DataFrame(
        {
            "timestamp": [last_day - timedelta(days=59 - i) for i in range(60)],
            "open": opens,
            "high": np.maximum(opens, closes) * 1.01,
            "low": np.minimum(opens, closes) * 0.99,
            "close": closes,
            "volume": 1.0,
        }
    )


OPEN_TRADE = {
    "pair": st.sampled_from(list(PAIRS)),
    "side": st.sampled_from(["BUY", "SELL"]),
    "margin": st.sampled_from([400, 2_500, 9_000, 19_000, 35_000, 60_000]),
    "leverage": st.sampled_from([1, 1, 1, 2, 3]),
    "stop": st.sampled_from([0.02, 0.05, 0.1]),
    "take": st.sampled_from([0.03, 0.06, 0.5]),
}
OUTCOMES: Counter[str] = Counter()  # what the opens of every example came to


def _why(result: dict[str, Any]) -> str:
    reason = str(result.get("reason") or result.get("error") or "")
    if reason.startswith("Trading is halted"):
        return "halted"
    if "PRE-CHECK" in reason:
        return reason.split(":")[0]
    return "CHECK " + ",".join(result.get("violated_limits") or ["?"])


class Guardian(RuleBasedStateMachine):
    """One book, driven at random. ``new_database`` is set by the test (a fresh URL each time,
    and its clean-up)."""

    new_database: Callable[[], tuple[str, Callable[[], None]]]

    def __init__(self) -> None:
        super().__init__()
        url, self._drop = self.new_database()
        self.clock = ManualClock(START)
        self.hx = helios.connect(
            url,
            clock=self.clock,
            market_feed="manual",
            sector_map=SECTORS,
            halt_action_stale_price="halt_only",
        )
        for seed, (pair, value) in enumerate(PAIRS.items(), 7):
            self.hx.market.ingest(pair, history(value, seed), "1d", source="test")
        self.prices = dict(PAIRS)
        self.stamp()
        self.equities_seen: list[Decimal] = []
        self.opened = 0

    def teardown(self) -> None:
        self.hx.close()
        self._drop()

    # --- helpers ------------------------------------------------------------------------
    def stamp(self) -> None:
        """Every pair priced now (the feed is alive)."""
        for pair, value in self.prices.items():
            self.hx.market.set_price(pair, f"{value:.2f}")

    def monitor(self) -> None:
        """A monitor pass, as the scheduler's; the equity it valued is one seen."""
        self.hx.positions.monitor_positions()
        self.equities_seen.append(self.hx.ledger.valuation().equity)

    def open_ids(self) -> list[int]:
        return [p["position_id"] for p in self.hx.positions.get_open_positions()]

    # --- rules --------------------------------------------------------------------------
    @initialize(profile=st.sampled_from(["default", "loose"]))
    def limits(self, profile: str) -> None:
        """The seed's limits, or limits loosened inside their ranges so far that the cash runs
        out before they bind."""
        if profile == "loose":
            self.hx.risk.update_limits(LOOSE, "tester", "hypothesis: cash binds first")

    @rule(**OPEN_TRADE)
    def open(
        self, pair: str, side: str, margin: int, leverage: int, stop: float, take: float
    ) -> None:
        self.try_open(pair, side, margin, leverage, stop, take)

    @rule(
        pair=st.sampled_from(list(PAIRS)),
        side=st.sampled_from(["BUY", "SELL"]),
        margin=st.sampled_from([30_000, 45_000, 60_000]),
    )
    def open_large(self, pair: str, side: str, margin: int) -> None:
        """A large trade at 1x: under the loose limits only the cash can refuse it."""
        self.try_open(pair, side, margin, 1, 0.05, 0.06)

    @rule(**OPEN_TRADE)
    def open_another(
        self, pair: str, side: str, margin: int, leverage: int, stop: float, take: float
    ) -> None:
        self.try_open(pair, side, margin, leverage, stop, take)

    def try_open(
        self, pair: str, side: str, margin: int, leverage: int, stop: float, take: float
    ) -> None:
        params = {
            "position_size_zar": margin,
            "leverage": leverage,
            "stop_loss_pct": stop,
            "take_profit_pct": take,
        }
        result = self.hx.positions.open_position(pair, side, params, "hypothesis")
        OUTCOMES["opened" if result.get("success") else _why(result)] += 1
        if result.get("success"):
            self.opened += 1
            self.limits_hold_after(result["position_id"])
        self.monitor()

    def limits_hold_after(self, position_id: int) -> None:
        """The book the open made, on the equity its decision saw (before its entry fee)."""
        hx = self.hx
        limits = hx.risk.get_limits()
        with hx.db.read() as session:
            fee = session.scalar(select(Position.entry_fee).where(Position.id == position_id))
        valuation = hx.ledger.valuation()
        equity = float(valuation.equity + (fee or 0))
        by_pair: dict[str, float] = {}
        by_sector: dict[str, float] = {}
        for mark in valuation.positions:
            by_pair[mark.pair] = by_pair.get(mark.pair, 0.0) + float(mark.notional)
            sector = SECTORS[mark.pair]
            by_sector[sector] = by_sector.get(sector, 0.0) + float(mark.notional)
        vols = hx.risk.market_stats().stats.daily_vol
        risk = sum(float(m.notional) * vols[m.pair] for m in valuation.positions)

        def within(value: float, limit: float, name: str) -> None:
            assert value <= limit * (1 + TOLERANCE) + 1e-12, f"{name}: {value} > {limit}"

        within(max(by_pair.values()) / equity, limits.max_single_position_pct, "single position")
        within(max(by_sector.values()) / equity, limits.max_sector_exposure_pct, "sector")
        within(sum(by_pair.values()) / equity, limits.max_leverage, "leverage")
        within(risk / equity, limits.max_portfolio_risk_exposure_pct, "risk capacity")
        peak = float(max(valuation.peak_equity, valuation.equity))
        within(1 - equity / peak, limits.max_drawdown_pct, "drawdown")
        start = float(valuation.start_of_day_equity)
        within(max(0.0, 1 - equity / start), limits.daily_loss_limit_pct, "daily loss")

    @precondition(lambda self: bool(self.open_ids()))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        position_id = data.draw(st.sampled_from(self.open_ids()))
        self.hx.positions.close_position(position_id, "CLOSED", actor="hypothesis")
        self.monitor()

    @rule(pair=st.sampled_from(list(PAIRS)), move=st.floats(-0.08, 0.08))
    def move_price(self, pair: str, move: float) -> None:
        self.clock.advance(seconds=20)
        self.prices[pair] = round(self.prices[pair] * (1 + move), 2)
        self.stamp()
        self.monitor()

    @rule(minutes=st.sampled_from([1, 30, 240, 1_500]))
    def time_passes(self, minutes: int) -> None:
        """Time passes with the feed alive (a last price just before each trading day's start,
        as a running feed leaves), then the scheduler's passes."""
        target = self.clock.now() + timedelta(minutes=minutes)
        boundary = trading_day_start(
            (self.clock.now() + timedelta(hours=2)).date() + timedelta(days=1), ZONE
        )
        while boundary < target:
            self.clock.advance(boundary - timedelta(seconds=30) - self.clock.now())
            self.stamp()
            boundary += timedelta(days=1)
        self.clock.advance(target - self.clock.now())
        self.stamp()
        self.monitor()

    @rule(
        action=st.sampled_from(
            ["watchdog", "watchdog", "watchdog", "resume", "resume", "halt", "emergency_stop"]
        )
    )
    def control(self, action: str) -> None:
        """The watchdog's pass and a person's halts, resumes and emergency stops."""
        if action == "watchdog":
            self.hx.halts.check()
        elif action == "resume":
            self.hx.controls.resume("tester")
        elif action == "halt":
            self.hx.controls.halt("hypothesis halts", "tester")
        else:
            self.hx.controls.emergency_stop("tester", "hypothesis")
        self.monitor()

    # --- invariants ---------------------------------------------------------------------
    @invariant()
    def the_books_agree_and_cash_is_never_negative(self) -> None:
        valuation = self.hx.ledger.check()  # raises on any disagreement, negative cash too
        assert valuation.cash >= 0
        assert valuation.equity == valuation.cash + valuation.margin + valuation.unrealized_pnl

    @invariant()
    def the_peak_is_at_least_every_equity_seen(self) -> None:
        peak = self.hx.ledger.valuation().peak_equity
        assert all(peak >= seen for seen in self.equities_seen), (peak, self.equities_seen)

    @invariant()
    def no_order_without_its_intent_and_one_close_fill_a_position(self) -> None:
        with self.hx.db.read() as session:
            sent = set(session.scalars(select(PaperVenueOrder.client_order_id)))
            intents = set(session.scalars(select(Order.client_order_id)))
            assert sent <= intents, sent - intents
            closing = dict(
                session.execute(
                    select(Order.position_id, func.count(Fill.id))
                    .join(Fill, Fill.order_id == Order.id)
                    .where(Order.action == "CLOSE")
                    .group_by(Order.position_id)
                ).all()
            )
            assert all(n <= 1 for n in closing.values()), closing
            booked = set(
                session.scalars(select(Position.id).where(Position.realized_pnl.is_not(None)))
            )
            assert booked == {pid for pid, n in closing.items() if n == 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], tuple[str, Callable[[], None]]]]:
    """A factory of fresh, migrated databases of one kind (each example needs its own)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")

        def sqlite() -> tuple[str, Callable[[], None]]:
            path = tmp_path / f"machine-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)

        yield sqlite
        return
    template = request.getfixturevalue("pg_template")
    admin = _admin_engine()

    def postgresql() -> tuple[str, Callable[[], None]]:
        name = f"{PREFIX}machine_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        from conftest import PG_URL

        url = make_url(normalise_url(PG_URL)).set(database=name)
        return url.render_as_string(hide_password=False), drop

    yield postgresql
    admin.dispose()


def test_the_guardians_invariants_hold_over_random_histories(
    fresh_databases: Callable[[], tuple[str, Callable[[], None]]],
) -> None:
    Guardian.new_database = staticmethod(fresh_databases)  # type: ignore[assignment]
    runner: Any = Guardian.TestCase
    runner.settings = settings(
        max_examples=20,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,  # the same histories on every run: CI is repeatable
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    OUTCOMES.clear()
    runner().runTest()
    # the histories did what they are for: positions opened, and the buying power refused some
    assert OUTCOMES["opened"] >= 10, OUTCOMES
    assert OUTCOMES["PRE-CHECK buying_power"] >= 1, OUTCOMES
