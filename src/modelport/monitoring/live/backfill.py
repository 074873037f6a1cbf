"""Recompute closed tumbling windows from the prediction log and store them as series.

For traffic logged before monitoring ran, or to re-cut history by another window size
(``modelport monitor backfill churn --every 1d --since 30d``). Each closed window's
counts (:meth:`WindowState.from_log`, the same counts a server keeps live) and labelled
performance replace whatever states were stored for it, then its points are stored as
final. Windows still open are left to the servers.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from modelport.config import MonitoringSettings
from modelport.errors import ValidationFailed
from modelport.monitoring.live.queries import evaluate_window
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.live.windows import parse_window
from modelport.monitoring.metrics.labelled import label_delays, outcomes
from modelport.monitoring.reports.service import MonitoringService
from modelport.monitoring.stats.settings import DriftSettings
from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow, WindowSpec, join_labels
from modelport.registry.profile import ReferenceProfile
from modelport.registry.records import ModelVersion
from modelport.vocabulary import SERVED_ROLES, parse_moment

PROCESS = "backfill"


def backfill(
    service: MonitoringService,
    series: SeriesStore,
    endpoint: str,
    every: str,
    *,
    since: str | None = None,
    until: str | None = None,
    version: int | None = None,
    settings: MonitoringSettings | None = None,
) -> list[str]:
    settings = settings or MonitoringSettings()
    size = parse_window(every, field="every")
    if size.seconds is None:
        raise ValidationFailed(
            "backfill cuts windows by time (1h, 1d); count windows belong to one server",
            field="every",
        )
    now = datetime.now(UTC)
    start = parse_moment(since, now=now, field="since") if since else now - timedelta(days=7)
    end = min(parse_moment(until, now=now, field="until") if until else now, now)
    record = service.endpoints.get(endpoint)
    versions = [version] if version is not None else _versions(service, endpoint, start, end)
    drift = DriftSettings.from_config(settings)
    labels = service.feedback.labels(endpoint=endpoint)
    stored: list[str] = []
    for number in versions:
        model = service.registry.get(record.model, number)
        profile, kind = _profile(series, endpoint, model)
        first = math.floor(start.timestamp() / size.seconds) * size.seconds
        for offset in np.arange(first, end.timestamp(), size.seconds):
            key = WindowKey(endpoint, number, size.label, _utc(offset), _utc(offset + size.seconds))
            if key.end > now:
                break  # still open: the servers own it
            window = service.log.window(
                endpoint, WindowSpec(key.start, key.end), versions=[number], roles=SERVED_ROLES
            )
            if window.n_rows == 0:
                continue
            state = WindowState.from_log(window, profile, model.input_schema, model.output)
            _add_labels(state, window, labels, model)
            series.delete_states(key)
            series.save_state(key, PROCESS, state.rows, state.to_dict())
            evaluate_window(
                series, key, drift, size, kind, settings.baseline == "previous", final=True
            )
            stored.append(f"{key.start.isoformat()} version {number}: {state.rows} rows")
    return stored


def _versions(
    service: MonitoringService, endpoint: str, start: datetime, end: datetime
) -> list[int]:
    window = service.log.window(endpoint, WindowSpec(start, end), roles=SERVED_ROLES)
    column = window.column(col.VERSION)
    if column is None:
        return []
    return sorted({int(v) for v in column.unique().to_pylist() if v is not None})


def _profile(
    series: SeriesStore, endpoint: str, model: ModelVersion
) -> tuple[ReferenceProfile, str]:
    if model.profile is not None:
        return ReferenceProfile.from_dict(model.profile), "reference"
    stored = series.baseline(endpoint, model.version)
    if stored is None:
        raise ValidationFailed(
            f"{model.ref} has no reference data and no server has fitted a baseline for it "
            "yet; use monitor report --baseline with a window of its own traffic",
            field="version",
        )
    return ReferenceProfile.from_dict(stored.profile), "bootstrap"


def _add_labels(
    state: WindowState, window: LogWindow, labels: pa.Table, model: ModelVersion
) -> None:
    if labels.num_rows == 0:
        return
    names = [col.REQUEST_ID, col.ROW, col.TS, *col.output_columns(model.output)]
    predictions = window.table([n for n in names if n in window.available])
    rows = join_labels(predictions, labels, keep_unlabelled=False)
    if rows.num_rows == 0:
        return
    found = outcomes(rows, model.output)
    state.performance.update(
        found.labels, found.answers, found.probabilities, label_delays(rows).tolist()
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)
