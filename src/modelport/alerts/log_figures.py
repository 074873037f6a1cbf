"""Service figures as alert rules read them: request rate, error rate and latency
quantiles from the prediction log, and this process's dropped or failed log writes.

The log holds one row per predicted row; a request is counted once (its row 0, which
a request that failed before decoding also leaves). Every server process writes the
same log, so every replica's requests count.

>>> figures = ServiceFigures(requests=4, failed=1, latencies_ms=[10.0, 20.0, 30.0],
...                          window_s=2.0)
>>> figures.value("requests.rate"), figures.value("errors.rate")
((2.0, 4), (0.25, 4))
>>> figures.value("latency.p50_ms")
(20.0, 3)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow.compute as pc

from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog, WindowSpec
from modelport.telemetry import Telemetry

Figure = tuple[float | None, int | None]
QUANTILES = {"latency.p50_ms": 0.5, "latency.p95_ms": 0.95, "latency.p99_ms": 0.99}


@dataclass(frozen=True)
class ServiceFigures:
    """Requests logged in a window of ``window_s`` seconds: how many, how many failed,
    and the latencies of those answered."""

    requests: int
    failed: int
    latencies_ms: Sequence[float] = field(default_factory=list)
    window_s: float = 1.0

    def value(self, metric: str) -> Figure:
        """``(value, samples)`` of a service metric; None where nothing was logged."""
        if metric == "requests.rate":
            return self.requests / self.window_s, self.requests
        if metric == "errors.rate":
            if not self.requests:
                return None, 0
            return self.failed / self.requests, self.requests
        quantile = QUANTILES[metric]
        if not len(self.latencies_ms):
            return None, 0
        values = np.asarray(self.latencies_ms, dtype=np.float64)
        return float(np.quantile(values, quantile)), int(values.size)


def read_service(
    log: PredictionLog,
    endpoint: str,
    at: datetime,
    window_s: float,
    *,
    versions: Collection[int] | None,
    roles: Collection[str],
) -> ServiceFigures:
    """The requests of ``endpoint`` logged in ``[at - window_s, at)`` for these roles
    (and versions, None: all), reading only the columns needed."""
    spec = WindowSpec(at - timedelta(seconds=window_s), at)
    window = log.window(endpoint, spec, versions=versions, roles=roles)
    if window.n_rows == 0:
        return ServiceFigures(0, 0, [], window_s)
    table = window.table([col.ROW, col.STATUS, col.LATENCY_MS])
    firsts = table.filter(pc.equal(table[col.ROW], 0))
    failed = pc.equal(firsts[col.STATUS], col.STATUS_ERROR)
    answered = firsts.filter(pc.invert(pc.fill_null(failed, False)))[col.LATENCY_MS]
    latencies = [float(v) for v in pc.drop_null(answered).to_pylist()]
    return ServiceFigures(
        requests=firsts.num_rows,
        failed=int(pc.sum(pc.cast(failed, "int64")).as_py() or 0),
        latencies_ms=latencies,
        window_s=window_s,
    )


class LogProblems:
    """Prediction records of an endpoint this process dropped (queue full, write given
    up) plus its failed write attempts, over the last ``window_s`` seconds.

    The counters live in the process's :class:`~modelport.telemetry.Telemetry`, so the
    figure is per process: another replica's drops show on its own ``/metrics``. The
    increase is taken against the newest reading at least ``window_s`` old, or, before
    there is one, against the counters when this object was made."""

    def __init__(self, telemetry: Telemetry, window_s: float, now: datetime) -> None:
        self.telemetry = telemetry
        self.window_s = window_s
        self._start = now
        self._baseline = self._totals()
        self._readings: dict[str, deque[tuple[datetime, float]]] = {}
        self._lock = threading.Lock()

    def increase(self, endpoint: str, at: datetime) -> float:
        total = self._totals().get(endpoint, 0.0)
        horizon = at - timedelta(seconds=self.window_s)
        with self._lock:
            readings = self._readings.setdefault(
                endpoint, deque([(self._start, self._baseline.get(endpoint, 0.0))])
            )
            if at > readings[-1][0]:
                readings.append((at, total))
            # Keep one reading at or before the horizon, and everything after it.
            while len(readings) > 1 and readings[1][0] <= horizon:
                readings.popleft()
            before = readings[0][1]
        return max(total - before, 0.0)

    def _totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for counter in (self.telemetry.log_records_dropped, self.telemetry.log_write_errors):
            for metric in counter.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        endpoint = sample.labels["endpoint"]
                        totals[endpoint] = totals.get(endpoint, 0.0) + sample.value
        return totals


__all__ = ["LogProblems", "ServiceFigures", "read_service"]
