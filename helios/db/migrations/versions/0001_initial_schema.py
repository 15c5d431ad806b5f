"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 00:20:16.978682
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "candles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("high", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("low", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("close", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("volume", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candles")),
        sa.UniqueConstraint("pair", "interval_seconds", "ts", name="uq_candles_pair_interval_ts"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_ts"), ["ts"], unique=False)

    op.create_table(
        "heartbeats",
        sa.Column("process", sa.String(length=40), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=120), nullable=False),
        sa.Column("started_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_beat_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_heartbeats")),
    )
    op.create_table(
        "latest_prices",
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("price", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("pair", name=op.f("pk_latest_prices")),
    )
    op.create_table(
        "paper_venue_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=50), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reference_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("fill_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("fee", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_venue_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_paper_venue_orders_client_order_id")),
        sa.UniqueConstraint(
            "exchange_order_id", name=op.f("uq_paper_venue_orders_exchange_order_id")
        ),
    )
    op.create_table(
        "portfolio_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("equity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("cash", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("margin", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("unrealized_pnl", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("gross_exposure", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("peak_equity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column(
            "start_of_day_equity", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column("drawdown", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("daily_pnl", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("daily_loss", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("leverage", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("open_positions", sa.Integer(), nullable=False),
        sa.Column("risk_used", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_snapshots")),
    )
    with op.batch_alter_table("portfolio_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portfolio_snapshots_ts"), ["ts"], unique=False)

    op.create_table(
        "portfolio_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("initial_capital", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("cash", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("peak_equity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column(
            "start_of_day_equity", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("updated_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_state")),
    )
    op.create_table(
        "risk_limits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "max_drawdown_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column(
            "daily_loss_limit_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column(
            "max_portfolio_risk_exposure_pct",
            helios.db.types.Exact(precision=38, scale=18),
            nullable=False,
        ),
        sa.Column(
            "max_single_position_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column(
            "max_sector_exposure_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column(
            "max_correlation_threshold",
            helios.db.types.Exact(precision=38, scale=18),
            nullable=False,
        ),
        sa.Column("max_leverage", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column(
            "min_position_size_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column("changed_by", sa.String(length=120), nullable=False),
        sa.Column("changed_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_limits")),
        sa.UniqueConstraint("version", name=op.f("uq_risk_limits_version")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=120), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("predicted_return", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("confidence", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("llm_approved", sa.Boolean(), nullable=False),
        sa.Column("llm_reasoning", sa.Text(), nullable=False),
        sa.Column("trade_params", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", helios.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("processed_at", helios.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_signals_dedup_key")),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signals_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_signals_pair"), ["pair"], unique=False)
        batch_op.create_index(batch_op.f("ix_signals_status"), ["status"], unique=False)

    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("trade_params", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("violated_limits", sa.JSON(), nullable=False),
        sa.Column("limits_version", sa.Integer(), nullable=True),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_risk_decisions_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_decisions_passed"), ["passed"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_decisions_ts"), ["ts"], unique=False)

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column(
            "position_size_zar", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column("leverage", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("notional", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("quantity", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("entry_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("exit_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("entry_fee", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("exit_fee", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("realized_pnl", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column("stop_loss_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("take_profit_pct", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("stop_loss_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column(
            "take_profit_price", helios.db.types.Exact(precision=38, scale=18), nullable=True
        ),
        sa.Column(
            "trailing_activation_pct", helios.db.types.Exact(precision=38, scale=18), nullable=True
        ),
        sa.Column(
            "trailing_distance_pct", helios.db.types.Exact(precision=38, scale=18), nullable=True
        ),
        sa.Column("best_price", helios.db.types.Exact(precision=38, scale=18), nullable=True),
        sa.Column(
            "max_holding_hours", helios.db.types.Exact(precision=38, scale=18), nullable=False
        ),
        sa.Column("strategic_reasoning", sa.Text(), nullable=False),
        sa.Column("risk_decision_id", sa.Integer(), nullable=True),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", helios.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", helios.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_monitored_at", helios.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["risk_decision_id"],
            ["risk_decisions.id"],
            name=op.f("fk_positions_risk_decision_id_risk_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_positions_signal_id_signals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_pair"), ["pair"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_status"), ["status"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=50), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_orders_position_id_positions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_position_id"), ["position_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=50), nullable=False),
        sa.Column("price", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("quantity", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("fee", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fills_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_ledger_entries_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_ledger_entries_position_id_positions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_position_id"), ["position_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_ts"), ["ts"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_ts"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_position_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))
        batch_op.drop_index(batch_op.f("ix_fills_client_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_position_id"))

    op.drop_table("orders")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_status"))
        batch_op.drop_index(batch_op.f("ix_positions_pair"))

    op.drop_table("positions")
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_decisions_ts"))
        batch_op.drop_index(batch_op.f("ix_risk_decisions_passed"))

    op.drop_table("risk_decisions")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signals_status"))
        batch_op.drop_index(batch_op.f("ix_signals_pair"))
        batch_op.drop_index(batch_op.f("ix_signals_created_at"))

    op.drop_table("signals")
    op.drop_table("settings")
    op.drop_table("risk_limits")
    op.drop_table("portfolio_state")
    with op.batch_alter_table("portfolio_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portfolio_snapshots_ts"))

    op.drop_table("portfolio_snapshots")
    op.drop_table("paper_venue_orders")
    op.drop_table("latest_prices")
    op.drop_table("heartbeats")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_ts"))
        batch_op.drop_index(batch_op.f("ix_events_kind"))

    op.drop_table("events")
    op.drop_table("candles")
