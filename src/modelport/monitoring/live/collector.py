"""The server's live monitoring: every answered request binned into tumbling windows.

The data plane calls :meth:`Collector.listen` after each answer; it only appends a
reference to a bounded queue (O(1); when full, requests are skipped and counted), so
nothing on the request path waits on monitoring. Every ``interval_s`` a background
thread (:meth:`Collector.tick`):

1. drains the queue and counts each request's features and outputs into the
   :class:`~modelport.monitoring.live.state.WindowState` of its endpoint, version and window
   (time windows are aligned to the epoch, so every process agrees on them);
2. adds the requests the API refused (``modelport_invalid_requests_total``) since the
   last tick to the window of the endpoint's primary version;
3. matches newly stored labels with remembered predictions (performance counts and
   concept-drift detector events, :mod:`~modelport.monitoring.live.labels`);
4. stores this process's state of every window that changed, merges the states of all
   processes for it and upserts the window's points (final once the window has ended).

A version without reference data is compared with a profile of its own first
``bootstrap_rows`` rows, stored once for every process (``monitoring_baselines``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelport.config import MonitoringSettings
from modelport.monitoring.live.labels import LabelFollower, Matched, RecentPredictions
from modelport.monitoring.live.queries import evaluate_window
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.live.windows import WindowSize, parse_window, tumbling_start
from modelport.monitoring.stats.settings import DriftSettings
from modelport.predlog.feedback import FeedbackStore
from modelport.registry.profile import ReferenceProfile
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.vocabulary import PredictionEvent

logger = logging.getLogger(__name__)

QUEUE_SIZE = 100_000
# Answers are counted a few times a second, not once per tick: an answer queued for a
# whole tick outlives two collections of the cyclic garbage collector and is counted
# towards the next full one (which then walks the thousands of queued answers), and a
# tick's drain would hold the interpreter for as long as thousands of answers take.
DRAIN_EVERY_S = 0.25
# Closed windows kept in memory: labels for their predictions still arrive.
KEPT_WINDOWS = 48


@dataclass
class _Pending:
    """Rows of a version without a baseline yet, kept until there are enough to fit one."""

    items: list[tuple[WindowKey, dict[str, np.ndarray[Any, Any]], Any, Any, int]] = field(
        default_factory=list
    )
    rows: int = 0


class Collector:
    def __init__(
        self,
        registry: Registry,
        feedback: FeedbackStore,
        series: SeriesStore,
        settings: MonitoringSettings,
        *,
        invalid_counts: Callable[[], dict[tuple[str, str], float]] | None = None,
        primary_of: Callable[[str], int | None] | None = None,
        process: str | None = None,
    ) -> None:
        self.registry = registry
        self.series = series
        self.settings = settings
        self.size: WindowSize = parse_window(settings.window)
        self.drift = DriftSettings.from_config(settings)
        self.process = process or f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        self.queue: deque[PredictionEvent] = deque()
        self.drain_every_s = DRAIN_EVERY_S
        self.dropped = 0
        self.invalid_counts = invalid_counts
        self.primary_of = primary_of
        self._invalid_seen: dict[tuple[str, str], float] = {}
        self.states: OrderedDict[WindowKey, WindowState] = OrderedDict()
        self._open: dict[tuple[str, int], WindowKey] = {}
        self._tumbling: dict[tuple[str, int, float], WindowKey] = {}
        self._open_rows: dict[tuple[str, int], int] = {}
        self._dirty: set[WindowKey] = set()
        self._final: set[WindowKey] = set()
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._baselines: dict[tuple[str, int], tuple[str, WindowState]] = {}
        self._pending: dict[tuple[str, int], _Pending] = {}
        self.recent = RecentPredictions(settings.recent_predictions)
        self.labels = LabelFollower(
            lambda since: feedback.labels(since=since),
            self.recent,
            settings.detectors,
            lambda endpoint, version: self._version(endpoint, version).output.kind,
        )
        self._lock = threading.Lock()

    # -- request path ------------------------------------------------------------------------
    def listen(self, event: PredictionEvent) -> None:
        """Called by the data plane after each answer: O(1), never blocks, never raises."""
        if len(self.queue) >= QUEUE_SIZE:
            self.dropped += 1
            return
        self.queue.append(event)

    # -- background ----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        with self._lock:
            now = time.time() if now is None else now
            self._drain()
            self._count_refusals(now)
            self._follow_labels()
            self._close(now)
            self._store()

    def drain(self) -> None:
        """Count what has been answered since the last drain (the server calls this every
        fraction of a second, :data:`DRAIN_EVERY_S`, between ticks)."""
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        groups: dict[tuple[str, int, WindowKey], list[PredictionEvent]] = {}
        # What was queued when the drain began: under steady traffic it still ends.
        for _ in range(len(self.queue)):
            event = self.queue.popleft()
            model_version = event.version
            self._versions.setdefault((event.endpoint, model_version.version), model_version)
            key = self._window(event.endpoint, model_version.version, event.arrived, event.rows)
            groups.setdefault((event.endpoint, model_version.version, key), []).append(event)
            prediction = event.prediction
            self.recent.remember(
                event.request_id,
                event.endpoint,
                model_version.version,
                key,
                event.arrived,
                prediction.outputs,
                prediction.probabilities,
                event.row_index,
            )
        for (endpoint, version, key), items in groups.items():
            features, outputs, probabilities, rows = _concatenate(items)
            self._count(endpoint, version, key, features, outputs, probabilities, rows)

    def _window(self, endpoint: str, version: int, arrived: float, rows: int) -> WindowKey:
        if self.size.seconds is not None:
            start = tumbling_start(arrived, self.size.seconds)
            # Thousands of events per tick share a handful of windows: building the key
            # (two datetimes) once per window, not per event, keeps the tick short.
            cached = self._tumbling.get((endpoint, version, start))
            if cached is None:
                if len(self._tumbling) >= 1024:
                    self._tumbling.clear()
                cached = WindowKey(
                    endpoint, version, self.size.label, _utc(start), _utc(start + self.size.seconds)
                )
                self._tumbling[(endpoint, version, start)] = cached
            return cached
        # Count windows belong to one process: a window closes once it holds enough rows
        # (a request is never split, so a window may hold a few more).
        current = self._open.get((endpoint, version))
        if current is None or self._open_rows[(endpoint, version)] >= (self.size.rows or 0):
            current = WindowKey(endpoint, version, self.size.label, _utc(arrived), _utc(arrived))
            self._open[(endpoint, version)] = current
            self._open_rows[(endpoint, version)] = 0
        self._open_rows[(endpoint, version)] += rows
        return current

    def _count(
        self,
        endpoint: str,
        version: int,
        key: WindowKey,
        features: dict[str, np.ndarray[Any, Any]],
        outputs: Any,
        probabilities: Any,
        rows: int,
    ) -> None:
        state = self._state(key)
        if state is None:
            pending = self._pending.setdefault((endpoint, version), _Pending())
            pending.items.append((key, features, outputs, probabilities, rows))
            pending.rows += rows
            if pending.rows >= self.settings.bootstrap_rows:
                self._bootstrap(endpoint, version)
            return
        state.update(features, outputs, probabilities, rows)
        self._dirty.add(key)

    def _state(self, key: WindowKey) -> WindowState | None:
        state = self.states.get(key)
        if state is None:
            baseline = self._baseline(key.endpoint, key.version)
            if baseline is None:
                return None
            state = baseline[1].fresh()
            self.states[key] = state
        return state

    def _version(self, endpoint: str, version: int) -> ModelVersion:
        # Known from the traffic itself: the data plane hands over the loaded version.
        return self._versions[(endpoint, version)]

    def _baseline(self, endpoint: str, version: int) -> tuple[str, WindowState] | None:
        found = self._baselines.get((endpoint, version))
        if found is not None:
            return found
        record = self._version(endpoint, version)
        profile, kind = None, "reference"
        if record.profile is not None:
            profile = ReferenceProfile.from_dict(record.profile)
        else:
            stored = self.series.baseline(endpoint, version)
            if stored is not None:
                profile, kind = ReferenceProfile.from_dict(stored.profile), "bootstrap"
        if profile is None:
            return None
        empty = WindowState.fit(profile, record.input_schema, record.output)
        self._baselines[(endpoint, version)] = (kind, empty)
        return kind, empty

    def _bootstrap(self, endpoint: str, version: int) -> None:
        """Fit a profile on the first rows of a version without reference data."""
        import pandas as pd  # here: commands importing this module skip pandas

        pending = self._pending.pop((endpoint, version))
        record = self._version(endpoint, version)
        names = [spec.name for spec in record.input_schema.features]
        frame = pd.DataFrame({n: np.concatenate([i[1][n] for i in pending.items]) for n in names})
        outputs = np.concatenate([np.asarray(i[2]) for i in pending.items])
        probabilities = None
        if all(i[3] is not None for i in pending.items) and record.output.has_probabilities:
            probabilities = np.concatenate([i[3] for i in pending.items])
        profile = ReferenceProfile().fit(
            frame,
            record.input_schema,
            outputs.astype(object) if record.output.kind != "regression" else outputs,
            probabilities,
            record.output,
        )
        source = f"first {pending.rows} logged rows of {record.ref} (process {self.process})"
        self.series.claim_baseline(endpoint, version, source, pending.rows, profile.to_dict())
        for key, features, outs, proba, rows in pending.items:
            self._count(endpoint, version, key, features, outs, proba, rows)

    def _count_refusals(self, now: float) -> None:
        if self.invalid_counts is None or self.primary_of is None:
            return
        for (endpoint, code), total in self.invalid_counts().items():
            new = int(total - self._invalid_seen.get((endpoint, code), 0.0))
            self._invalid_seen[(endpoint, code)] = total
            version = self.primary_of(endpoint)
            if new <= 0 or version is None or (endpoint, version) not in self._versions:
                continue  # refusals before any answered request have no window to join
            key = self._window(endpoint, version, now, 0)
            state = self._state(key)
            if state is not None:
                state.invalid[code] = state.invalid.get(code, 0) + new
                self._dirty.add(key)

    def _follow_labels(self) -> None:
        matched = self.labels.poll()
        if not matched:
            return
        by_window: dict[WindowKey, list[Matched]] = {}
        for item in matched:
            by_window.setdefault(item.prediction.window, []).append(item)
        for key, items in by_window.items():
            state = self.states.get(key)
            if state is None:
                continue  # the window left memory; the full report still joins these labels
            rows = [i.probabilities for i in items]
            present = [row for row in rows if row is not None]
            matrix = np.vstack(present) if len(present) == len(rows) else None
            delays = [max(i.received_at.timestamp() - i.prediction.ts, 0.0) for i in items]
            outputs = [i.output for i in items]
            if state.output.kind == "regression":
                state.performance.update([i.label_value for i in items], outputs, delays=delays)
            else:
                state.performance.update([i.label for i in items], outputs, matrix, delays)
            self._dirty.add(key)
        self.series.add_events(self.labels.detect(matched, self.process))

    def _close(self, now: float) -> None:
        """Store ended windows once more as final; forget the oldest (they are stored) but
        keep recent ones in memory for late labels."""
        closed = [k for k in self.states if not self._is_open(k, now)]
        for key in closed:
            if key not in self._final:
                self._final.add(key)
                self._dirty.add(key)
        for key in closed[: max(len(closed) - KEPT_WINDOWS, 0)]:
            self.states.pop(key)
            self._final.discard(key)

    def _is_open(self, key: WindowKey, now: float) -> bool:
        if self.size.seconds is not None:
            return key.end.timestamp() > now
        current = self._open.get((key.endpoint, key.version))
        return current is not None and current.start == key.start

    def _store(self) -> None:
        for key in sorted(self._dirty, key=lambda k: k.start):
            state = self.states.get(key)
            if state is None:
                continue
            stored_key = key
            if self.size.rows is not None:
                # A count window's end is its newest row so far.
                stored_key = WindowKey(
                    key.endpoint,
                    key.version,
                    key.window,
                    key.start,
                    max(key.end, datetime.now(UTC)),
                )
            self.series.save_state(stored_key, self.process, state.rows, state.to_dict())
            self.evaluate(stored_key)
        self._dirty.clear()

    # -- reading back ------------------------------------------------------------------------
    def evaluate(self, key: WindowKey) -> dict[str, Any] | None:
        """Merge every process's counts of one window, judge them, store the points."""
        kind = self._baselines.get((key.endpoint, key.version), ("reference", None))[0]
        return evaluate_window(
            self.series,
            key,
            self.drift,
            self.size,
            kind,
            compare_previous=self.settings.baseline == "previous",
            final=not self._is_open(key, time.time()),
        )

    def current_keys(self, endpoint: str, now: float | None = None) -> list[WindowKey]:
        """This process's open windows of an endpoint (one per version)."""
        now = time.time() if now is None else now
        return [k for k in self.states if k.endpoint == endpoint and self._is_open(k, now)]


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _concatenate(
    items: Iterable[PredictionEvent],
) -> tuple[dict[str, np.ndarray[Any, Any]], Any, Any, int]:
    items = list(items)
    batches = [event.batch for event in items]
    names = list(batches[0].columns)
    if all(b.matrix is not None for b in batches):
        matrix = np.concatenate([b.matrix for b in batches])
        features = {name: matrix[:, i] for i, name in enumerate(names)}
    else:
        features = {name: np.concatenate([b.columns[name] for b in batches]) for name in names}
    outputs = np.concatenate([np.asarray(event.prediction.outputs) for event in items])
    probabilities = None
    if all(event.prediction.probabilities is not None for event in items):
        probabilities = np.concatenate([event.prediction.probabilities for event in items])
    return features, outputs, probabilities, sum(b.n_rows for b in batches)
