"""Reading the stored series back: merged live windows, history, refusals, events.

Shared by the server (which also writes) and the CLI (which reads what servers stored),
so ``modelport monitor live`` and ``GET .../monitoring/live`` agree.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from modelport.errors import NotFound, ValidationFailed
from modelport.monitoring.live.evaluate import live_view, window_points
from modelport.monitoring.live.series import PointRow, SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.live.windows import WindowSize
from modelport.monitoring.stats.registry import DEFAULT_DECISION, REGISTRY
from modelport.monitoring.stats.settings import DriftSettings
from modelport.predlog import columns as col

# Figures one columnar history answer may hold (a month of hourly windows of 50
# features is 36,000 per statistic).
MAX_COLUMN_POINTS = 500_000
# Statistics whose threshold bounds a p-value (drift when below): their size says
# nothing about severity, only their verdict does.
P_VALUE_STATISTICS = frozenset({"ks", "chisquare"})
# Severity of a drifted p-value figure (and of one without a threshold), and of a
# figure in range: a heat map colours both without a ratio.
SEVERITY_DRIFTED = 3.0
SEVERITY_IN_RANGE = 0.5


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
    newest: dict[int, WindowKey] = {}
    for found, size, start, end in series.window_spans(endpoint, version, window):
        key = WindowKey(endpoint, found, size, start, end)
        if found not in newest or (key.start, key.end) > (newest[found].start, newest[found].end):
            newest[found] = key
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


def history_columns(
    series: SeriesStore,
    endpoint: str,
    *,
    version: int,
    window: str,
    since: datetime | None = None,
    until: datetime | None = None,
    features: Collection[str] | None = None,
    statistics: Collection[str] | None = None,
    decision: bool = False,
    columns: int | None = None,
) -> dict[str, Any]:
    """Stored figures of one version's windows as columns: one ``times`` array (window
    starts) and, per (feature, statistic), arrays of values, thresholds, verdicts and rows
    aligned with it (null where a window has no figure).

    ``decision``: per input feature and window only the statistic that decides its drift
    (as alert rules and ``/metrics`` read it: ``cramers_v`` where stored, else ``psi``,
    else the statistic that carries a verdict); the model's outputs are under ``outputs``.

    ``columns``: at most this many columns; ``per`` consecutive windows then share one,
    shown by their most severe figure (see :func:`_bucket`), drifted when any of them
    was, and each series says whether its newest window drifted (``drifted_now``). A
    month of hourly windows for 50 features becomes a few thousand figures to send.
    """
    quick = (
        _decision_columns(series, endpoint, version, window, since, until, features)
        if decision
        else None
    )
    if quick is not None:
        times, found = quick
    elif decision:
        rows = _decision_rows(series, endpoint, version, window, since, until, features)
    else:
        rows = series.point_rows(
            endpoint,
            version=version,
            window=window,
            since=since,
            until=until,
            features=features,
            statistics=statistics,
            limit=MAX_COLUMN_POINTS + 1,
        )
        if len(rows) > MAX_COLUMN_POINTS:
            raise ValidationFailed(
                f"more than {MAX_COLUMN_POINTS} figures match: name a feature or stat, "
                "or a shorter span",
                field="since",
            )
    if quick is None:
        times, found = _columns_of(rows, decision)
    answer: dict[str, Any] = {
        "endpoint": endpoint,
        "version": version,
        "window": window,
        "since": None if since is None else since.isoformat(),
        "until": None if until is None else until.isoformat(),
        "decision": decision,
        "times": [start.isoformat() for start in times],
    }
    per = 1 if columns is None else max(1, -(-len(times) // columns))
    if per > 1:
        answer["times"] = answer["times"][::per]
        for entry in found.values():
            _bucket(entry, per)
    answer["per"] = per
    entries = [_finish(entry) for _, entry in sorted(found.items())]
    if decision:
        answer["series"] = [e for e in entries if not col.is_series_output(e["feature"])]
        answer["outputs"] = [e for e in entries if col.is_series_output(e["feature"])]
    else:
        answer["series"] = entries
    return answer


Columns = tuple[list[datetime], dict[tuple[str, str], dict[str, Any]]]


def _columns_of(rows: list[PointRow], decision: bool) -> Columns:
    """Window starts, and per (feature, statistic) -- per feature in decision mode -- the
    figures as arrays aligned with them."""
    times = sorted({row.window_start for row in rows})
    position = {start: index for index, start in enumerate(times)}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.feature, row.statistic) if not decision else (row.feature, "")
        entry = found.get(key)
        if entry is None:
            entry = found[key] = _empty_series(row.feature, row.statistic, len(times), decision)
        index = position[row.window_start]
        entry["values"][index] = row.value
        entry["thresholds"][index] = row.threshold
        entry["drifted"][index] = row.drifted
        entry["rows"][index] = row.rows
        if decision:
            entry["statistics"][index] = row.statistic
    return times, found


def _decision_columns(
    series: SeriesStore,
    endpoint: str,
    version: int,
    window: str,
    since: datetime | None,
    until: datetime | None,
    features: Collection[str] | None,
) -> Columns | None:
    """Decision-mode columns in one pass over the driver's tuples (a month of hourly
    windows for 50 features is 40,000 figures: an object each costs more than the
    query). None when some cell's deciding statistic carries no verdict: then
    :func:`_decision_rows` looks further, as alert rules do."""
    deciding = (DEFAULT_DECISION["categorical"], DEFAULT_DECISION["numeric"])
    raw, starts = series.point_tuples(
        endpoint,
        version=version,
        window=window,
        since=since,
        until=until,
        features=features,
        statistics=deciding,
    )
    times = sorted(set(starts.values()))
    index_of = {moment: index for index, moment in enumerate(times)}
    position = {stored: index_of[moment] for stored, moment in starts.items()}
    size = len(times)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    # Per cell, how the figure held ranks (_preferred): a verdict first, then cramers_v.
    held: dict[str, list[tuple[bool, int] | None]] = {}
    for start, feature, statistic, _status, value, threshold, verdict, rows in raw:
        drifted = None if verdict is None else bool(verdict)
        entry = found.get((feature, ""))
        if entry is None:
            entry = found[(feature, "")] = _empty_series(feature, statistic, size, True)
            held[feature] = [None] * size
        index = position[start]
        rank = (drifted is None, deciding.index(statistic))
        ranks = held[feature]
        current = ranks[index]
        if current is not None and current <= rank:
            continue
        ranks[index] = rank
        entry["values"][index] = value
        entry["thresholds"][index] = threshold
        entry["drifted"][index] = drifted
        entry["rows"][index] = rows
        entry["statistics"][index] = statistic
    for ranks in held.values():
        if any(rank is not None and rank[0] for rank in ranks):
            return None
    return times, found


def _bucket(entry: dict[str, Any], per: int) -> None:
    """Group ``per`` consecutive windows of a series into one: its most severe figure
    (how far past its threshold, as a multiple of it; p-value tests and figures without
    a threshold by verdict), drifted when any of the group drifted."""
    values, thresholds, verdicts = entry["values"], entry["thresholds"], entry["drifted"]
    size = len(values)
    entry["drifted_now"] = verdicts[-1] if verdicts else None
    names = entry.get("statistics") or [entry["statistic"]] * size
    value = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    limit = np.array([0.0 if x is None else x for x in thresholds], dtype=np.float64)
    drifted = np.array([v is True for v in verdicts], dtype=np.bool_)
    judged = np.array([v is not None for v in verdicts], dtype=np.bool_)
    by_verdict = np.array([n in P_VALUE_STATISTICS for n in names], dtype=np.bool_) | (limit == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = value / limit
    severity = np.where(by_verdict, np.where(drifted, SEVERITY_DRIFTED, SEVERITY_IN_RANGE), ratio)
    severity[np.isnan(value)] = -np.inf
    groups = -(-size // per)
    padded = np.full(groups * per, -np.inf)
    padded[:size] = severity
    # argmax takes the first of equal figures; an all-empty group keeps its first window.
    keep = (np.arange(groups) * per + padded.reshape(groups, per).argmax(axis=1)).tolist()
    fill = np.zeros(groups * per, dtype=np.bool_)
    fill[:size] = drifted
    any_drifted = [bool(v) for v in np.any(fill.reshape(groups, per), axis=1).tolist()]
    fill[:] = False
    fill[:size] = judged
    any_judged = [bool(v) for v in np.any(fill.reshape(groups, per), axis=1).tolist()]
    for key in ("values", "thresholds", "rows", "statistics"):
        if key in entry:
            entry[key] = [entry[key][i] for i in keep]
    entry["drifted"] = [d if j else None for d, j in zip(any_drifted, any_judged, strict=True)]


def _decision_rows(
    series: SeriesStore,
    endpoint: str,
    version: int,
    window: str,
    since: datetime | None,
    until: datetime | None,
    features: Collection[str] | None,
) -> list[PointRow]:
    """One row per (window, column): the deciding statistic's figure."""
    deciding = (DEFAULT_DECISION["categorical"], DEFAULT_DECISION["numeric"])
    rows = series.point_rows(
        endpoint,
        version=version,
        window=window,
        since=since,
        until=until,
        features=features,
        statistics=deciding,
    )
    chosen: dict[tuple[datetime, str], PointRow] = {}
    for row in rows:
        cell = (row.window_start, row.feature)
        held = chosen.get(cell)
        if held is None or _preferred(row, deciding) < _preferred(held, deciding):
            chosen[cell] = row
    undecided = [cell for cell, row in chosen.items() if row.drifted is None]
    if undecided:
        # Where the deciding statistic carries no verdict (too few rows for PSI's bins),
        # another statistic with a verdict decided (alerts and /metrics read it so too).
        others = series.point_rows(
            endpoint,
            version=version,
            window=window,
            since=min(start for start, _ in undecided) - timedelta(microseconds=1),
            until=max(start for start, _ in undecided) + timedelta(microseconds=1),
            features=sorted({feature for _, feature in undecided}),
            statistics=sorted(set(REGISTRY) - set(deciding)),
        )
        for row in sorted(others, key=lambda r: r.statistic):
            cell = (row.window_start, row.feature)
            held = chosen.get(cell)
            if held is not None and held.drifted is None and row.drifted is not None:
                chosen[cell] = row
    return list(chosen.values())


def _preferred(row: PointRow, deciding: tuple[str, str]) -> tuple[bool, int]:
    """Sort key of a cell's candidates: a verdict first, then cramers_v (stored for
    categorical columns only: where present, it decided), then psi."""
    return row.drifted is None, deciding.index(row.statistic)


def _empty_series(feature: str, statistic: str, size: int, decision: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "feature": feature,
        "statistic": statistic,
        "values": [None] * size,
        "thresholds": [None] * size,
        "drifted": [None] * size,
        "rows": [None] * size,
    }
    if decision:
        entry["statistics"] = [None] * size
    return entry


def _finish(entry: dict[str, Any]) -> dict[str, Any]:
    """Name the series' statistic and threshold in force (its newest); in decision mode
    keep ``statistics`` only where another statistic decided some windows."""
    thresholds = [t for t in entry["thresholds"] if t is not None]
    entry["threshold"] = thresholds[-1] if thresholds else None
    names = entry.pop("statistics", None)
    if names is not None:
        present = [name for name in names if name is not None]
        entry["statistic"] = max(set(present), key=present.count) if present else None
        if len(set(present)) > 1:
            entry["statistics"] = names
    return entry


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
