"""Small python-flavor predictors used by the API tests.

The server runs with the project folder as its working directory, so a predictor that
appends to a relative path leaves a trace of its calls there. The server's warm-up calls
the model with an example row of zeros (tenure 0, charges 0.0, plan "basic"): the tests
send tenures of at least 1, so they can tell their own calls apart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

INPUT_SCHEMA = [
    {"name": "tenure", "kind": "int"},
    {"name": "charges", "kind": "float"},
    {"name": "plan", "kind": "category", "categories": ["basic", "plus", "pro"]},
]

CURSED = 666


def tenures(frame: Any) -> list[int]:
    return [int(t) for t in frame["tenure"]]


def is_warm_up(frame: Any) -> bool:
    return bool((frame["tenure"] == 0).all() and (frame["charges"] == 0).all())


def append_call(file: str, **fields: Any) -> None:
    with Path(file).open("a") as handle:
        handle.write(json.dumps(fields) + "\n")


def read_calls(path: Path) -> list[dict[str, Any]]:
    """The calls a predictor recorded in ``path`` (one JSON object a line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Explodes:
    """Raises on a tenure of 666, answers otherwise."""

    classes = [0, 1]
    input_schema = INPUT_SCHEMA

    def predict(self, frame: Any) -> Any:
        if (frame["tenure"] == CURSED).any():
            raise RuntimeError("tenure 666 is cursed")
        return np.zeros(len(frame), dtype=int)


class SlowExplodes:
    """Like ``Explodes``, but takes 25 ms a call (so the server runs it on a thread and
    concurrent requests pile up into one batch) and records every call in
    ``explodes-calls.jsonl``: its tenures and whether it failed."""

    classes = [0, 1]
    input_schema = INPUT_SCHEMA
    calls_file = "explodes-calls.jsonl"

    def predict(self, frame: Any) -> Any:
        time.sleep(0.025)
        cursed = bool((frame["tenure"] == CURSED).any())
        append_call(self.calls_file, tenure=tenures(frame), failed=cursed)
        if cursed:
            raise RuntimeError("tenure 666 is cursed")
        return np.zeros(len(frame), dtype=int)


class Recording:
    """Answers 1 for every row and records each call in ``recording-calls.jsonl``."""

    classes = [0, 1]
    input_schema = INPUT_SCHEMA
    calls_file = "recording-calls.jsonl"

    def predict(self, frame: Any) -> Any:
        append_call(self.calls_file, tenure=tenures(frame))
        return np.ones(len(frame), dtype=int)


class Gated:
    """Holds every call (but the warm-up) until a file ``release`` appears in the working
    directory, after recording in ``gated-calls.jsonl`` that the call started. A request
    whose tenure is in that file has been accepted and is in flight until released."""

    classes = [0, 1]
    input_schema = INPUT_SCHEMA
    calls_file = "gated-calls.jsonl"

    def predict(self, frame: Any) -> Any:
        if is_warm_up(frame):
            time.sleep(0.01)  # slow enough to run on a thread, never on the event loop
            return np.zeros(len(frame), dtype=int)
        append_call(self.calls_file, tenure=tenures(frame))
        deadline = time.monotonic() + 60  # a broken test must not hang the server forever
        while not Path("release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return np.zeros(len(frame), dtype=int)
