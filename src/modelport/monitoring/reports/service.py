"""The full report of one window, re-read from the prediction log.

``MonitoringService.report(endpoint, ReportRequest(...))`` answers what the CLI
(``modelport monitor report``) prints and ``GET /v1/endpoints/{name}/monitoring`` returns:
data drift per feature, prediction drift, data quality, performance once labels arrived
and concept-drift detector events, each saying what it compared with. The live series
(:mod:`~modelport.monitoring.collector`) computes the same drift figures from bin counts
without reading the log.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelport.errors import ValidationFailed
from modelport.monitoring import baseline as baselines
from modelport.monitoring.baseline import PREDICTION, PROBABILITY, Baseline
from modelport.monitoring.comparators import Comparators
from modelport.monitoring.concept import concept_section
from modelport.monitoring.datadrift import (
    ColumnResult,
    DriftSettings,
    NumericComparator,
    compare_columns,
)
from modelport.monitoring.performance import LabelledRows, performance_section
from modelport.monitoring.report import (
    absent_entry,
    clean,
    drift_entry,
    drift_summary,
    quality_entry,
    sort_by_severity,
)
from modelport.monitoring.source import SERVED_ROLES, LogWindow
from modelport.monitoring.windows import WindowSpec, parse_time
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import FEATURE_PREFIX, PROBA_PREFIX
from modelport.registry.endpoints import EndpointStore
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry

SECTIONS = ("drift", "prediction", "quality", "performance", "concept")
DEFAULT_DETECTORS = ("adwin", "ddm", "page_hinkley")
_CACHED_BASELINES = 4


@dataclass(frozen=True)
class ReportRequest:
    window: WindowSpec = field(default_factory=WindowSpec)
    version: int | None = None
    roles: tuple[str, ...] | None = SERVED_ROLES
    # "auto", "reference", "previous", or a window of the version's own traffic "A..B".
    baseline: str = "auto"
    sections: tuple[str, ...] = SECTIONS
    slice: str | None = None
    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    drift: DriftSettings = field(default_factory=DriftSettings)

    def __post_init__(self) -> None:
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:
            raise ValidationFailed(
                f"unknown report section(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(SECTIONS)}",
                field="sections",
            )


class MonitoringService:
    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointStore,
        log: ParquetPredictionLog,
        feedback: FeedbackStore,
        workers: int = 2,
        invalid_requests: Any = None,
    ) -> None:
        self.registry = registry
        self.endpoints = endpoints
        self.log = log
        self.feedback = feedback
        self.workers = workers
        # Callable (endpoint, since, until) -> {"total", "by_code", "source"}; the live
        # series knows what the API refused, the log does not.
        self.invalid_requests = invalid_requests
        self._baselines: OrderedDict[tuple[str, int], tuple[Baseline, Comparators]] = OrderedDict()

    # -- report -----------------------------------------------------------------------------
    def report(self, endpoint: str, request: ReportRequest) -> dict[str, Any]:
        started = time.perf_counter()
        record = self.endpoints.get(endpoint)
        version = self.registry.get(record.model, request.version or record.primary_version)
        versions = None if request.version is None else [version.version]
        window = LogWindow(
            self.log, endpoint, request.window, versions, request.roles, self.workers
        )
        baseline, comparators = self._baseline(endpoint, version, request, window)
        report: dict[str, Any] = {
            "endpoint": endpoint,
            "model": version.name,
            "version": version.version,
            "versions": "all" if request.version is None else [version.version],
            "roles": list(request.roles) if request.roles is not None else "all",
            "generated_at": datetime.now(UTC).isoformat(),
            "window": {**request.window.to_dict(), "rows": window.n_rows},
            "baseline": baseline.to_dict(),
            "settings": {
                "decision": dict(request.drift.decision),
                "thresholds": dict(request.drift.thresholds),
                "dataset_share": request.drift.dataset_share,
            },
        }
        wanted = set(request.sections)
        columns = self._needed_columns(version, request, wanted)
        window.prefetch(columns)
        results = self._compare(window, version, comparators, wanted, request.drift)
        if "drift" in wanted or "quality" in wanted:
            features = [r for r in results if not r.name.startswith("__")]
            extra = self._unknown_features(window, version)
            if "drift" in wanted:
                entries = [drift_entry(r) for r in features] + extra
                report["features"] = sort_by_severity(entries)
                report["summary"] = drift_summary(report["features"], request.drift.dataset_share)
            if "quality" in wanted:
                report["quality"] = self._quality(endpoint, window, features, request)
        if "prediction" in wanted:
            outputs = [r for r in results if r.name.startswith("__")]
            report["prediction"] = sort_by_severity(drift_entry(r) for r in outputs)
        if "performance" in wanted or "concept" in wanted:
            rows = self._labelled(endpoint, window, version, request.slice)
            if "performance" in wanted:
                slice_column = None if request.slice is None else FEATURE_PREFIX + request.slice
                report["performance"] = clean(
                    performance_section(rows, window.n_rows, slice_column)
                )
            if "concept" in wanted:
                report["concept_drift"] = clean(concept_section(rows, request.detectors))
        report["skipped_segments"] = [{"path": p, "reason": r} for p, r in window.skipped]
        report["elapsed_s"] = round(time.perf_counter() - started, 4)
        return report

    # -- baseline ----------------------------------------------------------------------------
    def _baseline(
        self, endpoint: str, version: ModelVersion, request: ReportRequest, window: LogWindow
    ) -> tuple[Baseline, Comparators]:
        choice = request.baseline.strip()
        if choice in ("auto", "reference"):
            cached = self._registered(version)
            if cached is not None:
                return cached
            if choice == "reference":
                raise ValidationFailed(
                    f"{version.ref} was registered without reference data; compare with its "
                    "own traffic: baseline=previous or a window such as baseline=2d..1d",
                    field="baseline",
                )
            choice = "previous"
        if choice == "previous":
            spec = window.spec.previous()
            description = f"{version.ref} traffic in the previous window ({spec.label})"
            kind = "previous"
        else:
            spec = _window_baseline(choice)
            description = f"{version.ref} traffic in {spec.label}"
            kind = "window"
        traffic = LogWindow(
            self.log, endpoint, spec, [version.version], request.roles, self.workers
        )
        found = baselines.from_window(traffic, version, kind, description)
        if request.baseline == "auto" and version.profile is None:
            found.description += f" ({version.ref} has no reference data)"
        return found, Comparators(version, found)

    def _registered(self, version: ModelVersion) -> tuple[Baseline, Comparators] | None:
        # Reading and sorting a 100k-row reference per feature is worth keeping between
        # reports (a server answers many); versions are immutable, so the key never goes stale.
        key = (version.name, version.version)
        if key not in self._baselines:
            registered = baselines.from_registry(self.registry, version)
            if registered is None:
                return None
            self._baselines[key] = (registered, Comparators(version, registered))
            while len(self._baselines) > _CACHED_BASELINES:
                self._baselines.popitem(last=False)
        self._baselines.move_to_end(key)
        return self._baselines[key]

    # -- sections ----------------------------------------------------------------------------
    def _needed_columns(
        self, version: ModelVersion, request: ReportRequest, wanted: set[str]
    ) -> list[str]:
        columns: list[str] = []
        if wanted & {"drift", "quality"}:
            columns += [FEATURE_PREFIX + f.name for f in version.input_schema.features]
            columns.append("status")
        if "prediction" in wanted:
            columns += _output_log_columns(version)
        if wanted & {"performance", "concept"}:
            columns += ["request_id", "row", "version", "ts", *_output_log_columns(version)]
            if request.slice is not None:
                columns.append(FEATURE_PREFIX + request.slice)
        return columns

    def _compare(
        self,
        window: LogWindow,
        version: ModelVersion,
        comparators: Comparators,
        wanted: set[str],
        settings: DriftSettings,
    ) -> list[ColumnResult]:
        names = []
        if wanted & {"drift", "quality"}:
            names += [f.name for f in version.input_schema.features if f.name in comparators]
        if "prediction" in wanted:
            names += [n for n in comparators.names if n.startswith("__")]
        tasks = [_task(window, name, comparators, settings) for name in names]
        return compare_columns(tasks, self.workers)

    def _unknown_features(self, window: LogWindow, version: ModelVersion) -> list[dict[str, Any]]:
        known = {f.name for f in version.input_schema.features}
        logged = sorted(
            name.removeprefix(FEATURE_PREFIX)
            for name in window.available
            if name.startswith(FEATURE_PREFIX)
        )
        return [
            absent_entry(
                name,
                "unknown",
                "not_in_reference",
                f"{name} is logged but not in {version.ref}'s reference profile",
            )
            for name in logged
            if name not in known
        ]

    def _quality(
        self,
        endpoint: str,
        window: LogWindow,
        features: list[ColumnResult],
        request: ReportRequest,
    ) -> dict[str, Any]:
        status = window.column("status")
        failed = 0 if status is None else int(pc.sum(pc.equal(status, "error")).as_py() or 0)
        issues = [f"{r.name}: {issue}" for r in features for issue in r.quality.issues]
        section: dict[str, Any] = {
            "rows": window.n_rows,
            "failed_rows": failed,
            "issues": issues,
            "features": [quality_entry(r) for r in features],
        }
        if self.invalid_requests is not None:
            section["invalid_requests"] = self.invalid_requests(
                endpoint, request.window.since, request.window.until
            )
        return section

    def _labelled(
        self, endpoint: str, window: LogWindow, version: ModelVersion, slice_by: str | None
    ) -> LabelledRows:
        labels = self.feedback.labels(endpoint=endpoint)
        names = ["request_id", "row", "version", "ts", *_output_log_columns(version)]
        if slice_by is not None:
            names.append(FEATURE_PREFIX + slice_by)
        if labels.num_rows == 0 or window.n_rows == 0:
            predictions = pa.table({n: pa.array([], _type(n)) for n in names[:4]})
            return LabelledRows.join(predictions, labels, version.output)
        if slice_by is not None and FEATURE_PREFIX + slice_by not in window.available:
            raise ValidationFailed(
                f"cannot slice by {slice_by!r}: no such feature in the logged window",
                field="slice",
            )
        predictions = pa.table({n: window.column(n) for n in names if n in window.available})
        return LabelledRows.join(predictions, labels, version.output)


def _type(name: str) -> pa.DataType:
    return {
        "request_id": pa.string(),
        "row": pa.int32(),
        "version": pa.int32(),
        "ts": pa.timestamp("us", tz="UTC"),
    }[name]


def _output_log_columns(version: ModelVersion) -> list[str]:
    output = version.output
    names = ["prediction_value" if output.kind == "regression" else "prediction"]
    if output.has_probabilities:
        names += [f"{PROBA_PREFIX}{c}" for c in output.classes]
    return names


def _task(window: LogWindow, name: str, comparators: Comparators, settings: DriftSettings) -> Any:
    column = _log_column(name)

    def run() -> ColumnResult:
        comparator = comparators.get(name)
        if isinstance(comparator, NumericComparator):
            values, violations = window.numeric_checked(column)
            # The column was read for this task alone: it may be sorted in place.
            return comparator.compare(values, settings, violations, overwrite=True)
        text = window.text(column)
        counted = pc.value_counts(text)
        counts = {
            str(v): int(c)
            for v, c in zip(
                counted.field("values").to_pylist(),
                counted.field("counts").to_pylist(),
                strict=True,
            )
            if v is not None
        }
        return comparator.compare(counts, int(text.null_count), settings)

    return run


def _log_column(name: str) -> str:
    if name == PREDICTION:
        return "prediction"
    if name.startswith(PROBABILITY):
        return PROBA_PREFIX + name.removeprefix(PROBABILITY)
    return FEATURE_PREFIX + name


def _window_baseline(text: str) -> WindowSpec:
    start, sep, end = text.partition("..")
    if not sep:
        raise ValidationFailed(
            "baseline must be auto, reference, previous or a window SINCE..UNTIL "
            f"(durations like 2d or ISO times), got {text!r}",
            field="baseline",
        )
    now = datetime.now(UTC)
    since = parse_time(start, now=now, field="baseline") if start.strip() else None
    until = parse_time(end, now=now, field="baseline") if end.strip() else None
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("baseline window must start before it ends", field="baseline")
    return WindowSpec(since, until, None, 0, text.strip())
