"""The newest logged predictions of an endpoint, one object per row, with their labels.

What a person reviewing an endpoint reads (the dashboard's predictions page): the newest
rows first, each with its inputs, its output, its latency and the label that arrived for
it. Version and role are filtered while the log is read; status and "has a label" after,
so the log is read backwards in growing steps until enough rows pass, at most
:data:`MAX_SCANNED` rows per call.

Values are shown as the log keeps them (a hashed feature as its digest, a redacted one
as ``[redacted]``, a dropped one not at all), and rows written before a privacy rule was
added are held to it too: the rules in force now apply on the way out.

>>> PredictionQuery(limit=10, status="error").filtered
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelport.predlog import columns as col
from modelport.predlog.privacy import REDACTED, FieldRules
from modelport.predlog.reader import PredictionLog, WindowSpec, join_labels

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Rows read at most per call when the status or label filter leaves few of them.
MAX_SCANNED = 100_000
# Rows read by the first step backwards when rows are filtered after reading; each
# further step reads twice as many as the one before.
FILTERED_PAGE = 2_000

_DIGEST = re.compile(r"[0-9a-f]{64}")

# The labels of some requests of one endpoint (FeedbackStore.labels with request_ids).
LabelsOf = Callable[[Collection[str]], pa.Table]


@dataclass(frozen=True)
class PredictionQuery:
    """Which rows: the newest ``limit`` of those that pass every filter given."""

    limit: int = DEFAULT_LIMIT
    version: int | None = None
    role: str | None = None
    status: str | None = None  # ok | error
    labelled: bool | None = None
    since: datetime | None = None

    @property
    def filtered(self) -> bool:
        """Whether rows are filtered after they are read (not by the log itself)."""
        return self.status is not None or self.labelled is not None


@dataclass
class NewestPredictions:
    rows: list[dict[str, Any]] = field(default_factory=list)
    scanned: int = 0
    # Every row of the window was looked at (False: MAX_SCANNED stopped the search).
    exhausted: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def features(self) -> list[str]:
        """Every input any row shows, in the order first seen."""
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row["inputs"]))
        return list(names)


def newest_predictions(
    log: PredictionLog,
    labels_of: LabelsOf,
    endpoint: str,
    query: PredictionQuery,
    *,
    privacy: FieldRules | None = None,
) -> NewestPredictions:
    """The newest rows of ``endpoint`` that pass ``query``, newest first."""
    found = NewestPredictions()
    page = FILTERED_PAGE if query.filtered else query.limit
    seen: set[tuple[Any, ...]] = set()
    skip = 0
    while len(found.rows) < query.limit:
        window = log.window(
            endpoint,
            WindowSpec(since=query.since, last=page, skip=skip),
            versions=None if query.version is None else [query.version],
            roles=None if query.role is None else [query.role],
        )
        table = window.table()
        found.skipped.extend(s for s in window.skipped if s not in found.skipped)
        found.scanned += table.num_rows
        for record in _newest_first(_matching(table, labels_of, query)):
            # Rows written while we page backwards shift the pages: count each once.
            key = tuple(record.get(n) for n in (col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION))
            if key in seen:
                continue
            seen.add(key)
            found.rows.append(_row(endpoint, record, privacy))
            if len(found.rows) == query.limit:
                break
        if table.num_rows < page:
            found.exhausted = True
            break
        if found.scanned >= MAX_SCANNED:
            break
        skip += page
        page = min(page * 2, MAX_SCANNED - found.scanned)
    return found


def _matching(table: pa.Table, labels_of: LabelsOf, query: PredictionQuery) -> pa.Table:
    """The rows of ``table`` that pass the status and label filters, with their labels."""
    if query.status is not None and table.num_rows:
        table = table.filter(pc.fill_null(pc.equal(table[col.STATUS], query.status), False))
    ids = pc.unique(table[col.REQUEST_ID]).drop_null().to_pylist() if table.num_rows else []
    labels = labels_of(ids)
    table = join_labels(table, labels, keep_unlabelled=query.labelled is not True)
    if query.labelled is False:
        table = table.filter(pc.is_null(table[col.LABEL_RECEIVED_AT]))
    return table


def _newest_first(table: pa.Table) -> list[dict[str, Any]]:
    if not table.num_rows:
        return []
    order = pc.sort_indices(
        table, [(col.TS, "descending"), (col.REQUEST_ID, "ascending"), (col.ROW, "ascending")]
    )
    records: list[dict[str, Any]] = table.take(order).to_pylist()
    return records


def _row(endpoint: str, record: dict[str, Any], privacy: FieldRules | None) -> dict[str, Any]:
    inputs = {
        col.feature_name(name): _plain(value)
        for name, value in record.items()
        if col.is_feature(name)
    }
    if privacy is not None and privacy.configured:
        inputs = _protected(inputs, endpoint, str(record.get(col.MODEL) or ""), privacy)
    value = _plain(record.get(col.PREDICTION_VALUE))
    regression = record.get(col.PREDICTION) is None and value is not None
    received = record.get(col.LABEL_RECEIVED_AT)
    label = record.get(col.LABEL)
    if regression and record.get(col.LABEL_VALUE) is not None:
        label = _plain(record[col.LABEL_VALUE])
    ts = record.get(col.TS)
    return {
        "request_id": record.get(col.REQUEST_ID),
        "row": record.get(col.ROW),
        "ts": None if ts is None else ts.isoformat(),
        "model": record.get(col.MODEL),
        "version": record.get(col.VERSION),
        "role": record.get(col.ROLE),
        "status": record.get(col.STATUS),
        "latency_ms": _plain(record.get(col.LATENCY_MS)),
        "inputs": inputs,
        "output": _output(record, value),
        "error": record.get(col.ERROR),
        "label": label,
        "label_received_at": None if received is None else received.isoformat(),
    }


def _output(record: dict[str, Any], value: float | None) -> dict[str, Any] | None:
    """The answer (a class, or a regressor's number) and the class probabilities logged."""
    prediction = record.get(col.PREDICTION)
    probabilities = {
        name.removeprefix(col.PROBA_PREFIX): _plain(p)
        for name, p in record.items()
        if name.startswith(col.PROBA_PREFIX) and _plain(p) is not None
    }
    answer = prediction if prediction is not None else value
    if answer is None and not probabilities:
        return None
    output: dict[str, Any] = {"prediction": answer}
    if probabilities:
        output["probabilities"] = probabilities
    return output


def _protected(
    inputs: dict[str, Any], endpoint: str, model: str, privacy: FieldRules
) -> dict[str, Any]:
    """``inputs`` under the rules in force: a row logged before a rule was added shows
    no more than one logged after it."""
    rules = privacy.rules_for(endpoint, model)
    if not rules:
        return inputs
    shown: dict[str, Any] = {}
    for name, value in inputs.items():
        rule = rules.get(name, "keep")
        if rule == "drop":
            continue
        if value is not None and rule == "redact":
            value = REDACTED
        elif value is not None and rule == "hash":
            already = isinstance(value, str) and _DIGEST.fullmatch(value) is not None
            value = value if already else privacy.digest(_number_or_text(value))
        shown[name] = value
    return shown


def _number_or_text(value: Any) -> Any:
    """A raw value as it was logged: a number read back as text (a window joining files
    where the feature is text, hashed, with files where it is a number) is a number
    again, so it hashes as the data plane hashes numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _plain(value: Any) -> Any:
    """A value as JSON holds it: NaN (a missing number) is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "NewestPredictions",
    "PredictionQuery",
    "newest_predictions",
]
