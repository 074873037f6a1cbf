"""The figures of one version's newest live window, as alert rules read them.

The collector stores, for every window of every version, points (drift per statistic
and column, quality rates, ``__dataset__`` and ``__performance__`` figures; see
:mod:`modelport.monitoring.live.evaluate`) computed from the merged counts of every
server process, and each process's counts themselves. :func:`read_window` finds the
newest window of a version that started before the evaluation time and reads its
points with one query; the merged counts (needed only for class shares) are read on
first use.

>>> figures = WindowFigures(None, {})
>>> figures.statistic("tenure", "psi"), figures.class_share("yes", ["no", "yes"])
((None, None), (None, None))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from modelport.monitoring.live.evaluate import DATASET, PERFORMANCE
from modelport.monitoring.live.queries import merged_state
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.monitoring.live.state import WindowState
from modelport.monitoring.stats.registry import DEFAULT_DECISION, REGISTRY
from modelport.predlog import columns as col

# A figure and the number of rows (or labels) it rests on.
Figure = tuple[float | None, int | None]
NO_FIGURE: Figure = (None, None)

# Rule metric -> the statistic of a stored quality point.
QUALITY = {
    "quality.missing_rate": "missing_rate",
    "quality.out_of_range_rate": "out_of_range_rate",
    "quality.unseen_categories": "unseen_rate",
}
# Rule metric -> the stored performance statistics, first one present wins (F1 of the
# positive class for two classes, the macro average otherwise).
PERFORMANCE_NAMES = {
    "performance.accuracy": ("accuracy",),
    "performance.f1": ("f1", "macro_f1"),
    "performance.log_loss": ("log_loss",),
    "performance.mae": ("mae",),
}


class WindowFigures:
    """The points of one window by ``(feature, statistic)``; ``key`` None: no window
    stored yet (every figure is then None)."""

    def __init__(
        self,
        key: WindowKey | None,
        points: dict[tuple[str, str], dict[str, Any]],
        state: Callable[[], WindowState | None] | None = None,
    ) -> None:
        self.key = key
        self.points = points
        self._state = state

    def statistic(self, feature: str, statistic: str) -> Figure:
        """A drift statistic or quality rate of a column, on the rows it was judged on."""
        point = self.points.get((feature, statistic))
        if point is None or point["status"] != "ok":
            return NO_FIGURE
        return _number(point["value"]), int(point["rows"])

    def decision(self, feature: str) -> Figure:
        """1 when the feature's deciding statistic says it drifted, 0 when not."""
        # cramers_v applies to categorical columns only, so where it was stored it decided.
        for kind in ("categorical", "numeric"):
            point = self.points.get((feature, DEFAULT_DECISION[kind]))
            if point is not None and point["drifted"] is not None:
                return (1.0 if point["drifted"] else 0.0), int(point["rows"])
        # A configured or calibrated decision may rest on another statistic (ks, say, where
        # PSI has no bins): the one statistic of the feature that carries a verdict decided.
        for (name, statistic), point in sorted(self.points.items()):
            if name == feature and statistic in REGISTRY and point["drifted"] is not None:
                return (1.0 if point["drifted"] else 0.0), int(point["rows"])
        return NO_FIGURE

    def schema_violations(self) -> Figure:
        """Requests the API refused while this window was open."""
        refused = self.points.get((DATASET, "invalid_requests"))
        if refused is None:
            return NO_FIGURE
        return _number(refused["value"]), int(refused["rows"])

    def performance(self, metric: str) -> Figure:
        """A performance metric of the window's labelled predictions; samples: labels."""
        labelled = self.points.get((PERFORMANCE, "labelled"))
        if labelled is None:
            return NO_FIGURE
        count = int(labelled["value"] or 0)
        for name in PERFORMANCE_NAMES[metric]:
            point = self.points.get((PERFORMANCE, name))
            if point is not None and point["value"] is not None:
                return _number(point["value"]), count
        return None, count

    def class_share(self, label: str, classes: Sequence[str]) -> Figure:
        """Share of the window's predictions that are ``label``, among those with one."""
        state = self.state
        counts = None if state is None else state.columns.get(col.SERIES_PREDICTION)
        if counts is None or counts.kind_ != "categorical":
            return NO_FIGURE
        present = counts.n_ - counts.missing_
        if present == 0:
            return None, 0
        if label in counts.categories_:
            found = int(counts.counts_[counts.categories_.index(label)])
        else:
            # Outputs the reference never predicted share one "unseen" bucket: it is this
            # class's only when no other class is missing from the reference.
            unknown = [name for name in classes if name not in counts.categories_]
            if unknown != [label]:
                return None, present
            found = counts.unseen_
        return found / present, present

    @functools.cached_property
    def state(self) -> WindowState | None:
        """Every process's counts of the window, merged (read once)."""
        return None if self._state is None else self._state()


def read_window(
    series: SeriesStore, endpoint: str, version: int, window: str, at: datetime
) -> WindowFigures:
    """The newest ``window``-sized window of ``endpoint`` ``version`` that started
    before ``at``, with its points."""
    start = series.latest_start(endpoint, version, window, before=at)
    if start is None:
        return WindowFigures(None, {})
    key = WindowKey(endpoint, version, window, start, start)
    found = series.points(
        endpoint, version=version, since=start, until=start + timedelta(microseconds=1)
    )
    points = {
        (point["feature"], point["statistic"]): point
        for point in found
        if point["window"] == window and datetime.fromisoformat(point["window_start"]) == start
    }
    return WindowFigures(key, points, lambda: merged_state(series, key))


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if number == number else None


__all__ = ["NO_FIGURE", "Figure", "WindowFigures", "read_window"]
