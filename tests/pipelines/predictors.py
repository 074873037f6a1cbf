"""A python-flavor scorer for the pipeline tests that raises on a cursed tenure."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

CURSED = 666.0


class CursedScorer:
    """Takes the scorer's inputs; raises when a row's tenure is 666."""

    classes = [0, 1]
    input_schema = [
        {"name": "tenure", "kind": "float"},
        {"name": "charges", "kind": "float"},
        {"name": "activity", "kind": "float"},
        {"name": "activity_p", "kind": "float"},
    ]

    def predict(self, frame: Any) -> Any:
        if (frame["tenure"] == CURSED).any():
            raise RuntimeError("tenure 666 is cursed")
        return np.zeros(len(frame), dtype=int)


class SlowDetector:
    """The detector's contract (tenure >= 24 is active), 30 ms a call: concurrent
    requests pile up behind a call, so the step's runner merges them into one."""

    classes = [0, 1]
    input_schema = [{"name": "tenure", "kind": "float"}, {"name": "charges", "kind": "float"}]

    def predict(self, frame: Any) -> Any:
        time.sleep(0.03)
        return (frame["tenure"].to_numpy() >= 24).astype(int)

    def predict_proba(self, frame: Any) -> Any:
        active = (frame["tenure"].to_numpy() >= 24).astype(float)
        return np.column_stack([1.0 - active, active])
