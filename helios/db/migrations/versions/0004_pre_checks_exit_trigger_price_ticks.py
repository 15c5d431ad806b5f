"""pre-checks on risk decisions, the exit's trigger price, the price tick log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_ticks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("ts", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("price", helios.db.types.Exact(precision=38, scale=18), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_ticks")),
    )
    op.create_index("ix_price_ticks_pair_ts", "price_ticks", ["pair", "ts"], unique=False)
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "exit_trigger_price", helios.db.types.Exact(precision=38, scale=18), nullable=True
            )
        )
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pre_checks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_column("pre_checks")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_column("exit_trigger_price")
    op.drop_index("ix_price_ticks_pair_ts", table_name="price_ticks")
    op.drop_table("price_ticks")
