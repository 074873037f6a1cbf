"""Reading the stored series back: merged live windows, history, refusals, events.

Shared by the server (which also writes) and the CLI (which reads what servers stored),
so ``modelport monitor live`` and ``GET .../monitoring/live`` agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from modelport.errors import NotFound
from modelport.monitoring.live.evaluate import live_view, window_points
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.live.windows import WindowSize
from modelport.monitoring.stats.settings import DriftSettings


def merged_state(series: SeriesStore, key: WindowKey) -> WindowState | None:
    """Every process's counts of one window, merged."""
    rows = series.states(key.endpoint, key.version, key.window, key.start)
    states = [WindowState.from_dict(row.state) for row in rows]
    if not states:
        return None
    merged = states[0]
    for other in states[1:]:
        merged = merged.merge(other)
    return merged


def previous_state(series: SeriesStore, key: WindowKey, size: WindowSize) -> WindowState | None:
    """The merged state of the window just before ``key`` (if it holds any rows)."""
    if size.seconds is not None:
        start = key.start - timedelta(seconds=size.seconds)
    else:
        found = series.latest_start(key.endpoint, key.version, key.window, key.start)
        if found is None:
            return None
        start = found
    state = merged_state(series, WindowKey(key.endpoint, key.version, key.window, start, start))
    return state if state is not None and state.rows else None


def evaluate_window(
    series: SeriesStore,
    key: WindowKey,
    drift: DriftSettings,
    size: WindowSize,
    baseline: str,
    compare_previous: bool,
    final: bool,
    store: bool = True,
) -> dict[str, Any] | None:
    """Merge one window's states, judge them, optionally store the points; the live view."""
    merged = merged_state(series, key)
    if merged is None:
        return None
    previous = previous_state(series, key, size) if compare_previous else None
    if previous is not None:
        baseline = "previous"
    view = live_view(merged, drift, previous)
    if store:
        series.upsert_points(key, window_points(view, drift.dataset_share, baseline), final)
    view.update(
        window=key.window,
        window_start=key.start.isoformat(),
        window_end=key.end.isoformat(),
        version=key.version,
        baseline=baseline,
        final=final,
    )
    return view


def latest_windows(
    series: SeriesStore, endpoint: str, window: str, version: int | None = None
) -> list[WindowKey]:
    """The newest stored window of each version of an endpoint."""
    rows = series.states(endpoint, version, window)
    newest: dict[int, WindowKey] = {}
    for row in rows:
        key = WindowKey(endpoint, row.version, row.window, row.window_start, row.window_end)
        if row.version not in newest or key.start > newest[row.version].start:
            newest[row.version] = key
        elif key.start == newest[row.version].start and key.end > newest[row.version].end:
            newest[row.version] = key
    return [newest[v] for v in sorted(newest)]


def live(
    series: SeriesStore,
    endpoint: str,
    window: WindowSize,
    drift: DriftSettings,
    compare_previous: bool,
    version: int | None = None,
) -> dict[str, Any]:
    keys = latest_windows(series, endpoint, window.label, version)
    if not keys:
        raise NotFound(
            f"no live window stored for endpoint {endpoint!r}"
            + (f" version {version}" if version is not None else "")
            + " yet (a server with monitoring enabled stores one after its first requests)",
            field="endpoint",
        )
    views = []
    for key in keys:
        view = evaluate_window(
            series, key, drift, window, "reference", compare_previous, final=False, store=False
        )
        if view is not None:
            views.append(view)
    return {"endpoint": endpoint, "windows": views}


def history(
    series: SeriesStore,
    endpoint: str,
    *,
    feature: str | None = None,
    statistic: str | None = None,
    version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    points = series.points(
        endpoint, feature=feature, statistic=statistic, version=version, since=since, until=until
    )
    return {"endpoint": endpoint, "feature": feature, "statistic": statistic, "points": points}


def refusals(
    series: SeriesStore, endpoint: str, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """Requests the API refused, from the servers' window counts overlapping a span."""
    by_code: dict[str, int] = {}
    for row in series.states(endpoint, overlapping=(since, until)):
        for code, count in row.state.get("invalid", {}).items():
            by_code[code] = by_code.get(code, 0) + int(count)
    return {
        "total": sum(by_code.values()),
        "by_code": by_code,
        "source": "server counters of live windows overlapping this one",
    }
