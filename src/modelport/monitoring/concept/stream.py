"""Concept drift in a report: detectors on the stream of per-prediction errors of the
window's labelled rows, in label-arrival order.

Each labelled prediction contributes one value: ``1``/``0`` for a wrong/right class, the
absolute error for a regression. Values enter the detectors in the order their labels
arrived (ties: by prediction time, then request id and row), as they would in a live
server, and every firing names the prediction it fired on. DDM needs a 0/1 stream, so
for regressions it reports ``not_applicable``. Each detector first fixes the stream's
scale from a warm-up (:mod:`.base`); on a shorter stream it says so.

>>> rng = np.random.default_rng(0)
>>> stream = (rng.random(3_000) < np.where(np.arange(3_000) < 2_000, 0.1, 0.5)).astype(float)
>>> events = run_detectors(stream, ["page_hinkley"])["page_hinkley"]["positions"]
>>> 2_000 <= events[0] < 2_100
True
>>> run_detectors(stream[:300], ["adwin"])["adwin"]["message"]
'warming up: cannot fire before 1000 labelled predictions (n=300)'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from modelport.predlog import columns as col

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BINARY_ONLY = {"ddm"}
PLOT_POINTS = 100


def error_stream(table: pa.Table, kind: str) -> tuple[pa.Table, FloatArray]:
    """Labelled rows (logged rows joined with their labels) in label-arrival order, and
    each one's error."""
    if table.num_rows == 0:
        return table, np.empty(0)
    order = (col.LABEL_RECEIVED_AT, col.TS, col.REQUEST_ID, col.ROW)
    table = table.sort_by([(name, "ascending") for name in order])
    if kind == "regression":
        truth = table[col.LABEL_VALUE].to_numpy().astype(np.float64)
        guess = table[col.PREDICTION_VALUE].to_numpy().astype(np.float64)
        errors: FloatArray = np.abs(guess - truth)
        errors = np.where(np.isfinite(errors), errors, np.nan)
        keep = np.isfinite(errors)
        return table.filter(pa.array(keep)), errors[keep]
    labels = np.asarray(table[col.LABEL].to_numpy(zero_copy_only=False), dtype=object)
    predicted = np.asarray(table[col.PREDICTION].to_numpy(zero_copy_only=False), dtype=object)
    return table, (labels != predicted).astype(np.float64)


def run_detectors(
    errors: FloatArray, names: Sequence[str], binary: bool = True
) -> dict[str, dict[str, Any]]:
    """Each detector's positions of firing on ``errors`` (or why it did not run)."""
    # River takes a fifth of a second to import: only reports with labels pay for it.
    from modelport.monitoring.concept.detectors import make_detector

    results: dict[str, dict[str, Any]] = {}
    for name in names:
        detector = make_detector(name)
        if name in BINARY_ONLY and not binary:
            results[name] = {
                "status": "not_applicable",
                "positions": [],
                "message": f"{name} needs a 0/1 error stream (classification)",
            }
            continue
        positions = detector.update_many(errors.tolist())
        results[name] = {"status": "ok", "positions": positions}
        if detector.warming_up:
            results[name]["message"] = (
                f"warming up: cannot fire before {detector.needs} labelled predictions "
                f"(n={len(errors)})"
            )
    return results


def concept_section(table: pa.Table, kind: str, detectors: Sequence[str]) -> dict[str, Any]:
    """The report's ``concept_drift`` section of labelled rows of a model of ``kind``."""
    table, errors = error_stream(table, kind)
    binary = kind != "regression"
    section: dict[str, Any] = {
        "stream": len(errors),
        "error": "misclassified (0/1)" if binary else "absolute error",
        "order": "label arrival, then prediction time",
        "series": _series(errors),
    }
    if len(errors) == 0:
        section["status"] = "not_enough_data"
        section["message"] = "no labelled predictions to run detectors on (n=0, need 1)"
        section["detectors"] = []
        return section
    section["status"] = "ok"
    found = run_detectors(errors, detectors, binary)
    section["detectors"] = [
        {
            "name": name,
            "status": result["status"],
            "message": result.get("message", ""),
            "events": [_event(table, position) for position in result["positions"]],
        }
        for name, result in found.items()
    ]
    section["fired"] = sorted(d["name"] for d in section["detectors"] if d["events"])
    return section


def _event(table: pa.Table, position: int) -> dict[str, Any]:
    row = table.slice(position, 1).to_pylist()[0]
    return {
        "position": position,
        "request_id": row[col.REQUEST_ID],
        "row": row[col.ROW],
        "version": row[col.VERSION],
        "predicted_at": row[col.TS].isoformat(),
        "label_received_at": row[col.LABEL_RECEIVED_AT].isoformat(),
    }


def _series(errors: FloatArray) -> dict[str, Any]:
    """Mean error over consecutive chunks of the stream, for the report's plot."""
    if len(errors) == 0:
        return {"chunk": 0, "values": []}
    chunk = max(1, int(np.ceil(len(errors) / PLOT_POINTS)))
    sums = np.add.reduceat(errors, np.arange(0, len(errors), chunk))
    sizes = np.diff(np.append(np.arange(0, len(errors), chunk), len(errors)))
    return {"chunk": chunk, "values": (sums / sizes).tolist()}
