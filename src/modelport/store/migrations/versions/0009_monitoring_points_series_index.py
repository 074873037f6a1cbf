"""a covering index for reading one statistic's series of a version's windows

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = [
    "endpoint",
    "version",
    "window",
    "statistic",
    "window_start",
    "feature",
    "status",
    "value",
    "threshold",
    "drifted",
    "rows",
    "window_end",
]


def upgrade() -> None:
    op.create_index("ix_monitoring_points_series", "monitoring_points", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_monitoring_points_series", table_name="monitoring_points")
