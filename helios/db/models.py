"""The tables (SQLAlchemy 2.0 declarative models).

Every schema change goes through an Alembic migration in ``helios/db/migrations/versions``; the
models here and the migrations must agree (``tests/test_migrations.py`` checks it).

Money, prices and quantities use ``Exact`` (never floats). Times use ``UTCDateTime``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from helios.db.types import Exact, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        Decimal: Exact(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Setting(Base):
    """Key/value system state: trading mode, halt flag and cause. The database wins over .env."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(120))


class Event(Base):
    """What happened to the system: mode changes, halts, emergency actions, errors, job failures."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any] | None]


class PortfolioState(Base):
    """The account, one row (id = 1). Cash is also the sum of ledger_entries (checked)."""

    __tablename__ = "portfolio_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initial_capital: Mapped[Decimal]
    cash: Mapped[Decimal]
    peak_equity: Mapped[Decimal]
    start_of_day_equity: Mapped[Decimal]
    trading_day: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class LedgerEntry(Base):
    """One movement of cash. Cash = the sum of all entries (the first is the initial capital)."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[Decimal]
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class PortfolioSnapshot(Base):
    """The portfolio every snapshot interval: what the dashboard's charts and metrics read."""

    __tablename__ = "portfolio_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    mode: Mapped[str] = mapped_column(String(8))
    equity: Mapped[Decimal]
    cash: Mapped[Decimal]
    margin: Mapped[Decimal]
    unrealized_pnl: Mapped[Decimal]
    gross_exposure: Mapped[Decimal]
    peak_equity: Mapped[Decimal]
    start_of_day_equity: Mapped[Decimal]
    drawdown: Mapped[Decimal]
    daily_pnl: Mapped[Decimal]
    daily_loss: Mapped[Decimal]
    leverage: Mapped[Decimal]
    open_positions: Mapped[int] = mapped_column(Integer)
    risk_used: Mapped[Decimal | None]
    halted: Mapped[bool] = mapped_column(Boolean, default=False)


class Candle(Base):
    """OHLCV for one pair and interval, keyed by the bar's open time (UTC)."""

    __tablename__ = "candles"
    __table_args__ = (
        # its index serves "candles of a pair and an interval in a time range"
        UniqueConstraint("pair", "interval_seconds", "ts", name="uq_candles_pair_interval_ts"),
        # "a pair's bars of every intraday interval in a span" (the monitor, the valuation):
        # without it such a read goes through every bar the pair has stored (migration 0009)
        Index("ix_candles_pair_ts", "pair", "ts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair: Mapped[str] = mapped_column(String(20))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime]
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal]
    source: Mapped[str] = mapped_column(String(16))


class LatestPrice(Base):
    """The last known price per pair (close of the newest candle), with when it was observed and
    when it reached the database. Written in the same transaction as the candles."""

    __tablename__ = "latest_prices"
    pair: Mapped[str] = mapped_column(String(20), primary_key=True)
    price: Mapped[Decimal]
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))


class PriceTick(Base):
    """Every price observed, in order (what each write of a price saw: a feed's poll, a
    ``set_price``): the stop monitor reads the prices observed after a position's entry from
    here, so a dip inside the minute bar a position opened in, after it opened, is seen even
    when the bar's low was set before the entry. Kept for ``PRICE_TICK_RETENTION_HOURS``."""

    __tablename__ = "price_ticks"
    __table_args__ = (Index("ix_price_ticks_pair_ts", "pair", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair: Mapped[str] = mapped_column(String(20))
    ts: Mapped[datetime]
    price: Mapped[Decimal]


class Signal(Base):
    """An upstream trading signal (ML prediction + LLM approval) and what became of it.

    Every signal that arrives is stored, malformed ones too (their fields may then be empty and
    ``payload`` holds what was sent), so each refusal keeps its reason. ``dedup_key`` is unique
    among accepted signals; a refused signal has none (NULLs do not collide)."""

    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    pair: Mapped[str | None] = mapped_column(String(20), index=True)
    side: Mapped[str | None] = mapped_column(String(4))
    predicted_return: Mapped[Decimal | None]
    confidence: Mapped[Decimal | None]
    llm_approved: Mapped[bool | None] = mapped_column(Boolean)
    llm_reasoning: Mapped[str] = mapped_column(Text, default="")
    trade_params: Mapped[dict[str, Any] | None]
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    # plain id, not a foreign key: positions.signal_id already points the other way
    position_id: Mapped[int | None] = mapped_column(Integer)
    processed_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any] | None]


class RiskLimitVersion(Base):
    """One full set of the risk limits. The highest version is in force; older ones stay."""

    __tablename__ = "risk_limits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    max_drawdown_pct: Mapped[Decimal]
    daily_loss_limit_pct: Mapped[Decimal]
    max_portfolio_risk_exposure_pct: Mapped[Decimal]
    max_single_position_pct: Mapped[Decimal]
    max_sector_exposure_pct: Mapped[Decimal]
    max_correlation_threshold: Mapped[Decimal]
    max_leverage: Mapped[Decimal]
    min_position_size_pct: Mapped[Decimal]
    changed_by: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class RiskDecision(Base):
    """The audit of one risk check: inputs, all 7 results, the verdict. Replayable."""

    __tablename__ = "risk_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    pair: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    trade_params: Mapped[dict[str, Any]]
    inputs: Mapped[dict[str, Any]]
    checks: Mapped[list[Any]] = mapped_column(JSON)
    passed: Mapped[bool] = mapped_column(Boolean, index=True)
    reason: Mapped[str] = mapped_column(Text)
    violated_limits: Mapped[list[Any]] = mapped_column(JSON)
    limits_version: Mapped[int | None] = mapped_column(Integer)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"))
    # the pre-checks judged beside the 7 (buying power, price age); NULL before they existed
    pre_checks: Mapped[list[Any] | None] = mapped_column(JSON)


class Position(Base):
    """A position from intent to archive.

    Margin S = position_size_zar, notional N = S x leverage, quantity = N / entry price.
    """

    __tablename__ = "positions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair: Mapped[str] = mapped_column(String(20), index=True)
    side: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(8))
    position_size_zar: Mapped[Decimal]
    leverage: Mapped[Decimal]
    notional: Mapped[Decimal | None]
    quantity: Mapped[Decimal | None]
    entry_price: Mapped[Decimal | None]
    exit_price: Mapped[Decimal | None]
    entry_fee: Mapped[Decimal | None]
    exit_fee: Mapped[Decimal | None]
    realized_pnl: Mapped[Decimal | None]
    stop_loss_pct: Mapped[Decimal]
    take_profit_pct: Mapped[Decimal]
    stop_loss_price: Mapped[Decimal | None]
    take_profit_price: Mapped[Decimal | None]
    trailing_activation_pct: Mapped[Decimal | None]
    trailing_distance_pct: Mapped[Decimal | None]
    best_price: Mapped[Decimal | None]
    max_holding_hours: Mapped[Decimal]
    strategic_reasoning: Mapped[str] = mapped_column(Text, default="")
    risk_decision_id: Mapped[int | None] = mapped_column(ForeignKey("risk_decisions.id"))
    # unique: one signal opens at most one position, whatever crashes or retries happen
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), unique=True)
    close_reason: Mapped[str | None] = mapped_column(String(16))
    # the level whose crossing closed it (stop, target; the price the timeout saw): the fill may
    # differ from it (slippage), and the review shows by how much
    exit_trigger_price: Mapped[Decimal | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_monitored_at: Mapped[datetime | None]
    # the intraday bar the monitor last looked at and its range then: a later widening of that
    # bar's high or low happened after the last pass (monitor.py)
    monitor_bar_ts: Mapped[datetime | None]
    monitor_bar_high: Mapped[Decimal | None]
    monitor_bar_low: Mapped[Decimal | None]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Order(Base):
    """Our record of an order: written as an intent before it is sent (client order id unique)."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(50), unique=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(8))
    pair: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal | None]  # base units (closing orders)
    quote_amount: Mapped[Decimal | None]  # ZAR to spend or receive (opening orders)
    status: Mapped[str] = mapped_column(String(12), index=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # the process that wrote the intent (helios.process.PROCESS_ID): a new leader settles at once
    # what only the leader it fenced could still be sending
    sender: Mapped[str | None] = mapped_column(String(120))


class PositionEvent(Base):
    """One step in a position's story: opened, stop moved, close requested, closed, reconciled."""

    __tablename__ = "position_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id"), index=True)
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]


class Fill(Base):
    """An execution of an order at a price, with its fee (ZAR)."""

    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(50), index=True)
    price: Mapped[Decimal]
    quantity: Mapped[Decimal]
    fee: Mapped[Decimal]
    ts: Mapped[datetime]


class PaperVenueOrder(Base):
    """The paper exchange's own book: what a venue remembers, kept apart from our orders table so
    the paper exchange behaves like a real one (it knows client order ids, not our positions)."""

    __tablename__ = "paper_venue_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(50), unique=True)
    exchange_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    pair: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(12))
    reference_price: Mapped[Decimal | None]
    fill_price: Mapped[Decimal | None]
    fee: Mapped[Decimal | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Heartbeat(Base):
    """A process's last sign of life (scheduler, dashboard); the dashboard shows its age."""

    __tablename__ = "heartbeats"
    process: Mapped[str] = mapped_column(String(40), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime]
    last_beat_at: Mapped[datetime]
    details: Mapped[dict[str, Any] | None]


class Lease(Base):
    """A named lease held by one process until ``expires_at`` (the scheduler's leadership; on
    PostgreSQL the leader also holds an advisory lock). The holder renews it; a standby takes it
    over once it has expired, adding one to ``epoch``: the fencing token every leader-only write
    checks, so a leader that was replaced can never write as leader again."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Alert(Base):
    """An alert for the operator (issue 17: ``helios.alerts``), written in the transaction of the
    event that causes it: the outbox. ``dedup_key`` is unique, so the same alert recorded twice
    (two processes seeing the same silence, a replay) is queued once."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    severity: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # what a digest adds up (a stop-out's pair and realized P&L as exact text)
    figures: Mapped[dict[str, Any] | None]
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    attachment_name: Mapped[str | None] = mapped_column(String(120))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)


class AlertDelivery(Base):
    """One alert for one channel (``ChannelSpec.id``, the masked URL: never the URL): PENDING
    until a message carrying it was accepted by the channel, then SENT (at least once)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        Index("ix_alert_deliveries_channel_status", "channel", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    # the message that carried it (a digest carries many)
    message: Mapped[str | None] = mapped_column(String(64))


class AlertChannel(Base):
    """A channel's delivery state: its last success and error (scrubbed of its credentials), the
    backoff after failures, the per-minute budget, and which process is sending now (a lease:
    the scheduler, the API and the dashboard may all send; one at a time per channel)."""

    __tablename__ = "alert_channels"
    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_sent_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    messages_sent: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None]


class PairLock(Base):
    """A pair locked from new positions (issue 18: ``hx.locks``) from ``starts_at`` until
    ``ends_at``, by a person (``automatic`` False) or by the stop-out rule
    (``helios.pair_locks``: LOCK_AFTER_STOPS stop-outs within LOCK_WINDOW_HOURS). A lock ends by
    itself at ``ends_at`` (judged by the time, no job) or earlier when lifted (``lifted_at``,
    ``lifted_by``). ``details``: what caused an automatic lock (the stop-outs' position ids)."""

    __tablename__ = "pair_locks"
    __table_args__ = (Index("ix_pair_locks_pair_ends_at", "pair", "ends_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    locked_by: Mapped[str] = mapped_column(String(120))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(120))
    details: Mapped[dict[str, Any] | None]


class ReplayRun(Base):
    """A replay's own record (issue 19: ``hx.replay``), one row in the run's database: a
    replay writes its decisions, positions and ledger into a database of its own (a SQLite file
    under ``data/replays/``), and this row says what was replayed (``spec``: the sources,
    period, limits, sizing and fees), how far it got and whether it is COMPLETE (written last:
    a crash or an error leaves RUNNING or FAILED, never a complete-looking partial run).
    ``figures``: the Review's figures of the finished run; ``exit_bars``: position id -> the
    open time of the bar whose price closed it (how backtesters label a trade's exit)."""

    __tablename__ = "replay_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    candles: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    # of ``steps``: where only the signals could act (``helios.replay.engine``'s light steps)
    light_steps: Mapped[int] = mapped_column(Integer, default=0)
    wall_seconds: Mapped[float | None] = mapped_column(Float)
    figures: Mapped[dict[str, Any] | None]
    exit_bars: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
