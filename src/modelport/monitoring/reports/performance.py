"""Performance of a window once labels arrive: overall, per version, per slice.

Labels (feedback) join the window's predictions on ``(request_id, row)``. The section
reports how many predictions have a label (``labelled_fraction``), how long labels took
(``label_delay_s``: time from prediction to label), the metrics of
:mod:`~modelport.monitoring.metrics.exact` overall and per version, and, when asked, per slice
of one feature (each category, or quintiles of a numeric feature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.monitoring.metrics.exact import classification_metrics, regression_metrics
from modelport.monitoring.metrics.labelled import label_delays, outcomes
from modelport.predlog import columns as col
from modelport.predlog.reader import join_labels
from modelport.schema import OutputSpec

MAX_SLICES = 20
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass
class LabelledRows:
    """Predictions of the window that have a label, in one table (Arrow columns)."""

    table: pa.Table
    output: OutputSpec

    @classmethod
    def join(cls, predictions: pa.Table, labels: pa.Table, output: OutputSpec) -> LabelledRows:
        return cls(join_labels(predictions, labels, keep_unlabelled=False), output)

    @property
    def n(self) -> int:
        return int(self.table.num_rows)

    def metrics(self, mask: np.ndarray[Any, Any] | None = None) -> dict[str, Any]:
        table = self.table if mask is None else self.table.filter(pa.array(mask))
        found = outcomes(table, self.output)
        if self.output.kind == "regression":
            return regression_metrics(found.labels, found.answers)
        return classification_metrics(
            found.labels, found.answers, self.output.classes, found.probabilities
        )


def performance_section(
    rows: LabelledRows, window_rows: int, slice_feature: str | None = None
) -> dict[str, Any]:
    n = rows.n
    section: dict[str, Any] = {
        "kind": rows.output.kind,
        "rows": window_rows,
        "labelled_rows": n,
        "labelled_fraction": n / window_rows if window_rows else 0.0,
    }
    if n == 0:
        section["status"] = "not_enough_data"
        section["message"] = "no labelled predictions in the window (n=0, need 1)"
        return section
    section["status"] = "ok"
    section["label_delay_s"] = _delays(label_delays(rows.table))
    section["metrics"] = rows.metrics()
    versions = np.asarray(rows.table[col.VERSION].to_numpy())
    section["by_version"] = {
        str(int(v)): rows.metrics(versions == v) for v in sorted(set(versions.tolist()))
    }
    if slice_feature is not None:
        section["slices"] = _slices(rows, slice_feature)
    return section


def _delays(seconds: FloatArray) -> dict[str, float]:
    return {
        "median": float(np.median(seconds)),
        "p90": float(np.quantile(seconds, 0.9)),
        "max": float(seconds.max()),
    }


def _slices(rows: LabelledRows, column: str) -> dict[str, Any]:
    name = col.feature_name(column)
    if column not in rows.table.column_names:
        return {"feature": name, "status": "not_in_log", "slices": []}
    values = rows.table[column]
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        numbers = values.to_numpy().astype(np.float64)
        present = numbers[np.isfinite(numbers)]
        edges: FloatArray = (
            np.unique(np.quantile(present, np.linspace(0, 1, 6))) if len(present) else np.empty(0)
        )
        groups = []
        for low, high in zip(edges[:-1], edges[1:], strict=False):
            last = high == edges[-1]
            inside = (numbers >= low) & ((numbers <= high) if last else (numbers < high))
            groups.append((f"[{low:g}, {high:g}{']' if last else ')'}", inside))
        groups.append(("(missing)", ~np.isfinite(numbers)))
    else:
        text = pc.fill_null(pc.cast(values, pa.string()), "(missing)")
        counted = pc.value_counts(text).to_pylist()
        ranked = [c["values"] for c in sorted(counted, key=lambda c: (-c["counts"], c["values"]))]
        shown = ranked[:MAX_SLICES]
        as_text = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        groups = [(value, as_text == value) for value in shown]
        if len(ranked) > MAX_SLICES:
            groups.append(("(other)", ~np.isin(as_text, shown)))
    slices = []
    for label, mask in groups:
        if mask.any():
            slices.append(
                {"slice": label, "labelled_rows": int(mask.sum()), "metrics": rows.metrics(mask)}
            )
    return {"feature": name, "status": "ok", "slices": slices}
