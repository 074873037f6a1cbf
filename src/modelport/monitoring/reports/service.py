"""The full report of one window, re-read from the prediction log.

``MonitoringService.report(endpoint, ReportRequest(...))`` answers what the CLI
(``modelport monitor report``) prints and ``GET /v1/endpoints/{name}/monitoring`` returns:
data drift per feature, prediction drift, data quality, performance once labels arrived
and concept-drift detector events, each saying what it compared with; on request
(``sections=multivariate``) also whether the rows as a whole moved. The live series
(:mod:`~modelport.monitoring.live.collector`) computes the same drift figures from bin
counts without reading the log.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelport.errors import ValidationFailed
from modelport.monitoring.concept.stream import concept_section
from modelport.monitoring.reports import baseline as baselines
from modelport.monitoring.reports.baseline import Baseline
from modelport.monitoring.reports.comparators import Comparators
from modelport.monitoring.reports.datadrift import ColumnResult, NumericComparator, compare_columns
from modelport.monitoring.reports.entries import absent_entry, drift_entry, quality_entry
from modelport.monitoring.reports.multivariate import multivariate_section
from modelport.monitoring.reports.performance import LabelledRows, performance_section
from modelport.monitoring.reports.pipeline import pipeline_section, refuse_pipeline
from modelport.monitoring.reports.segments import (
    DEFAULT_BUDGET_BYTES,
    Gathered,
    SegmentCache,
    gather,
    merged_counts,
    merged_numeric,
)
from modelport.monitoring.stats.settings import DriftSettings
from modelport.monitoring.stats.summary import clean, drift_summary, sort_by_severity
from modelport.predlog import columns as col
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.reader import LogWindow, PredictionLog, WindowSpec
from modelport.registry.endpoints import EndpointStore
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.vocabulary import SERVED_ROLES, parse_moment

# What a report holds unless asked otherwise; ``multivariate`` (a classifier trained per
# report) only when asked for.
SECTIONS = ("drift", "prediction", "quality", "performance", "concept")
OPTIONAL_SECTIONS = ("multivariate",)
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
    # Significance level of the multivariate section's classifier two-sample test.
    multivariate_alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 < self.multivariate_alpha < 1.0:
            raise ValidationFailed(
                f"multivariate_alpha must be in (0, 1), got {self.multivariate_alpha}",
                field="multivariate_alpha",
            )
        known = (*SECTIONS, *OPTIONAL_SECTIONS)
        unknown = set(self.sections) - set(known)
        if unknown:
            raise ValidationFailed(
                f"unknown report section(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(known)}",
                field="sections",
            )


class MonitoringService:
    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointStore,
        log: PredictionLog,
        feedback: FeedbackStore,
        workers: int = 2,
        invalid_requests: Any = None,
        cache_bytes: int = DEFAULT_BUDGET_BYTES,
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
        # What reports took from each log file, kept for the next report over it.
        self.segment_cache = SegmentCache(cache_bytes)

    # -- report -----------------------------------------------------------------------------
    def report(self, endpoint: str, request: ReportRequest) -> dict[str, Any]:
        started = time.perf_counter()
        record = self.endpoints.get(endpoint)
        refuse_pipeline(record, "report")
        version = self.registry.get(record.model, request.version or record.primary_version)
        versions = None if request.version is None else [version.version]
        window = self.log.window(
            endpoint, request.window, versions=versions, roles=request.roles, workers=self.workers
        )
        baseline, comparators = self._baseline(endpoint, version, request)
        report: dict[str, Any] = {
            "endpoint": endpoint,
            "model": version.name,
            "version": version.version,
            "versions": "all" if request.version is None else [version.version],
            "roles": [str(r) for r in request.roles] if request.roles is not None else "all",
            "generated_at": datetime.now(UTC).isoformat(),
            "window": {**request.window.to_dict(), "rows": window.n_rows},
            "baseline": baseline.to_dict(),
            "settings": {
                "decision": dict(request.drift.decision),
                "thresholds": dict(request.drift.thresholds),
                "feature_thresholds": {k: dict(v) for k, v in request.drift.features.items()},
                "alpha": request.drift.alpha,
                "correction": request.drift.correction,
                "dataset_share": request.drift.dataset_share,
            },
        }
        section = pipeline_section(
            self.endpoints, self.log, record, window, request.window, request.roles, self.workers
        )
        if section is not None:
            report["pipeline"] = section
        wanted = set(request.sections)
        names = self._compared(version, comparators, wanted)
        gathered = self._gather(window, version, comparators, names, "quality" in wanted)
        if "multivariate" in wanted:
            window.prefetch(self._needed_columns(version, request, wanted))
        results = self._compare(version, comparators, names, gathered, request.drift)
        if "drift" in wanted or "quality" in wanted:
            features = [r for r in results if not col.is_series_output(r.name)]
            extra = self._unknown_features(window, version)
            if "drift" in wanted:
                entries = [drift_entry(r) for r in features] + extra
                report["features"] = sort_by_severity(entries)
                report["summary"] = drift_summary(report["features"], request.drift.dataset_share)
            if "quality" in wanted:
                report["quality"] = self._quality(endpoint, window, features, request, gathered)
        if "prediction" in wanted:
            outputs = [r for r in results if col.is_series_output(r.name)]
            report["prediction"] = sort_by_severity(drift_entry(r) for r in outputs)
        if "multivariate" in wanted:
            section = multivariate_section(
                baseline, window, version.input_schema, alpha=request.multivariate_alpha
            )
            report["multivariate"] = clean(section)
        if "performance" in wanted or "concept" in wanted:
            rows = self._labelled(endpoint, window, version, request.slice)
            if "performance" in wanted:
                slice_column = None if request.slice is None else col.feature(request.slice)
                report["performance"] = clean(
                    performance_section(rows, window.n_rows, slice_column)
                )
            if "concept" in wanted:
                report["concept_drift"] = clean(
                    concept_section(rows.table, version.output.kind, request.detectors)
                )
        report["skipped_segments"] = [{"path": p, "reason": r} for p, r in window.skipped]
        report["elapsed_s"] = round(time.perf_counter() - started, 4)
        return report

    # -- baseline ----------------------------------------------------------------------------
    def _baseline(
        self, endpoint: str, version: ModelVersion, request: ReportRequest
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
            spec = request.window.previous()
            description = f"{version.ref} traffic in the previous window ({spec.label})"
            kind = "previous"
        else:
            spec = _window_baseline(choice)
            description = f"{version.ref} traffic in {spec.label}"
            kind = "window"
        traffic = self.log.window(
            endpoint, spec, versions=[version.version], roles=request.roles, workers=self.workers
        )
        found = baselines.from_window(traffic, spec, version, kind, description)
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
        if wanted & {"drift", "quality", "multivariate"}:
            columns += [col.feature(name) for name in version.input_schema.names]
            columns.append(col.STATUS)
        if "prediction" in wanted:
            columns += col.output_columns(version.output)
        if wanted & {"performance", "concept"}:
            columns += _labelled_columns(version, request.slice)
        return columns

    def _compared(
        self, version: ModelVersion, comparators: Comparators, wanted: set[str]
    ) -> list[str]:
        """The series a report compares: features, then outputs."""
        names = []
        if wanted & {"drift", "quality"}:
            names += [f.name for f in version.input_schema.features if f.name in comparators]
        if "prediction" in wanted:
            names += [n for n in comparators.names if col.is_series_output(n)]
        return names

    def _gather(
        self,
        window: LogWindow,
        version: ModelVersion,
        comparators: Comparators,
        names: list[str],
        status: bool,
    ) -> Gathered:
        """Every compared column of every file of the window, from the segment cache
        where it has them (see :mod:`.segments`)."""
        kind = version.output.kind
        numeric = [col.log_column(n, kind) for n in names if comparators.kind(n) == "numeric"]
        text = [col.log_column(n, kind) for n in names if comparators.kind(n) != "numeric"]
        return gather(window, self.segment_cache, numeric, text, status, self.workers)

    def _compare(
        self,
        version: ModelVersion,
        comparators: Comparators,
        names: list[str],
        gathered: Gathered,
        settings: DriftSettings,
    ) -> list[ColumnResult]:
        kind = version.output.kind
        settings = settings.with_family(len(names))
        tasks = [_task(gathered, name, kind, comparators, settings) for name in names]
        return compare_columns(tasks, self.workers)

    def _unknown_features(self, window: LogWindow, version: ModelVersion) -> list[dict[str, Any]]:
        known = set(version.input_schema.names)
        logged = sorted(col.feature_name(name) for name in window.available if col.is_feature(name))
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
        gathered: Gathered,
    ) -> dict[str, Any]:
        failed = gathered.failed
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
        names = _labelled_columns(version, slice_by)
        if labels.num_rows == 0 or window.n_rows == 0:
            predictions = col.empty_table(names[:4])
            return LabelledRows.join(predictions, labels, version.output)
        if slice_by is not None and col.feature(slice_by) not in window.available:
            raise ValidationFailed(
                f"cannot slice by {slice_by!r}: no such feature in the logged window",
                field="slice",
            )
        predictions = window.table([n for n in names if n in window.available])
        return LabelledRows.join(predictions, labels, version.output)


def _labelled_columns(version: ModelVersion, slice_by: str | None) -> list[str]:
    """What the performance and concept sections read of each logged row."""
    names = [col.REQUEST_ID, col.ROW, col.VERSION, col.TS, *col.output_columns(version.output)]
    if slice_by is not None:
        names.append(col.feature(slice_by))
    return names


def _task(
    gathered: Gathered, name: str, kind: str, comparators: Comparators, settings: DriftSettings
) -> Any:
    column = col.log_column(name, kind)

    def run() -> ColumnResult:
        comparator = comparators.get(name)
        if isinstance(comparator, NumericComparator):
            values, missing, violations = merged_numeric(gathered.numeric[column])
            # A new array of the files' sorted values: sorting it once in place gives the
            # same sorted column as reading it in one go.
            return comparator.compare(
                values, settings, violations, overwrite=True, missing_rows=missing
            )
        counts, missing = merged_counts(gathered.text[column])
        return comparator.compare(counts, missing, settings)

    return run


def _window_baseline(text: str) -> WindowSpec:
    start, sep, end = text.partition("..")
    if not sep:
        raise ValidationFailed(
            "baseline must be auto, reference, previous or a window SINCE..UNTIL "
            f"(durations like 2d or ISO times), got {text!r}",
            field="baseline",
        )
    now = datetime.now(UTC)
    since = parse_moment(start, now=now, field="baseline") if start.strip() else None
    until = parse_moment(end, now=now, field="baseline") if end.strip() else None
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("baseline window must start before it ends", field="baseline")
    return WindowSpec(since, until, None, 0, text.strip())
