"""``modelport_model_runtime_info``: which library answers for each served version.

A scikit-learn version whose ONNX fast path is on and checked is answered by onnxruntime
(``registry/fast_path.py``); this info metric says so per endpoint and version, read from
the data plane at scrape time, so a switch shows on the next scrape and a version no
longer served disappears.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelport.serving.dataplane import EndpointStatus

NAME = "modelport_model_runtime_info"
DOC = "Always 1: the runtime (sklearn, onnx, python) answering for a served version"
LABELS = ["endpoint", "version", "runtime"]


class RuntimeInfo(Collector):
    def __init__(self, statuses: Callable[[], Iterable[EndpointStatus]]) -> None:
        self.statuses = statuses

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(NAME, DOC, labels=LABELS)]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(NAME, DOC, labels=LABELS)
        for status in self.statuses():
            for version, runtime in sorted(status.runtimes.items()):
                family.add_metric([status.name, str(version), runtime], 1.0)
        yield family


__all__ = ["RuntimeInfo"]
