"""pipelines: an endpoint's steps, and the pipeline a step endpoint belongs to

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("pipeline", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("part_of", sa.String(length=200), nullable=True))
        batch.create_index("ix_endpoints_part_of", ["part_of"])


def downgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_index("ix_endpoints_part_of")
        batch.drop_column("part_of")
        batch.drop_column("pipeline")
