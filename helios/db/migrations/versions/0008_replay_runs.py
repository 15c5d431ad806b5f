"""replay runs: a replay's own record in the run's database (issue 19)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helios.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    def when() -> sa.types.TypeEngine:
        return helios.db.types.UTCDateTime(timezone=True)

    op.create_table(
        "replay_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("started_at", when(), nullable=False),
        sa.Column("finished_at", when(), nullable=True),
        sa.Column("candles", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("light_steps", sa.Integer(), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("exit_bars", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_runs")),
    )


def downgrade() -> None:
    op.drop_table("replay_runs")
