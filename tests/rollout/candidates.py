"""Candidate models for rollout tests (python flavor; registered from this file).

Each must pass registration (a prediction on the whole reference data) and the warm-up
calls a server makes when loading it (an example row whose numbers are all 0); their
misbehaviour is kept for everything else: live traffic.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np

CLASSES = [0, 1]


def _rule(frame: Any) -> np.ndarray:
    """What the test primary (churn logistic regression) answers for the test traffic."""
    return np.zeros(len(frame), dtype=int)


class _Candidate:
    classes = CLASSES

    def live(self, frame: Any) -> bool:
        if len(frame) > 500:  # registration: the reference data
            return False
        return bool((frame["charges"].to_numpy() != 0).any())  # not the warm-up row


class AlwaysFails(_Candidate):
    """Raises on every live call."""

    def predict(self, frame: Any) -> np.ndarray:
        if self.live(frame):
            raise RuntimeError("candidate exploded")
        return _rule(frame)


class Slow(_Candidate):
    """Right answers, 10 ms per row: far slower than the primary's ~1 ms per call."""

    def predict(self, frame: Any) -> np.ndarray:
        if self.live(frame):
            time.sleep(0.01 * len(frame))
        return _rule(frame)


def unlucky(tenure: Any, charges: Any) -> bool:
    """About 30 % of rows, picked by a stable hash of their content (not Python's salted
    ``hash``), so the same request fails in every run and every process."""
    key = f"{int(tenure)}|{float(charges):.2f}".encode()
    return zlib.crc32(key) % 100 < 30


class Flaky(_Candidate):
    """Fails on about 30 % of live rows: the same rows every time (see ``unlucky``)."""

    def predict(self, frame: Any) -> np.ndarray:
        if self.live(frame) and any(
            unlucky(tenure, charges)
            for tenure, charges in zip(frame["tenure"], frame["charges"], strict=True)
        ):
            raise RuntimeError("flaky candidate failed")
        return _rule(frame)


class AlwaysOne(_Candidate):
    """Never errors, but answers 1 whatever it is asked (the primary mostly says 0)."""

    def predict(self, frame: Any) -> np.ndarray:
        return np.ones(len(frame), dtype=int)


class DifferentInputs(_Candidate):
    """Takes other features than the churn primary: must be refused as a candidate."""

    input_schema = [
        {"name": "tenure", "kind": "float"},
        {"name": "region", "kind": "category", "categories": ["north", "south"]},
    ]

    def predict(self, frame: Any) -> np.ndarray:
        return np.zeros(len(frame), dtype=int)
