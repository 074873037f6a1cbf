"""The serving benchmark's model, reference data and request bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import skops.io
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

FEATURES = [f"f{i}" for i in range(20)]
BODY_COUNT = 100


@dataclass(frozen=True)
class Workload:
    model_path: Path
    # The same fitted model saved with joblib, the format mlserver-sklearn loads.
    joblib_path: Path
    reference_path: Path
    # {"instances": [{"f0": ..., ...}]}: modelport's and the bare endpoint's request.
    bodies: list[str]
    # The same rows as V2 inference requests (one FP64 tensor of shape [1, 20]).
    v2_bodies: list[str]
    # predict_proba of the first body, to check that each server answers the same thing.
    expected: list[float]


def prepare_workload(workdir: Path, fit_on: str = "frame") -> Workload:
    """Train and save the model, write the reference and the request bodies.

    ``fit_on="frame"`` fits on a DataFrame, as most users do, so the model carries
    ``feature_names_in_``; ``"array"`` fits on a plain matrix.
    """
    features, target = make_classification(n_samples=5000, n_features=20, random_state=0)
    frame = pd.DataFrame(features, columns=FEATURES)
    model = LogisticRegression(max_iter=1000)
    model.fit(frame if fit_on == "frame" else features, target)
    model_path = workdir / "model.skops"
    skops.io.dump(model, model_path)
    joblib_path = workdir / "model.joblib"
    joblib.dump(model, joblib_path)
    reference_path = workdir / "ref.parquet"
    frame.to_parquet(reference_path, index=False)

    rows = frame.sample(n=BODY_COUNT, random_state=1)
    bodies = [
        json.dumps({"instances": [{name: float(row[name]) for name in FEATURES}]})
        for _, row in rows.iterrows()
    ]
    v2_bodies = [v2_body([float(value) for value in row]) for row in rows.to_numpy()]
    first = rows.iloc[:1] if fit_on == "frame" else rows.iloc[:1].to_numpy()
    expected = model.predict_proba(first)[0].tolist()
    return Workload(model_path, joblib_path, reference_path, bodies, v2_bodies, expected)


def v2_body(row: list[float]) -> str:
    """One row as an Open Inference Protocol (V2) request, decoded by MLServer to numpy.

    >>> json.loads(v2_body([0.5, 1.0]))["inputs"][0]["shape"]
    [1, 2]
    """
    tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return json.dumps({"inputs": [tensor]})


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


def answers_expected(payload: Any, expected: list[float]) -> bool:
    """True if every expected probability appears somewhere in the JSON answer.

    >>> answers_expected({"predictions": [{"p": [0.25, 0.75]}]}, [0.25, 0.75])
    True
    >>> answers_expected({"predictions": [[0.5, 0.5]]}, [0.25, 0.75])
    False
    """
    found = list(_numbers(payload))
    return all(any(abs(number - want) < 1e-6 for number in found) for want in expected)
