"""Labels as they arrive, matched with recent predictions held in memory.

The server remembers the outputs of its last ``capacity`` predicted rows (per request:
version, window, time, the output arrays). Each tick it reads the labels stored since
the last one; a label whose prediction is remembered adds to that window's performance
counts and feeds the version's concept-drift detectors, in arrival order, and its row is
marked labelled, so a label is counted once however often it is re-sent. Labels for predictions this
process no longer remembers (older, answered by another process, or before a restart)
are left to the full report, which joins the whole log.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from modelport.monitoring.concept.base import RiverDriftDetector
from modelport.monitoring.concept.detectors import check_detector, make_detector
from modelport.monitoring.live.series import WindowKey
from modelport.predlog import columns as col

# Labels are re-read from a little before the newest one seen: another process's clock
# may lag. Rows already counted are no longer remembered, so none counts twice.
OVERLAP = timedelta(seconds=5)


@dataclass(slots=True)
class Remembered:
    """One answered request: its outputs, as a label's match sees them."""

    endpoint: str
    version: int
    window: WindowKey
    ts: float
    outputs: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any] | None
    # The request's row numbers of ``outputs`` when not 0..n-1 (a pipeline step that
    # some rows skipped): request row -> position.
    positions: dict[int, int] | None = None

    def position(self, row: int) -> int | None:
        """Where the request's ``row`` is in ``outputs`` (None: not answered here)."""
        if self.positions is not None:
            return self.positions.get(row)
        return row if 0 <= row < len(self.outputs) else None


# One remembered answer as a plain tuple: endpoint, version, window label, window start,
# window end, arrival time, outputs, probabilities, positions. Every item is an object
# CPython's cyclic collector does not track (str, int, float, datetime, numpy arrays, an
# int -> int dict), so the collector stops tracking the tuple after the first collection
# it survives. Tens of thousands of remembered requests then cost a full collection
# nothing; as dataclass instances they were walked on every one (pauses of 100+ ms at 16
# connections, bench/request_profile.py).
_Answer = tuple[
    str,
    int,
    str,
    datetime,
    datetime,
    float,
    np.ndarray[Any, Any],
    np.ndarray[Any, Any] | None,
    dict[int, int] | None,
]


def _remembered(answer: _Answer) -> Remembered:
    endpoint, version, label, start, end, ts, outputs, probabilities, positions = answer
    window = WindowKey(endpoint, version, label, start, end)
    return Remembered(endpoint, version, window, ts, outputs, probabilities, positions)


@dataclass
class Matched:
    prediction: Remembered
    request_id: str
    row: int
    label: Any
    label_value: float | None
    received_at: datetime

    # Where ``row`` is in the remembered outputs.
    position: int = 0

    @property
    def output(self) -> Any:
        return self.prediction.outputs[self.position]

    @property
    def probabilities(self) -> np.ndarray[Any, Any] | None:
        proba = self.prediction.probabilities
        return None if proba is None else proba[self.position]


class RecentPredictions:
    """The last ``capacity`` answered rows, kept per request and answering endpoint (the
    steps of a pipeline answer one request each)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # request id -> its answers, one per endpoint (see _Answer).
        self._requests: OrderedDict[str, tuple[_Answer, ...]] = OrderedDict()
        # (request id, endpoint) -> the positions already labelled, as bits of an int
        # (untracked like the answers; only requests with a label have an entry).
        self._labelled: dict[tuple[str, str], int] = {}
        self._rows = 0
        self.forgotten = 0

    def __len__(self) -> int:
        return self._rows

    def remember(
        self,
        request_id: str,
        endpoint: str,
        version: int,
        window: WindowKey,
        ts: float,
        outputs: np.ndarray[Any, Any],
        probabilities: np.ndarray[Any, Any] | None,
        rows: Sequence[int] | np.ndarray[Any, Any] | None = None,
    ) -> None:
        if self.capacity == 0:
            return
        answers = self._requests.pop(request_id, ())
        others = tuple(answer for answer in answers if answer[0] != endpoint)
        if len(others) != len(answers):
            self._labelled.pop((request_id, endpoint), None)
            self._rows -= sum(len(a[6]) for a in answers if a[0] == endpoint)
        # Copies: the data plane's arrays are slices of a whole micro-batch, and keeping a
        # slice would keep the batch alive for as long as the request is remembered.
        answer: _Answer = (
            endpoint,
            version,
            window.window,
            window.start,
            window.end,
            ts,
            np.array(outputs),
            None if probabilities is None else np.array(probabilities),
            None if rows is None else {int(r): i for i, r in enumerate(rows)},
        )
        self._requests[request_id] = (*others, answer)
        self._rows += len(outputs)
        while self._rows > self.capacity and self._requests:
            oldest_id, oldest = self._requests.popitem(last=False)
            for forgotten in oldest:
                self._rows -= len(forgotten[6])
                self.forgotten += len(forgotten[6])
                if self._labelled:
                    self._labelled.pop((oldest_id, forgotten[0]), None)

    def match(self, labels: pa.Table) -> list[Matched]:
        """Labels (as ``FeedbackStore.labels`` returns them) whose prediction is remembered
        and not yet labelled, in arrival order."""
        found: list[Matched] = []
        if labels.num_rows == 0:
            return found
        ordered = labels.sort_by([(col.LABEL_RECEIVED_AT, "ascending")])
        names = (col.REQUEST_ID, col.ROW, col.LABEL, col.LABEL_VALUE, col.LABEL_RECEIVED_AT)
        columns = [ordered[name].to_pylist() for name in names]
        endpoints: list[Any] = (
            ordered[col.LABEL_ENDPOINT].to_pylist()
            if col.LABEL_ENDPOINT in ordered.column_names
            else [None] * ordered.num_rows
        )
        for request_id, row, label, value, received, endpoint in zip(
            *columns, endpoints, strict=True
        ):
            answers = self._requests.get(request_id)
            if answers is None:
                continue
            if endpoint:
                answer = next((a for a in answers if a[0] == endpoint), None)
            elif len(answers) == 1:
                answer = answers[0]
            else:
                continue  # several endpoints answered and the label names none of them
            if answer is None:
                continue
            remembered = _remembered(answer)
            position = remembered.position(row)
            if position is None:
                continue
            key = (request_id, remembered.endpoint)
            labelled = self._labelled.get(key, 0)
            if labelled >> position & 1:
                continue
            self._labelled[key] = labelled | 1 << position
            found.append(Matched(remembered, request_id, row, label, value, received, position))
        return found


class LabelFollower:
    """Polls stored labels and turns matches into performance counts and detector events."""

    def __init__(
        self,
        fetch: Callable[[datetime], pa.Table],
        recent: RecentPredictions,
        detector_names: Sequence[str],
        kind_of: Callable[[str, int], str],
    ) -> None:
        self.fetch = fetch
        self.recent = recent
        self.detector_names = list(detector_names)
        for name in self.detector_names:
            check_detector(name)  # a misspelt name fails when the server starts
        self.kind_of = kind_of
        self.cursor = datetime.now(UTC) - OVERLAP
        self.detectors: dict[tuple[str, int], dict[str, RiverDriftDetector]] = {}
        self.positions: dict[tuple[str, int], int] = {}

    def poll(self) -> list[Matched]:
        labels = self.fetch(self.cursor - OVERLAP)
        if labels.num_rows:
            newest = max(labels[col.LABEL_RECEIVED_AT].to_pylist())
            self.cursor = max(self.cursor, newest)
        return self.recent.match(labels)

    def detect(self, matched: Sequence[Matched], process: str) -> list[dict[str, Any]]:
        """Feed each match's error to its version's detectors; the events they raise."""
        events = []
        for item in matched:
            prediction = item.prediction
            key = (prediction.endpoint, prediction.version)
            kind = self.kind_of(*key)
            error = _error(item, kind)
            if error is None:
                continue
            detectors = self.detectors.setdefault(key, self._fresh(kind))
            position = self.positions.get(key, 0)
            self.positions[key] = position + 1
            for name, detector in detectors.items():
                detector.update(error)
                if detector.drift_detected:
                    events.append(
                        {
                            "endpoint": prediction.endpoint,
                            "version": prediction.version,
                            "detector": name,
                            "position": position,
                            "request_id": item.request_id,
                            "row": item.row,
                            "predicted_at": datetime.fromtimestamp(prediction.ts, UTC),
                            "label_received_at": item.received_at,
                            "process": process,
                        }
                    )
        return events

    def _fresh(self, kind: str) -> dict[str, RiverDriftDetector]:
        return {
            name: make_detector(name)
            for name in self.detector_names
            if kind != "regression" or name != "ddm"  # DDM needs a 0/1 stream
        }


def _error(item: Matched, kind: str) -> float | None:
    if kind == "regression":
        if item.label_value is None:
            return None
        return abs(float(item.output) - item.label_value)
    return float(str(item.output) != str(item.label))
