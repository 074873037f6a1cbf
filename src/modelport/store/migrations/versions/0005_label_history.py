"""label history, who labelled, and the request-id index of the prediction log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=200), nullable=True))

    op.create_table(
        "feedback_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("label_value", sa.Float(), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_history_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "request_index",
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "endpoint"),
    )
    with op.batch_alter_table("request_index", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_index_endpoint_logged_at", ["endpoint", "logged_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("request_index", schema=None) as batch_op:
        batch_op.drop_index("ix_request_index_endpoint_logged_at")
    op.drop_table("request_index")
    with op.batch_alter_table("feedback_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_history_request_id"))
    op.drop_table("feedback_history")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("actor")
