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

Labels are kept per ``(request_id, row, endpoint)``: the steps of a pipeline answer under
one request id, and each step may be labelled on its own (``step``). A label naming no
step, for a request a pipeline answered, is the label of the pipeline's final step (its
answer is the pipeline's answer).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from modelport.errors import Conflict, ModelportError, StepNotFound, ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.index import RequestIndex, Served
from modelport.predlog.reader import PredictionLog
from modelport.schema import OutputSpec, label_text
from modelport.store.db import Database
from modelport.store.tables import EndpointRow, FeedbackHistoryRow, FeedbackRow, utcnow

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
    # A step of a pipeline: of the pipeline ``endpoint`` names or, without ``endpoint``,
    # of the pipeline that answered the request.
    step: str | None = None


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
    [FeedbackItem(request_id='r1', label=1, row=0, endpoint=None, step=None)]
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
        unknown = set(raw) - {"request_id", "label", "row", "endpoint", "step"}
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
        step = raw.get("step")
        if step is not None and (not isinstance(step, str) or not step):
            raise ValidationFailed(
                f"{where}.step must be a non-empty string", field=f"{where}.step"
            )
        items.append(FeedbackItem(request_id, label, row, endpoint, step))
    return items


def with_steps(
    items: Sequence[FeedbackItem], resolve: Callable[[str, str], str]
) -> list[FeedbackItem]:
    """``items``, each naming a pipeline ``endpoint`` and a ``step`` turned into one naming
    the step's endpoint. ``resolve`` is :func:`modelport.api.pipelines.resolve_step` over
    the endpoint store (so a bad step fails as it does on every route), its error moved
    to the item's field: ``items[i].step``, or ``items[i].endpoint`` for an unknown
    endpoint."""
    resolved: list[FeedbackItem] = []
    for position, item in enumerate(items):
        if item.endpoint is None or item.step is None:
            resolved.append(item)
            continue
        try:
            endpoint = resolve(item.endpoint, item.step)
        except ModelportError as exc:
            where = f"items[{position}]"
            named = f"{where}.step" if exc.field == "step" else f"{where}.endpoint"
            raise type(exc)(exc.message, field=named, **exc.details) from None
        resolved.append(replace(item, endpoint=endpoint, step=None))
    return resolved


Overwrite = Literal["keep-history", "refuse"]
# A stored label's key: request id, row, endpoint ("" while not known).
_Key = tuple[str, int, str]
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

    For a request a pipeline answered, the label is one step's (``step``, else the
    final step's) and must fit that step's answer. A label for a row the step skipped
    (its ``when`` condition) is refused with 422 naming ``items[i].row``: the step gave
    that row no answer. Only answers this process remembers say which rows a step
    skipped; a label for an older request's skipped row is stored and joins none of
    the step's logged rows, so it counts in no report. A ``step`` alone needs the
    request known (422 otherwise: name the pipeline in ``endpoint`` too).

    A second, different label for the same ``(request_id, row, endpoint)`` either
    replaces the first and moves it, with its time and who gave it, to
    ``feedback_history`` (``overwrite = "keep-history"``), or is refused with 409,
    nothing of the call stored (``"refuse"``). The same label sent again changes
    nothing. Each endpoint (each step of a pipeline) keeps its own label of a row.
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
        named = {s.endpoint for answers in found.values() for s in answers}
        pipelines = self._pipelines(named | {i.endpoint for i in items if i.endpoint})
        targets: list[tuple[str, list[Served]]] = []
        for position, item in enumerate(items):
            served = found.get(item.request_id, [])
            endpoint, candidates = self._target(position, item, served, pipelines)
            self._check(position, item, endpoint, candidates, served, pipelines)
            targets.append((endpoint, candidates))
        # A label given twice in one call keeps the later one; PostgreSQL refuses to upsert
        # one row twice in a single statement.
        latest: dict[_Key, tuple[int, FeedbackItem]] = {}
        # Keys whose endpoint is the one a label naming none would get: such a label
        # takes the place of one stored while that endpoint was not known ("").
        settles: dict[tuple[str, int], _Key] = {}
        for position, (item, (endpoint, _)) in enumerate(zip(items, targets, strict=True)):
            key = (item.request_id, item.row, endpoint)
            latest[key] = (position, item)
            plain = _default_target(found.get(item.request_id, []), pipelines)[0]
            if endpoint and endpoint == plain:
                settles[(item.request_id, item.row)] = key
        now = utcnow()
        rows = {
            key: {
                "request_id": item.request_id,
                "row": item.row,
                "label": json.dumps(item.label),
                "label_value": _number(item.label),
                "endpoint": key[2],
                "received_at": now,
                "actor": actor,
            }
            for key, (_, item) in latest.items()
        }
        where = {key: position for key, (position, _) in latest.items()}
        replaced = self._store(rows, where, settles)
        matched = [i for i, (_, candidates) in zip(items, targets, strict=True) if candidates]
        known = {i.request_id for i in matched}
        return FeedbackResult(
            accepted=len(items),
            matched=len(matched),
            unmatched=sorted({i.request_id for i in items if i.request_id not in known}),
            replaced=replaced,
        )

    def _pipelines(self, names: Collection[str]) -> _Pipelines:
        """The pipelines among ``names`` and those the step endpoints among them serve."""
        part_of: dict[str, str] = {}
        steps: dict[str, list[str]] = {}

        def read(session: Any, wanted: list[str]) -> None:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                query = select(EndpointRow.name, EndpointRow.part_of, EndpointRow.pipeline).where(
                    EndpointRow.name.in_(wanted[start : start + _LOOKUP_CHUNK])
                )
                for name, owner, pipeline in session.execute(query):
                    if owner is not None:
                        part_of[name] = owner
                    if pipeline is not None:
                        steps[name] = _step_names(pipeline)

        if not names:
            return _Pipelines(part_of, steps)
        with self.db.session() as session:
            read(session, sorted(names))
            owners = sorted(set(part_of.values()) - set(steps))
            if owners:
                read(session, owners)
        return _Pipelines(part_of, steps)

    def _target(
        self, position: int, item: FeedbackItem, served: list[Served], pipelines: _Pipelines
    ) -> tuple[str, list[Served]]:
        """The endpoint ``item`` labels ("" while not known) and the answers it may refer
        to: those of that endpoint. ``step`` names a step of the pipeline ``endpoint``
        names or, without it, of the one that answered the request; a label naming the
        pipeline itself, or nothing for a request a pipeline answered, is its final
        step's."""
        where = f"items[{position}]"
        if item.step is not None:
            if item.endpoint is not None:
                if item.endpoint not in pipelines.steps:
                    raise ValidationFailed(
                        f"endpoint {item.endpoint!r} is not a pipeline; leave 'step' out",
                        field=f"{where}.step",
                    )
                owners = [item.endpoint]
            else:
                owners = sorted(
                    {
                        pipelines.part_of[s.endpoint]
                        for s in served
                        if s.endpoint in pipelines.part_of
                    }
                )
            if not owners:
                why = (
                    "is not known yet: name its pipeline in 'endpoint' too"
                    if not served
                    else "was not answered by a pipeline; leave 'step' out"
                )
                raise ValidationFailed(f"request {item.request_id} {why}", field=f"{where}.step")
            if len(owners) > 1:
                raise ValidationFailed(
                    f"request {item.request_id} was answered by pipelines "
                    f"{', '.join(owners)}: name one in 'endpoint'",
                    field=f"{where}.step",
                )
            names = pipelines.steps.get(owners[0], [])
            if item.step not in names:
                raise StepNotFound(
                    f"pipeline {owners[0]!r} has no step {item.step!r} "
                    f"(its steps: {', '.join(names)})",
                    field=f"{where}.step",
                )
            endpoint = _step_endpoint(owners[0], item.step)
            return endpoint, [s for s in served if s.endpoint == endpoint]
        if item.endpoint is not None:
            endpoint = pipelines.final(item.endpoint) or item.endpoint
            return endpoint, [s for s in served if s.endpoint == endpoint]
        return _default_target(served, pipelines)

    def _check(
        self,
        position: int,
        item: FeedbackItem,
        endpoint: str,
        candidates: list[Served],
        served: list[Served],
        pipelines: _Pipelines,
    ) -> None:
        """Refuse a label that fits none of the answers it may refer to: a row the
        request did not have, a row the step skipped (known for the answers this server
        remembers), a label outside the answering version's outputs."""
        if not candidates:
            return
        where = f"items[{position}]"
        # A step some rows skipped may have answered fewer rows than the request had:
        # count the rows every step of its pipeline answered.
        scope = candidates
        pipeline = pipelines.part_of.get(endpoint)
        if pipeline is not None:
            scope = [s for s in served if pipelines.part_of.get(s.endpoint) == pipeline]
        rows = max(s.rows for s in scope)
        if item.row >= rows:
            raise ValidationFailed(
                f"{where}.row is {item.row} but request {item.request_id} had {rows} row(s)",
                field=f"{where}.row",
            )
        if all(s.ran is not None and item.row not in s.ran for s in candidates):
            raise ValidationFailed(
                f"{where}.row {item.row} of request {item.request_id} skipped {endpoint} "
                "(the step's 'when' condition): that step gave it no answer to label",
                field=f"{where}.row",
            )
        problem = self._misfit(item.label, candidates)
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
        not have) leaves the labels and goes to the history, ``replaced_by`` saying why;
        one that fits learns its endpoint (unless that endpoint got a label of its own
        meanwhile, which then supersedes it). Returns how many were withdrawn. The index
        calls this after each batch."""
        by_id: dict[str, list[Served]] = {}
        for item in served:
            by_id.setdefault(item.request_id, []).append(item)
        ids = sorted(by_id)
        pipelines: _Pipelines | None = None  # read once some stored label needs it
        withdrawn = 0
        now = utcnow()
        with self.db.session() as session:
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                query = select(FeedbackRow).where(
                    FeedbackRow.request_id.in_(ids[start : start + _LOOKUP_CHUNK])
                )
                stored_rows = list(session.scalars(query))
                if stored_rows and pipelines is None:
                    pipelines = self._pipelines({item.endpoint for item in served})
                keyed = {(r.request_id, r.row, r.endpoint): r for r in stored_rows}
                for stored in stored_rows:
                    assert pipelines is not None
                    answers = by_id[stored.request_id]
                    if stored.endpoint:
                        endpoint = stored.endpoint
                        candidates = [s for s in answers if s.endpoint == endpoint]
                    else:
                        endpoint, candidates = _default_target(answers, pipelines)
                    if not candidates:
                        continue
                    problem = self._misfit(json.loads(stored.label), candidates)
                    if problem is None and all(stored.row >= s.rows for s in candidates):
                        problem = f"row {stored.row} is beyond the request's rows"
                    if problem is None and all(
                        s.ran is not None and stored.row not in s.ran for s in candidates
                    ):
                        problem = f"row {stored.row} skipped {endpoint}"
                    if problem is None:
                        if stored.endpoint or not endpoint:
                            continue
                        own = keyed.get((stored.request_id, stored.row, endpoint))
                        if own is None:
                            stored.endpoint = endpoint
                            keyed[(stored.request_id, stored.row, endpoint)] = stored
                            continue
                        # The endpoint got a label of its own meanwhile: the later wins.
                        problem = f"superseded by a later label of {endpoint}"
                        if stored.received_at > own.received_at:
                            replacer = stored.actor or "a pending label"
                            session.add(_history(own, replaced_at=now, replaced_by=replacer))
                            own.label, own.label_value = stored.label, stored.label_value
                            own.received_at, own.actor = stored.received_at, stored.actor
                            session.delete(stored)
                            continue
                    else:
                        problem = f"refused: {problem}"
                        withdrawn += 1
                    session.add(_history(stored, replaced_at=now, replaced_by=problem[:200]))
                    session.delete(stored)
        if withdrawn:
            logger.warning("withdrew %d stored labels that fit no answering version", withdrawn)
        return withdrawn

    def _store(
        self,
        rows: dict[_Key, dict[str, Any]],
        where: dict[_Key, int],
        settles: dict[tuple[str, int], _Key],
    ) -> int:
        """Insert new labels, then deal with keys that already had one; returns how many
        labels were replaced (each kept in the history). A label stored while its
        endpoint was not known ("") counts as the earlier label of the key in
        ``settles`` (the endpoint it would have learnt)."""
        dialect = self.db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(FeedbackRow).on_conflict_do_nothing(
            index_elements=["request_id", "row", "endpoint"]
        )
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
                    key = (stored.request_id, stored.row, stored.endpoint)
                    settled = None if stored.endpoint else settles.get(key[:2])
                    new = rows.get(key if settled is None else settled)
                    if new is None:
                        continue
                    if stored.label == new["label"]:
                        if settled is not None:
                            session.delete(stored)  # the same label, now under its endpoint
                        continue  # inserted just now, or the same label again
                    if self.overwrite == "refuse":
                        shown = f" ({stored.endpoint})" if stored.endpoint else ""
                        raise Conflict(
                            f"request {stored.request_id} row {stored.row}{shown} already has "
                            f"label {stored.label} (feedback.overwrite = refuse)",
                            field=f"items[{where[settled or key]}].label",
                            request_id=stored.request_id,
                            row=stored.row,
                        )
                    session.add(
                        _history(stored, replaced_at=new["received_at"], replaced_by=new["actor"])
                    )
                    replaced += 1
                    if settled is not None:
                        session.delete(stored)
                        continue
                    stored.label = new["label"]
                    stored.label_value = new["label_value"]
                    stored.received_at = new["received_at"]
                    stored.actor = new["actor"]
        return replaced

    def labels(
        self,
        since: datetime | None = None,
        endpoint: str | None = None,
        request_ids: Collection[str] | None = None,
    ) -> pa.Table:
        """Stored labels as an Arrow table (request_id, row, label, label_value,
        label_endpoint, label_received_at): one per ``(request_id, row, endpoint)``, the
        last one received; with ``request_ids``, only those requests' labels. With
        ``endpoint``, that endpoint's labels and those whose endpoint is not known yet
        (``label_endpoint`` null), one per ``(request_id, row)``: the endpoint's own
        where it has both. Join them to logged rows with
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
            query = query.where(FeedbackRow.endpoint.in_([endpoint, ""]))
        with self.db.session() as session:
            result = session.execute(query).all()
        if endpoint is not None:
            own = {(r[0], r[1]) for r in result if r[4]}
            result = [r for r in result if r[4] or (r[0], r[1]) not in own]
        return pa.table(
            {
                col.REQUEST_ID: pa.array([r[0] for r in result], pa.string()),
                col.ROW: pa.array([r[1] for r in result], pa.int32()),
                col.LABEL: pa.array([_label_text(r[2]) for r in result], pa.string()),
                col.LABEL_VALUE: pa.array([r[3] for r in result], pa.float64()),
                col.LABEL_ENDPOINT: pa.array([r[4] or None for r in result], pa.string()),
                col.LABEL_RECEIVED_AT: pa.array([r[5] for r in result], col.TIMESTAMP),
            }
        )

    def history(self, request_id: str) -> list[dict[str, Any]]:
        """Every label ``request_id`` had, per row and endpoint oldest first, the current
        one last (``current`` true): label, endpoint (None: not known), received_at,
        actor, and for replaced ones replaced_at/replaced_by."""
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
                    "endpoint": h.endpoint or None,
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
                    "endpoint": r.endpoint or None,
                    "label": json.loads(r.label),
                    "received_at": r.received_at,
                    "actor": r.actor,
                    "replaced_at": None,
                    "replaced_by": None,
                    "current": True,
                }
                for r in now
            ]
        return sorted(entries, key=lambda e: (e["row"], e["endpoint"] or "", e["current"]))


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
        endpoint=stored.endpoint or None,
        received_at=stored.received_at,
        actor=stored.actor,
        replaced_at=replaced_at,
        replaced_by=replaced_by,
    )


@dataclass(frozen=True)
class _Pipelines:
    """Some pipelines: the one each step endpoint serves, and each one's steps in order."""

    part_of: dict[str, str]
    steps: dict[str, list[str]]

    def final(self, pipeline: str) -> str | None:
        """The endpoint of ``pipeline``'s final step (None: not a pipeline)."""
        names = self.steps.get(pipeline)
        return _step_endpoint(pipeline, names[-1]) if names else None


def _step_names(pipeline: Any) -> list[str]:
    """The step names of a pipeline's stored JSON (``PipelineSpec.to_dict``). Read here,
    not through ``modelport.pipelines``, which imports the registry, which imports this
    package."""
    steps = pipeline.get("steps") if isinstance(pipeline, dict) else None
    return [str(step["name"]) for step in steps or [] if isinstance(step, dict)]


def _step_endpoint(pipeline: str, step: str) -> str:
    """As ``modelport.pipelines.spec.step_endpoint``: ``intake.scorer``."""
    return f"{pipeline}.{step}"


def _default_target(served: list[Served], pipelines: _Pipelines) -> tuple[str, list[Served]]:
    """The endpoint a label naming neither endpoint nor step belongs to, and its answers:
    the final step's when one pipeline answered the request (its answer is the
    pipeline's); the one endpoint that answered; or "" (not known: every answer)."""
    owners = {pipelines.part_of.get(s.endpoint) for s in served}
    if len(owners) == 1 and None not in owners:
        final = pipelines.final(str(owners.pop()))
        if final is not None:
            return final, [s for s in served if s.endpoint == final]
    endpoints = {s.endpoint for s in served}
    return (endpoints.pop() if len(endpoints) == 1 else ""), served
