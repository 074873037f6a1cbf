"""Ground-truth labels that arrive after the prediction, keyed by request id.

Labels are stored in SQL at once (so none is lost), whether or not the prediction they
refer to is known yet; matching against the prediction log is reported, and the join is
made at read time, so a label that arrives before its prediction is flushed still joins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog
from modelport.schema import label_text
from modelport.store.db import Database
from modelport.store.tables import FeedbackRow, utcnow

MAX_ITEMS = 100_000


@dataclass(frozen=True)
class FeedbackItem:
    request_id: str
    label: Any
    row: int = 0
    endpoint: str | None = None


@dataclass
class FeedbackResult:
    accepted: int = 0
    matched: int = 0
    unmatched: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "unmatched_ids": self.unmatched[:100],
        }


def parse_items(payload: Any) -> list[FeedbackItem]:
    """Accept one ``{request_id, label}`` object, a list of them, or ``{"items": [...]}``.

    >>> parse_items({"request_id": "r1", "label": 1})
    [FeedbackItem(request_id='r1', label=1, row=0, endpoint=None)]
    >>> parse_items({"items": [{"request_id": "r1", "label": 1}, {"request_id": "r2"}]})
    Traceback (most recent call last):
    ...
    modelport.errors.ValidationFailed: items[1].label is missing
    """
    if isinstance(payload, dict) and "items" in payload:
        payload = payload["items"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list) or not payload:
        raise ValidationFailed("expected a feedback object or a non-empty list", field="items")
    if len(payload) > MAX_ITEMS:
        raise ValidationFailed(f"at most {MAX_ITEMS} labels per call", field="items")
    items: list[FeedbackItem] = []
    for index, raw in enumerate(payload):
        where = f"items[{index}]"
        if not isinstance(raw, dict):
            raise ValidationFailed(f"{where} must be an object", field=where)
        unknown = set(raw) - {"request_id", "label", "row", "endpoint"}
        if unknown:
            raise ValidationFailed(
                f"{where} has unknown fields: {', '.join(sorted(unknown))}", field=where
            )
        request_id = raw.get("request_id")
        if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
            raise ValidationFailed(
                f"{where}.request_id must be a non-empty string", field=f"{where}.request_id"
            )
        if "label" not in raw:
            raise ValidationFailed(f"{where}.label is missing", field=f"{where}.label")
        label = raw["label"]
        if label is None or isinstance(label, dict | list):
            raise ValidationFailed(
                f"{where}.label must be a string, number or boolean", field=f"{where}.label"
            )
        if isinstance(label, float) and not math.isfinite(label):
            raise ValidationFailed(f"{where}.label must be finite", field=f"{where}.label")
        row = raw.get("row", 0)
        if not isinstance(row, int) or isinstance(row, bool) or row < 0:
            raise ValidationFailed(
                f"{where}.row must be a non-negative integer", field=f"{where}.row"
            )
        endpoint = raw.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise ValidationFailed(f"{where}.endpoint must be a string", field=f"{where}.endpoint")
        items.append(FeedbackItem(request_id, label, row, endpoint))
    return items


class FeedbackStore:
    def __init__(self, db: Database, log: PredictionLog) -> None:
        self.db = db
        self.log = log

    def ingest(self, items: Sequence[FeedbackItem]) -> FeedbackResult:
        """Store (or replace) every label, then report which match a logged prediction."""
        found = self.log.find_request_ids(item.request_id for item in items)
        # A label given twice in one call keeps the later one; PostgreSQL refuses to upsert
        # one row twice in a single statement.
        latest = {(item.request_id, item.row): item for item in items}
        rows = [
            {
                "request_id": item.request_id,
                "row": item.row,
                "label": json.dumps(item.label),
                "label_value": _number(item.label),
                "endpoint": item.endpoint or found.get(item.request_id),
                "received_at": utcnow(),
            }
            for item in latest.values()
        ]
        dialect = self.db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(FeedbackRow)
        statement = statement.on_conflict_do_update(
            index_elements=["request_id", "row"],
            set_={
                "label": statement.excluded.label,
                "label_value": statement.excluded.label_value,
                "endpoint": statement.excluded.endpoint,
                "received_at": statement.excluded.received_at,
            },
        )
        with self.db.session() as session:
            # One statement with many parameter sets: SQLAlchemy batches the rows itself,
            # and the statement compiles once instead of once per row.
            for start in range(0, len(rows), 5_000):
                session.execute(statement, rows[start : start + 5_000])
        unmatched = sorted({i.request_id for i in items if i.request_id not in found})
        return FeedbackResult(
            accepted=len(items),
            matched=sum(1 for i in items if i.request_id in found),
            unmatched=unmatched,
        )

    def labels(self, since: datetime | None = None, endpoint: str | None = None) -> pa.Table:
        """Stored labels as an Arrow table (request_id, row, label, label_value,
        label_endpoint, label_received_at): one per key, the last one received. Join
        them to logged rows with :func:`~modelport.predlog.reader.join_labels`."""
        query = select(
            FeedbackRow.request_id,
            FeedbackRow.row,
            FeedbackRow.label,
            FeedbackRow.label_value,
            FeedbackRow.endpoint,
            FeedbackRow.received_at,
        )
        if since is not None:
            query = query.where(FeedbackRow.received_at >= since)
        if endpoint is not None:
            query = query.where(
                (FeedbackRow.endpoint == endpoint) | (FeedbackRow.endpoint.is_(None))
            )
        with self.db.session() as session:
            result = session.execute(query).all()
        return pa.table(
            {
                col.REQUEST_ID: pa.array([r[0] for r in result], pa.string()),
                col.ROW: pa.array([r[1] for r in result], pa.int32()),
                col.LABEL: pa.array([_label_text(r[2]) for r in result], pa.string()),
                col.LABEL_VALUE: pa.array([r[3] for r in result], pa.float64()),
                col.LABEL_ENDPOINT: pa.array([r[4] for r in result], pa.string()),
                col.LABEL_RECEIVED_AT: pa.array([r[5] for r in result], col.TIMESTAMP),
            }
        )


def _number(label: Any) -> float | None:
    if isinstance(label, bool):
        return float(label)
    if isinstance(label, int | float):
        return float(label)
    if isinstance(label, str):
        try:
            return float(label)
        except ValueError:
            return None
    return None


def _label_text(stored: str) -> str:
    """The label as the log spells predicted classes."""
    return label_text(json.loads(stored))
