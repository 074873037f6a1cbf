"""One request through a pipeline: each step's inputs mapped from the request and the
earlier steps' outputs, its condition applied, its model called through its own
endpoint (so it is routed, micro-batched, logged and monitored like any endpoint), and
the skipped rows given the step's stated default.

A skipped row answers the step's ``default`` and, for a classifier, probability 1 for
the default's class when it is one of the classes (0 for every class otherwise), so
later steps and the caller always see a full row.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.errors import ModelportError, StepFailed
from modelport.pipelines.spec import Source, StepSpec, Wiring, default_text, output_type
from modelport.registry.records import ModelVersion
from modelport.schema import label_text
from modelport.vocabulary import PredictionEvent

Array = np.ndarray[Any, Any]
# (step endpoint, the step's batch, the request rows it holds or None for all, when the
# step started) -> the step's answer.
StepCall = Callable[[str, Batch, Array | None, float], Awaitable[PredictionEvent]]


@dataclass
class StepResult:
    """What one step answered for every row of the request."""

    name: str
    endpoint: str
    # The version that answered (the step's primary when every row skipped it).
    version: ModelVersion
    role: str
    # Request rows that ran through the step (None: all of them).
    ran: Array | None
    outputs: Array
    probabilities: np.ndarray[Any, np.dtype[np.float64]] | None
    latency_ms: float

    @property
    def rows_run(self) -> int:
        return len(self.outputs) if self.ran is None else len(self.ran)

    def skipped(self) -> list[int]:
        if self.ran is None:
            return []
        mask = np.ones(len(self.outputs), dtype=bool)
        mask[self.ran] = False
        return [int(i) for i in np.flatnonzero(mask)]

    def proba(self, label: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        classes = self.version.output.classes
        if self.probabilities is None or label not in classes:
            return np.full(len(self.outputs), np.nan)
        return self.probabilities[:, classes.index(label)]

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "endpoint": self.endpoint,
            "model": self.version.name,
            "version": self.version.version,
            "role": self.role,
            "latency_ms": round(self.latency_ms, 3),
            "predictions": self.outputs.tolist(),
            "skipped": self.skipped(),
        }
        if self.probabilities is not None:
            body["probabilities"] = self.probabilities.tolist()
            body["classes"] = self.version.output.classes
        return body


async def run_pipeline(
    pipeline: str,
    wiring: Wiring,
    batch: Batch,
    primaries: Sequence[ModelVersion],
    call: StepCall,
) -> list[StepResult]:
    """Every step's answer for ``batch``, in step order; :class:`StepFailed` (500, the
    step and the request named) when a step's model fails."""
    results: dict[str, StepResult] = {}
    for step, sources, primary in zip(wiring.spec.steps, wiring.sources, primaries, strict=True):
        endpoint = f"{pipeline}.{step.name}"
        ran: Array | None = None
        if step.when is not None:
            values = {ref: _condition_value(ref, batch, results) for ref in step.when.refs}
            mask = step.when.evaluate(values, batch.n_rows)
            if not mask.all():
                ran = np.flatnonzero(mask)
        step_batch = _inputs(sources, primary, batch, results, ran)
        started = time.perf_counter()
        event: PredictionEvent | None = None
        if step_batch.n_rows:
            try:
                event = await call(endpoint, step_batch, ran, started)
            except ModelportError as exc:
                raise StepFailed(
                    f"step {step.name!r} of pipeline {pipeline!r} failed: {exc.message}",
                    field="step",
                    step=step.name,
                    endpoint=endpoint,
                    cause=exc.code,
                ) from exc
        latency = (time.perf_counter() - started) * 1000.0
        results[step.name] = _result(step, endpoint, primary, event, ran, batch.n_rows, latency)
    return [results[name] for name in wiring.spec.names]


def _result(
    step: StepSpec,
    endpoint: str,
    primary: ModelVersion,
    event: PredictionEvent | None,
    ran: Array | None,
    n_rows: int,
    latency_ms: float,
) -> StepResult:
    version = primary if event is None else event.version
    role = "primary" if event is None else str(event.role)
    if event is not None and ran is None:
        prediction = event.prediction
        return StepResult(
            step.name, endpoint, version, role, None,
            prediction.outputs, prediction.probabilities, latency_ms,
        )  # fmt: skip
    ran = np.arange(0) if ran is None else ran
    outputs = _filled(step.default, version, n_rows)
    classes = version.output.classes
    probabilities = None
    if version.output.has_probabilities:
        probabilities = np.zeros((n_rows, len(classes)))
        if step.default is not None and default_text(step.default) in classes:
            probabilities[:, classes.index(default_text(step.default))] = 1.0
    if event is not None:
        answered = event.prediction.outputs
        if outputs.dtype != object and answered.dtype != outputs.dtype:
            outputs = outputs.astype(np.result_type(outputs.dtype, answered.dtype))
        outputs[ran] = answered
        if probabilities is not None and event.prediction.probabilities is not None:
            probabilities[ran] = event.prediction.probabilities
    return StepResult(step.name, endpoint, version, role, ran, outputs, probabilities, latency_ms)


def _filled(default: Any, version: ModelVersion, n_rows: int) -> Array:
    """A step's outputs for rows that skipped it: its default (NaN/None when it has none)."""
    if version.output.kind == "regression":
        return np.full(n_rows, np.nan if default is None else float(default))
    if isinstance(default, int) and not isinstance(default, bool):
        return np.full(n_rows, default, dtype=np.int64)
    filled = np.empty(n_rows, dtype=object)
    filled[:] = default
    return filled


def _inputs(
    sources: Mapping[str, Source],
    primary: ModelVersion,
    batch: Batch,
    results: Mapping[str, StepResult],
    ran: Array | None,
) -> Batch:
    """The step's batch: each input of its model read from its source, for the rows
    that run it."""
    features = {f.name: f for f in primary.input_schema.features}
    columns: dict[str, Array] = {}
    for name, source in sources.items():
        numeric = features[name].numeric if name in features else True
        column = _value(source, batch, results, numeric)
        columns[name] = column if ran is None else column[ran]
    n_rows = batch.n_rows if ran is None else len(ran)
    if columns and all(c.dtype == np.float64 for c in columns.values()):
        if ran is None and batch.matrix is not None and list(columns) == list(batch.columns):
            if all(columns[k] is batch.columns[k] for k in columns):
                return batch  # the request as it came: no copy
        return Batch.from_matrix(list(columns), np.column_stack(list(columns.values())))
    return Batch(columns, n_rows)


def _value(source: Source, batch: Batch, results: Mapping[str, StepResult], numeric: bool) -> Array:
    if source.kind == "request":
        column = batch.columns[source.name]
        if numeric or column.dtype == object:
            return column
        return _texts(column)
    assert source.step is not None
    result = results[source.step]
    if source.kind == "proba":
        return result.proba(source.name)
    return _numbers(result.outputs) if numeric else _texts(result.outputs)


def _condition_value(ref: str, batch: Batch, results: Mapping[str, StepResult]) -> Array:
    head, _, rest = ref.partition(".")
    if head == "request":
        return batch.columns[rest]
    result = results[head]
    if rest == "prediction":
        source = Source(ref, "prediction", head, "")
        numeric = output_type(result.version.output, source) == "number"
        return _numbers(result.outputs) if numeric else _texts(result.outputs)
    return result.proba(rest.removeprefix("proba."))


def _numbers(values: Array) -> np.ndarray[Any, np.dtype[np.float64]]:
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    import pandas as pd  # here: commands that import the data plane skip pandas

    converted: np.ndarray[Any, np.dtype[np.float64]] = pd.to_numeric(
        pd.Series(values, dtype=object), errors="coerce"
    ).to_numpy(dtype=np.float64, na_value=np.nan)
    return converted


def _texts(values: Array) -> Array:
    return np.array([None if v is None else label_text(v) for v in values], dtype=object)


def final_prediction(results: Sequence[StepResult]) -> Prediction:
    last = results[-1]
    return Prediction(last.outputs, last.probabilities)
