"""signal intake (refused signals stored too), leader lease, one position per signal

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 03:32:53.553739
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("acquired_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", helios.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_positions_signal_id"), ["signal_id"])

    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("received_at", helios.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.alter_column("dedup_key", existing_type=sa.VARCHAR(length=120), nullable=True)
        batch_op.alter_column("pair", existing_type=sa.VARCHAR(length=20), nullable=True)
        batch_op.alter_column("side", existing_type=sa.VARCHAR(length=4), nullable=True)
        batch_op.alter_column(
            "confidence", existing_type=helios.db.types.Exact(precision=38, scale=18), nullable=True
        )
        batch_op.alter_column("llm_approved", existing_type=sa.BOOLEAN(), nullable=True)


def downgrade() -> None:

    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.alter_column("llm_approved", existing_type=sa.BOOLEAN(), nullable=False)
        batch_op.alter_column(
            "confidence",
            existing_type=helios.db.types.Exact(precision=38, scale=18),
            nullable=False,
        )
        batch_op.alter_column("side", existing_type=sa.VARCHAR(length=4), nullable=False)
        batch_op.alter_column("pair", existing_type=sa.VARCHAR(length=20), nullable=False)
        batch_op.alter_column("dedup_key", existing_type=sa.VARCHAR(length=120), nullable=False)
        batch_op.drop_column("payload")
        batch_op.drop_column("received_at")

    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_positions_signal_id"), type_="unique")

    op.drop_table("leases")
