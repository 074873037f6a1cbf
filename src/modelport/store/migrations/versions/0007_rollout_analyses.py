"""rollout analyses: every gate's estimate and interval per analysis round

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout_analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollouts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollout_analyses", schema=None) as batch_op:
        batch_op.create_index("ix_rollout_analyses_rollout_at", ["rollout_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollout_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_rollout_analyses_rollout_at")
    op.drop_table("rollout_analyses")
