"""Ground-truth labels that arrive after the prediction, keyed by request id.

Labels are stored in SQL at once (so none is lost), whether or not the prediction they
refer to is known yet. Which prediction a label names is found in the request index
(:mod:`modelport.predlog.index`: recent answers in memory, then one key lookup in SQL),
never by flushing or scanning the log, so a label costs the same however large the log
is. The join with logged rows is made at read time, so a label that arrives before its
prediction is indexed (or even logged) still joins.

A known request's label must fit the version that answered it (a class it knows; a
number for a regressor); one stored before its request was known is checked when the
index learns the request, and withdrawn to the history if it does not fit. A different
label for a row already labelled either replaces it, the earlier one kept in
``feedback_history``, or is refused: ``feedback.overwrite``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from modelport.errors import Conflict, ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.index import RequestIndex, Served
from modelport.predlog.reader import PredictionLog
from modelport.schema import OutputSpec, label_text
from modelport.store.db import Database
from modelport.store.tables import FeedbackHistoryRow, FeedbackRow, utcnow

logger = logging.getLogger(__name__)

MAX_ITEMS = 100_000
_CHUNK = 5_000
_LOOKUP_CHUNK = 500

MAX_ROW = 2**31 - 1


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
    # Earlier labels this call replaced (each kept in the label history).
    replaced: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "unmatched_ids": self.unmatched[:100],
            "replaced": self.replaced,
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
        # Rows are stored and read as 32-bit integers.
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row <= MAX_ROW:
            raise ValidationFailed(
                f"{where}.row must be an integer from 0 to {MAX_ROW}", field=f"{where}.row"
            )
        endpoint = raw.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise ValidationFailed(f"{where}.endpoint must be a string", field=f"{where}.endpoint")
        items.append(FeedbackItem(request_id, label, row, endpoint))
    return items


Overwrite = Literal["keep-history", "refuse"]
# What the server knows of a version's answers: its classes, or that it is a regressor.
OutputOf = Callable[[str, int], OutputSpec | None]


class FeedbackStore:
    """Labels in SQL, checked against the prediction they name.

    A label's request is looked up in the :class:`~modelport.predlog.index.RequestIndex`
    (by key; the log is neither flushed nor scanned). When the request is known, the
    label must fit the version that answered it (``output_of``): one of its classes,
    or a number for a regressor (422 otherwise), and ``row`` must be one of its rows. A
    label for a request not known yet is stored as it is and joins at read time; when
    the index learns the request, :meth:`recheck` withdraws it to the history if it
    does not fit.

    A second, different label for the same ``(request_id, row)`` either replaces the
    first and moves it, with its time and who gave it, to ``feedback_history``
    (``overwrite = "keep-history"``), or is refused with 409, nothing of the call
    stored (``"refuse"``). The same label sent again changes nothing.
    """

    def __init__(
        self,
        db: Database,
        log: PredictionLog,
        *,
        index: RequestIndex | None = None,
        output_of: OutputOf | None = None,
        overwrite: Overwrite = "keep-history",
    ) -> None:
        self.db = db
        self.log = log
        self.index = index if index is not None else RequestIndex(db, log)
        self.output_of = output_of
        self.overwrite = overwrite
        self.index.on_indexed.append(self.recheck)

    def ingest(self, items: Sequence[FeedbackItem], *, actor: str = "cli") -> FeedbackResult:
        """Check every label, then store them all in one transaction (or none)."""
        found = self.index.lookup(item.request_id for item in items)
        for position, item in enumerate(items):
            self._check(position, item, _candidates(found.get(item.request_id, []), item))
        # A label given twice in one call keeps the later one; PostgreSQL refuses to upsert
        # one row twice in a single statement.
        latest: dict[tuple[str, int], tuple[int, FeedbackItem]] = {}
        for position, item in enumerate(items):
            latest[(item.request_id, item.row)] = (position, item)
        now = utcnow()
        rows = {
            key: {
                "request_id": item.request_id,
                "row": item.row,
                "label": json.dumps(item.label),
                "label_value": _number(item.label),
                "endpoint": item.endpoint or _endpoint_of(found.get(item.request_id, [])),
                "received_at": now,
                "actor": actor,
            }
            for key, (_, item) in latest.items()
        }
        replaced = self._store(rows, {key: position for key, (position, _) in latest.items()})
        matched = [i for i in items if _candidates(found.get(i.request_id, []), i)]
        known = {i.request_id for i in matched}
        return FeedbackResult(
            accepted=len(items),
            matched=len(matched),
            unmatched=sorted({i.request_id for i in items if i.request_id not in known}),
            replaced=replaced,
        )

    def _check(self, position: int, item: FeedbackItem, served: list[Served]) -> None:
        """Refuse a label that fits none of the versions that answered its request."""
        if not served:
            return
        where = f"items[{position}]"
        if all(item.row >= s.rows for s in served):
            rows = max(s.rows for s in served)
            raise ValidationFailed(
                f"{where}.row is {item.row} but request {item.request_id} had {rows} row(s)",
                field=f"{where}.row",
            )
        problem = self._misfit(item.label, served)
        if problem is not None:
            raise ValidationFailed(
                f"{where}.label {json.dumps(item.label)} does not fit the model that answered "
                f"request {item.request_id}: {problem}",
                field=f"{where}.label",
            )

    def _misfit(self, label: Any, served: list[Served]) -> str | None:
        """Why ``label`` fits none of the versions in ``served`` (None: it fits one)."""
        if self.output_of is None or not served:
            return None
        problems = []
        for s in served:
            output = self.output_of(s.model, s.version)
            problem = None if output is None else _misfit(label, output)
            if problem is None:
                return None
            problems.append(f"{s.model}:{s.version} {problem}")
        return "; ".join(problems)

    def recheck(self, served: Sequence[Served]) -> int:
        """Check the labels stored while their requests were unknown, now that the index
        knows them: one that fits no answering version (or names a row the request did
        not have) leaves the labels and goes to the history, ``replaced_by`` saying why.
        Returns how many were withdrawn. The index calls this after each batch."""
        by_id: dict[str, list[Served]] = {}
        for item in served:
            by_id.setdefault(item.request_id, []).append(item)
        ids = sorted(by_id)
        withdrawn = 0
        now = utcnow()
        with self.db.session() as session:
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                query = select(FeedbackRow).where(
                    FeedbackRow.request_id.in_(ids[start : start + _LOOKUP_CHUNK])
                )
                for stored in session.scalars(query):
                    candidates = [
                        s
                        for s in by_id[stored.request_id]
                        if stored.endpoint is None or s.endpoint == stored.endpoint
                    ]
                    if not candidates:
                        continue
                    problem = self._misfit(json.loads(stored.label), candidates)
                    if problem is None and all(stored.row >= s.rows for s in candidates):
                        problem = f"row {stored.row} is beyond the request's rows"
                    if problem is None:
                        if stored.endpoint is None:
                            stored.endpoint = _endpoint_of(candidates)
                        continue
                    session.add(
                        _history(stored, replaced_at=now, replaced_by=f"refused: {problem}"[:200])
                    )
                    session.delete(stored)
                    withdrawn += 1
        if withdrawn:
            logger.warning("withdrew %d stored labels that fit no answering version", withdrawn)
        return withdrawn

    def _store(self, rows: dict[tuple[str, int], dict[str, Any]], where: dict[Any, int]) -> int:
        """Insert new labels, then deal with keys that already had one; returns how many
        labels were replaced (each kept in the history)."""
        dialect = self.db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(FeedbackRow).on_conflict_do_nothing(index_elements=["request_id", "row"])
        values = list(rows.values())
        replaced = 0
        with self.db.session() as session:
            # Writing first takes the write lock (SQLite) or locks the new keys
            # (PostgreSQL), so a concurrent call cannot slip in between read and update.
            for start in range(0, len(values), _CHUNK):
                session.execute(statement, values[start : start + _CHUNK])
            ids = sorted({key[0] for key in rows})
            for start in range(0, len(ids), _CHUNK):
                query = select(FeedbackRow).where(
                    FeedbackRow.request_id.in_(ids[start : start + _CHUNK])
                )
                if dialect == "postgresql":
                    query = query.with_for_update()
                for stored in session.scalars(query):
                    new = rows.get((stored.request_id, stored.row))
                    if new is None or stored.label == new["label"]:
                        continue  # inserted just now, or the same label again
                    if self.overwrite == "refuse":
                        position = where[(stored.request_id, stored.row)]
                        raise Conflict(
                            f"request {stored.request_id} row {stored.row} already has label "
                            f"{stored.label} (feedback.overwrite = refuse)",
                            field=f"items[{position}].label",
                            request_id=stored.request_id,
                            row=stored.row,
                        )
                    session.add(
                        _history(stored, replaced_at=new["received_at"], replaced_by=new["actor"])
                    )
                    stored.label = new["label"]
                    stored.label_value = new["label_value"]
                    stored.endpoint = new["endpoint"] or stored.endpoint
                    stored.received_at = new["received_at"]
                    stored.actor = new["actor"]
                    replaced += 1
        return replaced

    def labels(
        self,
        since: datetime | None = None,
        endpoint: str | None = None,
        request_ids: Collection[str] | None = None,
    ) -> pa.Table:
        """Stored labels as an Arrow table (request_id, row, label, label_value,
        label_endpoint, label_received_at): one per key, the last one received; with
        ``request_ids``, only those requests' labels. Join them to logged rows with
        :func:`~modelport.predlog.reader.join_labels`."""
        if request_ids is None:
            return self._labels(since, endpoint, None)
        ids = sorted(set(request_ids))
        # One query per chunk of ids (SQLite limits the parameters of one statement).
        starts = range(0, max(len(ids), 1), _LOOKUP_CHUNK)
        return pa.concat_tables(
            [self._labels(since, endpoint, ids[start : start + _LOOKUP_CHUNK]) for start in starts]
        )

    def _labels(
        self, since: datetime | None, endpoint: str | None, request_ids: list[str] | None
    ) -> pa.Table:
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
        if request_ids is not None:
            query = query.where(FeedbackRow.request_id.in_(request_ids))
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

    def history(self, request_id: str) -> list[dict[str, Any]]:
        """Every label ``request_id`` had, oldest first, the current one last (``current``
        true): label, received_at, actor, and for replaced ones replaced_at/replaced_by."""
        with self.db.session() as session:
            old = session.scalars(
                select(FeedbackHistoryRow)
                .where(FeedbackHistoryRow.request_id == request_id)
                .order_by(FeedbackHistoryRow.row, FeedbackHistoryRow.id)
            ).all()
            now = session.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.request_id == request_id)
                .order_by(FeedbackRow.row)
            ).all()
            entries = [
                {
                    "row": h.row,
                    "label": json.loads(h.label),
                    "received_at": h.received_at,
                    "actor": h.actor,
                    "replaced_at": h.replaced_at,
                    "replaced_by": h.replaced_by,
                    "current": False,
                }
                for h in old
            ]
            entries += [
                {
                    "row": r.row,
                    "label": json.loads(r.label),
                    "received_at": r.received_at,
                    "actor": r.actor,
                    "replaced_at": None,
                    "replaced_by": None,
                    "current": True,
                }
                for r in now
            ]
        return sorted(entries, key=lambda e: (e["row"], e["current"]))


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


def _misfit(label: Any, output: OutputSpec) -> str | None:
    """Why ``label`` cannot be a true answer of a version with ``output`` (None: it can)."""
    if output.kind == "regression":
        if isinstance(label, bool) or _number(label) is None:
            return "is a regressor and takes numeric labels"
        return None
    if output.classes and label_text(label) not in output.classes:
        return f"knows the classes {', '.join(output.classes)}"
    return None


def _history(stored: FeedbackRow, *, replaced_at: datetime, replaced_by: str) -> FeedbackHistoryRow:
    return FeedbackHistoryRow(
        request_id=stored.request_id,
        row=stored.row,
        label=stored.label,
        label_value=stored.label_value,
        endpoint=stored.endpoint,
        received_at=stored.received_at,
        actor=stored.actor,
        replaced_at=replaced_at,
        replaced_by=replaced_by,
    )


def _candidates(served: list[Served], item: FeedbackItem) -> list[Served]:
    """The answers a label may refer to: those of its endpoint, when it names one."""
    if item.endpoint is None:
        return served
    return [s for s in served if s.endpoint == item.endpoint]


def _endpoint_of(served: list[Served]) -> str | None:
    endpoints = {s.endpoint for s in served}
    return endpoints.pop() if len(endpoints) == 1 else None
