"""A two-step chain for the pipeline tests: an activity detector, then a churn scorer
that reads the detector's answer and confidence (the detector gates the scorer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from support import make_churn_data

# The detector's answer is "active" (1) for long-tenured customers.
ACTIVE_FROM = 24


def detector_data(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    frame = make_churn_data(n, seed)[["tenure", "charges"]].astype(float)
    rng = np.random.default_rng(seed + 100)
    frame["active"] = ((frame.tenure >= ACTIVE_FROM) ^ (rng.random(n) < 0.05)).astype(int)
    return frame


def train(folder: Path, seed: int = 0, *, worse: bool = False) -> dict[str, tuple[Path, Path]]:
    """skops files and reference tables of ``detector`` and ``scorer`` (with ``worse``,
    a scorer trained on inverted labels: it answers as confidently, and wrongly)."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder.mkdir(parents=True, exist_ok=True)
    data = detector_data(seed=seed)
    detector = LogisticRegression(max_iter=1000).fit(data[["tenure", "charges"]], data.active)
    scored = make_churn_data(2000, seed)[["tenure", "charges", "churned"]].astype(float)
    features = scored[["tenure", "charges"]]
    scored.insert(2, "activity", detector.predict(features).astype(float))
    scored.insert(3, "activity_p", detector.predict_proba(features)[:, 1])
    target = scored.churned.astype(int)
    if worse:
        target = 1 - target
    inputs = scored[["tenure", "charges", "activity", "activity_p"]]
    scorer = LogisticRegression(max_iter=1000).fit(inputs, target)
    files = {}
    for name, model, table in (
        ("detector", detector, data),
        ("scorer", scorer, scored.assign(churned=target)),
    ):
        model_path = folder / f"{name}-{seed}{'-worse' if worse else ''}.skops"
        reference = model_path.with_suffix(".parquet")
        sio.dump(model, model_path)
        table.to_parquet(reference)
        files[name] = (model_path, reference)
    return files


def register(folder: Path, name: str, files: tuple[Path, Path], target: str) -> int:
    """Register ``name``:N in the project at ``folder`` in-process; returns N."""
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        version = registry.register(
            Registration(
                name=name, source=str(files[0]), flavor="sklearn", reference=files[1],
                target=target,
            )
        )  # fmt: skip
    finally:
        db.dispose()
    return version.version


PIPELINE: dict[str, Any] = {
    "steps": [
        {"name": "detect", "model": "detector:1"},
        {
            "name": "scorer",
            "model": "scorer:1",
            "inputs": {"activity": "detect.prediction", "activity_p": "detect.proba.1"},
            "when": "detect.prediction == 1",
            "default": 0,
        },
    ]
}

PIPELINE_TOML = """\
[[step]]
name = "detect"
model = "detector:1"

[[step]]
name = "scorer"
model = "scorer:1"
inputs = { activity = "detect.prediction", activity_p = "detect.proba.1" }
when = "detect.prediction == 1"
default = 0
"""


def instances(n: int, seed: int, tenure_shift: float = 0.0) -> list[dict[str, float]]:
    frame = make_churn_data(n, seed)
    return [
        {"tenure": float(t) + tenure_shift, "charges": float(c)}
        for t, c in zip(frame.tenure, frame.charges, strict=True)
    ]


def register_python(folder: Path, name: str, source: str) -> int:
    """Register ``source`` (``file.py:attr``) as ``name``:N, trusted, in-process."""
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.store.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(home / "artifacts"))
        version = registry.register(
            Registration(name=name, source=source, flavor="python", trust_code=True)
        )
    finally:
        db.dispose()
    return version.version
