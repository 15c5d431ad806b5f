"""orders by quote amount, position events, monitor bar state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:57:12.024612
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "position_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_position_events_position_id_positions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_events")),
    )
    with op.batch_alter_table("position_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_position_events_position_id"), ["position_id"], unique=False
        )

    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monitor_bar_ts", helios.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "monitor_bar_high", helios.db.types.Exact(precision=38, scale=18), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "monitor_bar_low", helios.db.types.Exact(precision=38, scale=18), nullable=True
            )
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quote_amount", helios.db.types.Exact(precision=38, scale=18), nullable=True)
        )
        batch_op.alter_column(
            "quantity", existing_type=helios.db.types.Exact(precision=38, scale=18), nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_column("monitor_bar_low")
        batch_op.drop_column("monitor_bar_high")
        batch_op.drop_column("monitor_bar_ts")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "quantity", existing_type=helios.db.types.Exact(precision=38, scale=18), nullable=False
        )
        batch_op.drop_column("quote_amount")

    with op.batch_alter_table("position_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_events_position_id"))

    op.drop_table("position_events")
