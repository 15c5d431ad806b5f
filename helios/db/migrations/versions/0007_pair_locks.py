"""pair locks: a pair locked from new positions, by hand or after stop-outs (issue 18)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    def when() -> sa.types.TypeEngine:
        return helios.db.types.UTCDateTime(timezone=True)

    op.create_table(
        "pair_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair", sa.String(length=20), nullable=False),
        sa.Column("starts_at", when(), nullable=False),
        sa.Column("ends_at", when(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("locked_by", sa.String(length=120), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("lifted_at", when(), nullable=True),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_locks")),
    )
    op.create_index("ix_pair_locks_pair_ends_at", "pair_locks", ["pair", "ends_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pair_locks_pair_ends_at", table_name="pair_locks")
    op.drop_table("pair_locks")
