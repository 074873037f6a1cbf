"""monitoring time series, per-process window states, detector events, baselines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:06:37.096887
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint", "version", name="uq_monitoring_baseline"),
    )
    op.create_table(
        "monitoring_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("monitoring_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_events_detected_at"), ["detected_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_events_endpoint"), ["endpoint"], unique=False
        )

    op.create_table(
        "monitoring_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feature", sa.String(length=300), nullable=False),
        sa.Column("statistic", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.String(length=64), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "endpoint",
            "version",
            "window",
            "window_start",
            "feature",
            "statistic",
            name="uq_monitoring_point",
        ),
    )
    with op.batch_alter_table("monitoring_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_points_endpoint"), ["endpoint"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_points_window_start"), ["window_start"], unique=False
        )

    op.create_table(
        "monitoring_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "endpoint", "version", "window", "window_start", "process", name="uq_monitoring_state"
        ),
    )
    with op.batch_alter_table("monitoring_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_states_endpoint"), ["endpoint"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_states_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitoring_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_states_window_start"))
        batch_op.drop_index(batch_op.f("ix_monitoring_states_endpoint"))

    op.drop_table("monitoring_states")
    with op.batch_alter_table("monitoring_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_points_window_start"))
        batch_op.drop_index(batch_op.f("ix_monitoring_points_endpoint"))

    op.drop_table("monitoring_points")
    with op.batch_alter_table("monitoring_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_events_endpoint"))
        batch_op.drop_index(batch_op.f("ix_monitoring_events_detected_at"))

    op.drop_table("monitoring_events")
    op.drop_table("monitoring_baselines")
