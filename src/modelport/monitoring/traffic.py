"""Service figures over time from the prediction log: requests, errors, request rate,
error rate and latency quantiles per time bucket, and over the whole span.

The log holds one row per predicted row; a request is counted once (its row 0, which a
request that failed before decoding also leaves), as alert rules count it
(:mod:`modelport.alerts.log_figures`). Only four columns are read. Buckets are aligned to
multiples of ``step_s`` since the epoch, so the buckets of a chart polled every few
seconds stay where they were.

>>> ts = np.array([0, 1_000_000, 61_000_000], dtype=np.int64)  # microseconds
>>> series = bucketed(ts, np.array([False, True, False]), np.array([10.0, np.nan, 30.0]),
...                   since_us=0, step_s=60, buckets=2)
>>> [(b["requests"], b["errors"], b["p50_ms"]) for b in series]
[(2, 1, 10.0), (1, 0, 30.0)]
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog, WindowSpec

# Beyond this a chart has more buckets than pixels.
MAX_BUCKETS = 2000
# Without a step, the span is cut into about this many buckets (rounded to a nice step).
DEFAULT_BUCKETS = 60
NICE_STEPS_S = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, 86400, 604800)  # fmt: skip
GROUPINGS = ("version", "role")
# The output columns a classifier's and a regressor's predictions are logged in.
OUTPUTS = (col.PREDICTION, col.PREDICTION_VALUE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Span:
    """``[since, until)`` cut into ``buckets`` buckets of ``step_s`` seconds; the first
    starts at ``start`` (``since`` rounded down to a multiple of the step)."""

    since: datetime
    until: datetime
    step_s: int

    @property
    def seconds(self) -> float:
        """Seconds the buckets cover: from ``start`` to ``until``."""
        return (self.until - self.start).total_seconds()

    @property
    def start(self) -> datetime:
        seconds = math.floor((self.since - _EPOCH).total_seconds() / self.step_s) * self.step_s
        return _EPOCH + timedelta(seconds=seconds)

    @property
    def buckets(self) -> int:
        return max(math.ceil((self.until - self.start).total_seconds() / self.step_s), 1)


def default_step(since: datetime, until: datetime) -> int:
    """The smallest nice step giving at most about :data:`DEFAULT_BUCKETS` buckets.

    >>> now = datetime(2026, 3, 1, tzinfo=UTC)
    >>> default_step(now - timedelta(hours=1), now), default_step(now - timedelta(days=30), now)
    (60, 43200)
    """
    wanted = (until - since).total_seconds() / DEFAULT_BUCKETS
    return next((step for step in NICE_STEPS_S if step >= wanted), NICE_STEPS_S[-1])


def make_span(since: datetime, until: datetime, step_s: float | None) -> Span:
    """Validate a span and its step (422 naming ``since`` or ``step``)."""
    if since >= until:
        raise ValidationFailed("since must be before until", field="since")
    step = default_step(since, until) if step_s is None else max(int(round(step_s)), 1)
    span = Span(since, until, step)
    if span.buckets > MAX_BUCKETS:
        raise ValidationFailed(
            f"step gives {span.buckets} buckets over this span; at most {MAX_BUCKETS} "
            f"(a step of at least {math.ceil((until - since).total_seconds() / MAX_BUCKETS)}s)",
            field="step",
        )
    return span


def service_series(
    log: PredictionLog,
    endpoint: str,
    span: Span,
    *,
    versions: Collection[int] | None,
    roles: Collection[str],
    by: str | None = None,
    predictions: bool = False,
) -> dict[str, Any]:
    """Per-bucket and whole-span service figures of ``endpoint``'s requests in ``span``
    for these roles (and versions, None: all); ``by`` ``version`` or ``role`` adds the
    same figures per version or role under ``groups``; ``predictions`` the distribution
    of the answered rows' predictions per bucket (:func:`prediction_series`)."""
    window = log.window(endpoint, WindowSpec(span.start, span.until), versions=versions,
                        roles=roles)  # fmt: skip
    names = [col.ROW, col.TS, col.STATUS, col.LATENCY_MS, *([by] if by else [])]
    # The predictions' columns are read in the same pass (a month is half a million rows).
    outputs = [c for c in OUTPUTS if predictions and c in window.available]
    read = window.table([*names, *outputs]) if window.n_rows else None
    table = _first_rows(read.select(names) if read is not None else None, names)
    answer: dict[str, Any] = {
        "buckets": _figures(table, span),
        "totals": _totals(table, span.seconds),
    }
    if by is not None:
        answer["groups"] = [
            {by: key, "buckets": _figures(part, span), "totals": _totals(part, span.seconds)}
            for key in sorted(set(table[by].to_pylist()), key=str)
            for part in [table.filter(pc.equal(table[by], key))]
        ]
    if predictions:
        answer["predictions"] = prediction_series(read, span)
    return answer


def prediction_series(read: pa.Table | None, span: Span) -> dict[str, Any]:
    """What the answered rows predicted, per bucket: counts per class (classifiers), or
    the mean and the 10th, 50th and 90th percentiles (regressors); ``rows`` per bucket.
    ``read``: the window's rows with ``ts``, ``status`` and the output columns it has."""
    empty = [0] * span.buckets
    if read is None or not read.num_rows:
        return {"kind": None, "rows": empty}
    # A log may hold both output columns (one of them empty): the one with values tells.
    kind = output = None
    for candidate, column in zip(("classification", "regression"), OUTPUTS, strict=True):
        values = read[column] if column in read.column_names else None
        if values is not None and values.null_count < len(values):
            kind, output = candidate, column
            break
    if kind is None or output is None:
        return {"kind": None, "rows": empty}
    table = read.select([col.TS, col.STATUS, output])
    table = table.filter(pc.and_(pc.equal(table[col.STATUS], col.STATUS_OK),
                                 pc.is_valid(table[output])))  # fmt: skip
    ts = np.asarray(pc.cast(table[col.TS], pa.int64()).to_numpy(), dtype=np.int64)
    index = (ts - _micros(span.start)) // (span.step_s * 1_000_000)
    inside = (index >= 0) & (index < span.buckets)
    index = index[inside]
    rows = np.bincount(index, minlength=span.buckets)
    if kind == "classification":
        # Arrow's dictionary encoding numbers the labels without a Python object per row.
        encoded = pc.dictionary_encode(table[output].combine_chunks())
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        names = [str(name) for name in encoded.dictionary.to_pylist()]
        classes = sorted(names)
        # Each dictionary code's place among the sorted class labels.
        place = np.asarray([classes.index(name) for name in names], dtype=np.int64)
        width = max(len(classes), 1)
        codes = place[codes[inside]] if names else codes[inside]
        counts = np.bincount(index * width + codes, minlength=span.buckets * width)
        return {
            "kind": kind,
            "rows": rows.tolist(),
            "classes": classes,
            "counts": counts.reshape(span.buckets, width)[:, : len(classes)].tolist(),
        }
    values = np.asarray(table[output].to_numpy(), dtype=np.float64)[inside]
    order = np.argsort(index, kind="stable")  # groups the buckets; quantiles need no order
    values, index = values[order], index[order]
    bounds = np.searchsorted(index, np.arange(span.buckets + 1))
    figures: dict[str, list[float | None]] = {"mean": [], "p10": [], "p50": [], "p90": []}
    for bucket in range(span.buckets):
        part = values[bounds[bucket] : bounds[bucket + 1]]
        figures["mean"].append(float(part.mean()) if part.size else None)
        for name, q in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
            figures[name].append(_quantile(part, q))
    return {"kind": kind, "rows": rows.tolist(), **figures}


def _first_rows(table: pa.Table | None, names: list[str]) -> pa.Table:
    if table is None:
        return pa.table({name: pa.array([], type=col.TYPES[name]) for name in names})
    return table.filter(pc.equal(table[col.ROW], 0))


def _columns(table: pa.Table) -> tuple[IntArray, BoolArray, FloatArray]:
    ts = pc.cast(table[col.TS], pa.int64()).to_numpy()
    failed = pc.fill_null(pc.equal(table[col.STATUS], col.STATUS_ERROR), False).to_numpy()
    latency = pc.fill_null(table[col.LATENCY_MS], math.nan).to_numpy()
    return (
        np.asarray(ts, dtype=np.int64),
        np.asarray(failed, dtype=np.bool_),
        np.asarray(latency, dtype=np.float64),
    )


def _figures(table: pa.Table, span: Span) -> list[dict[str, Any]]:
    ts, failed, latency = _columns(table)
    figures = bucketed(ts, failed, latency, since_us=_micros(span.start), step_s=span.step_s,
                       buckets=span.buckets)  # fmt: skip
    answer = []
    for index, bucket in enumerate(figures):
        start = span.start + timedelta(seconds=index * span.step_s)
        # The newest bucket is cut short by ``until``: its rate is over what it covers.
        covered = min(float(span.step_s), (span.until - start).total_seconds())
        rate = bucket["requests"] / covered if covered > 0 else None
        answer.append({"start": start.isoformat(), **bucket, "rate": rate})
    return answer


def bucketed(
    ts: IntArray,
    failed: BoolArray,
    latency: FloatArray,
    *,
    since_us: int,
    step_s: int,
    buckets: int,
) -> list[dict[str, Any]]:
    """Figures per bucket of requests at ``ts`` (microseconds since the epoch)."""
    index = (ts - since_us) // (step_s * 1_000_000)
    inside = (index >= 0) & (index < buckets)
    index, failed, latency = index[inside], failed[inside], latency[inside]
    requests = np.bincount(index, minlength=buckets)
    errors = np.bincount(index, weights=failed, minlength=buckets)
    # Latency quantiles of the answered requests, bucket by bucket: one stable sort on
    # the small integer bucket index groups them (np.quantile needs no sorted values).
    answered = ~failed & ~np.isnan(latency)
    order = np.argsort(index[answered], kind="stable")
    sorted_index, sorted_latency = index[answered][order], latency[answered][order]
    bounds = np.searchsorted(sorted_index, np.arange(buckets + 1))
    figures = []
    for bucket in range(buckets):
        values = sorted_latency[bounds[bucket] : bounds[bucket + 1]]
        figures.append(_entry(int(requests[bucket]), int(errors[bucket]), values, float(step_s)))
    return figures


def _totals(table: pa.Table, seconds: float) -> dict[str, Any]:
    _, failed, latency = _columns(table)
    answered = latency[~failed & ~np.isnan(latency)]
    return _entry(len(failed), int(failed.sum()), answered, seconds)


def _entry(requests: int, errors: int, latencies: FloatArray, seconds: float) -> dict[str, Any]:
    """Figures of ``requests`` over ``seconds``; ``latencies`` in any order."""
    return {
        "requests": requests,
        "errors": errors,
        "rate": requests / seconds if seconds > 0 else None,
        "error_rate": errors / requests if requests else None,
        "p50_ms": _quantile(latencies, 0.5),
        "p99_ms": _quantile(latencies, 0.99),
    }


def _quantile(values: FloatArray, q: float) -> float | None:
    return float(np.quantile(values, q)) if values.size else None


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


__all__ = [
    "GROUPINGS",
    "MAX_BUCKETS",
    "Span",
    "default_step",
    "make_span",
    "prediction_series",
    "service_series",
]
