"""Small python-flavor predictors used by the API tests."""

from __future__ import annotations

from typing import Any

import numpy as np

INPUT_SCHEMA = [
    {"name": "tenure", "kind": "int"},
    {"name": "charges", "kind": "float"},
    {"name": "plan", "kind": "category", "categories": ["basic", "plus", "pro"]},
]


class Explodes:
    """Raises on a tenure of 666, answers otherwise."""

    classes = [0, 1]
    input_schema = INPUT_SCHEMA

    def predict(self, frame: Any) -> Any:
        if (frame["tenure"] == 666).any():
            raise RuntimeError("tenure 666 is cursed")
        return np.zeros(len(frame), dtype=int)
