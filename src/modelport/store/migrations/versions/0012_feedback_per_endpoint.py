"""labels keyed by endpoint too: each step of a pipeline may label the same request row

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:00:00.000000

The key of ``feedback`` becomes ``(request_id, row, endpoint)``; an endpoint not known
yet is stored as "" instead of NULL (a key column cannot be NULL). The table is copied
rather than altered: SQLite cannot change a primary key in place, and the copy needs no
constraint name, which differs between backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = ["request_id", "row", "label", "label_value", "endpoint", "received_at", "actor"]


def _feedback(name: str, *, endpoint_in_key: bool) -> sa.Table:
    """``feedback`` as it is after (``endpoint_in_key``) or before this revision."""
    key = ["request_id", "row", "endpoint"] if endpoint_in_key else ["request_id", "row"]
    return op.create_table(
        name,
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("label_value", sa.Float(), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=not endpoint_in_key),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint(*key),
    )


def _swap(new: str) -> None:
    """Replace ``feedback`` by the filled table ``new``, with the same indexes."""
    op.drop_index("ix_feedback_endpoint", table_name="feedback")
    op.drop_index("ix_feedback_received_at", table_name="feedback")
    op.drop_table("feedback")
    op.rename_table(new, "feedback")
    op.create_index("ix_feedback_endpoint", "feedback", ["endpoint"], unique=False)
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"], unique=False)


def upgrade() -> None:
    new = _feedback("feedback_0012", endpoint_in_key=True)
    old = sa.table("feedback", *(sa.column(name) for name in _COLUMNS))
    copied = [
        sa.func.coalesce(old.c.endpoint, "") if name == "endpoint" else old.c[name]
        for name in _COLUMNS
    ]
    op.execute(new.insert().from_select(_COLUMNS, sa.select(*copied)))
    _swap("feedback_0012")


def downgrade() -> None:
    # One label per (request_id, row) again: the one received last (ties: the endpoint
    # named last); the others are lost, as the old key cannot hold them.
    new = _feedback("feedback_0011", endpoint_in_key=False)
    old = sa.table("feedback", *(sa.column(name) for name in _COLUMNS))
    other = old.alias("other")
    newer = sa.exists().where(
        other.c.request_id == old.c.request_id,
        other.c.row == old.c.row,
        (other.c.received_at > old.c.received_at)
        | ((other.c.received_at == old.c.received_at) & (other.c.endpoint > old.c.endpoint)),
    )
    copied = [
        sa.func.nullif(old.c.endpoint, "") if name == "endpoint" else old.c[name]
        for name in _COLUMNS
    ]
    op.execute(new.insert().from_select(_COLUMNS, sa.select(*copied).where(~newer)))
    _swap("feedback_0011")
