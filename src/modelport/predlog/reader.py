"""How every consumer reads the prediction log: one contract, whatever stores it.

Rollout analysis, monitoring reports and backfill, exports, ``logs tail``, blue-green
replays and feedback matching all read through :class:`PredictionLog`:

* :meth:`~PredictionLog.window` — the rows of a :class:`WindowSpec` (a time span, the
  newest N rows, or both) for some versions and roles, read column by column on demand;
* :meth:`~PredictionLog.read` — the same as one table of chosen columns;
* :meth:`~PredictionLog.follow` — a cursor that returns only rows written since its
  last read, each once however late it is written (rollout analysis every second,
  ``logs tail --follow``);
* :func:`join_labels` — the one join of logged rows with feedback labels.

Every implementation passes the same contract tests (``tests/predlog/test_reader_contract.py``).

>>> now = datetime(2026, 3, 1, 12, tzinfo=UTC)
>>> span = WindowSpec.of(window="1h", now=now)
>>> span.label, span.previous().since.isoformat()
('1h', '2026-03-01T10:00:00+00:00')
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.records import PredictionRecord
from modelport.vocabulary import parse_duration, parse_moment

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class WindowSpec:
    """Which rows: a time span ``[since, until)``, or the newest ``last`` rows (``skip``
    newer ones first), or both; ``label`` says how the user asked for it."""

    since: datetime | None = None
    until: datetime | None = None
    last: int | None = None
    skip: int = 0
    label: str = "all"

    @classmethod
    def of(
        cls,
        *,
        window: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        last: int | None = None,
        now: datetime | None = None,
    ) -> WindowSpec:
        """Validate what a user asked for; ``window`` and ``since`` exclude each other."""
        now = now or datetime.now(UTC)
        if window is not None and since is not None:
            raise ValidationFailed("give either window or since, not both", field="window")
        if last is not None and last < 1:
            raise ValidationFailed("last must be a positive number of rows", field="last")
        end = _moment(until, now, "until")
        if window is not None:
            size = parse_duration(window, field="window")
            end = end or now
            return cls(end - timedelta(seconds=size), end, last, 0, window.strip())
        start = _moment(since, now, "since")
        if start is not None and end is not None and start >= end:
            raise ValidationFailed("since must be before until", field="since")
        return cls(start, end, last, 0, _label(start, end, last))

    def previous(self) -> WindowSpec:
        """The window of the same size just before this one."""
        if self.last is not None:
            return replace(self, skip=self.skip + self.last, label=f"{self.last} rows before")
        if self.since is None:
            raise ValidationFailed(
                "a window without a start has no previous window; give window or since",
                field="baseline",
            )
        end = self.since
        size = (self.until or datetime.now(UTC)) - self.since
        return WindowSpec(end - size, end, None, 0, f"previous {self.label}")

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "last": self.last,
        }


@dataclass(frozen=True)
class SegmentKey:
    """One version of one log file: its path and what ``stat`` says of it. A file is
    never changed in place (a rewrite, e.g. erasing requests, renames a new file over
    it: a new inode and time), so what was computed from its rows may be kept under
    this key for as long as it is listed."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Segment:
    """One file's share of a window: ``key`` is None unless every row of the file is in
    the window (a part of a file is not worth keeping anything for)."""

    key: SegmentKey | None
    rows: int


class LogWindow(Protocol):
    """The rows of one window, whose columns are read on first use."""

    n_rows: int
    # Every column some selected segment holds.
    available: set[str]
    # Segments that could not be read: (path, why). Their rows are missing.
    skipped: list[tuple[str, str]]

    def column(self, name: str) -> pa.ChunkedArray | None: ...

    def numeric(self, name: str) -> FloatArray: ...

    def numeric_checked(self, name: str) -> tuple[FloatArray, int]: ...

    def text(self, name: str) -> pa.ChunkedArray: ...

    def prefetch(self, names: Iterable[str]) -> None: ...

    def table(self, columns: Sequence[str] | None = None) -> pa.Table: ...

    def segments(self) -> list[Segment]:
        """The window's files, oldest first, and how many of their rows it holds."""
        ...

    def read_segment(self, index: int, columns: Sequence[str]) -> pa.Table | None:
        """These columns (those the file has) of the window's rows of one file; None if
        its data cannot be read (the file is then listed in ``skipped``)."""
        ...


class LogCursor(Protocol):
    """Rows of one endpoint as they are written, read incrementally."""

    # Segments that could not be read: (path, why). Their rows are missing.
    skipped: list[tuple[str, str]]

    def read(self) -> pa.Table:
        """Rows written since the last ``read`` (each row once, however late it is
        written; in the order they were written)."""
        ...

    def rows(self) -> pa.Table:
        """Every row the cursor has returned, after reading what is new."""
        ...


class PredictionLog(Protocol):
    """A prediction log: written by the recorder, read by everyone else."""

    def write(self, records: Sequence[PredictionRecord]) -> int: ...

    def endpoints(self) -> list[str]: ...

    def window(
        self,
        endpoint: str,
        spec: WindowSpec | None = None,
        *,
        versions: Collection[int] | None = None,
        roles: Collection[str] | None = None,
        workers: int = 2,
    ) -> LogWindow:
        """The rows of ``spec`` (default: all) for these versions and roles (None: all)."""
        ...

    def read(
        self,
        endpoint: str,
        *,
        columns: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        version: int | None = None,
        role: str | None = None,
    ) -> pa.Table:
        """One table of ``columns`` (default: every column) over ``[since, until)``, the
        newest ``last`` rows of it, for one version and role; every asked-for column is
        there, typed, even when no row is."""
        ...

    def follow(
        self,
        endpoint: str,
        since: datetime | None = None,
        columns: Sequence[str] | None = None,
        *,
        roles: Collection[str] | None = None,
        last: int | None = None,
    ) -> LogCursor:
        """A cursor over the rows of ``ts >= since`` (the first read returns those
        logged so far), or, ``since`` None, over the rows written from now on (the first
        read adds the newest ``last`` rows logged before)."""
        ...

    def find_request_ids(self, request_ids: Iterable[str]) -> dict[str, str]:
        """Which of these request ids are logged, and under which endpoint."""
        ...


LABEL_COLUMNS = [col.LABEL, col.LABEL_VALUE, col.LABEL_RECEIVED_AT]
_POSITION = "__position"


def join_labels(predictions: pa.Table, labels: pa.Table, *, keep_unlabelled: bool) -> pa.Table:
    """Logged rows with their feedback labels (``label``, ``label_value``,
    ``label_received_at``), matched on ``(request_id, row)``.

    ``labels`` is what :meth:`FeedbackStore.labels` returns: one label per key, the one
    received last (a label sent again replaces the earlier one). ``keep_unlabelled``
    keeps rows without a label (their label columns null); otherwise only labelled rows
    remain. Rows come back in a stable order (time, request, row, then log order): a
    hash join's order varies between runs, and sums over rows would differ in their
    last bits between two identical reports.
    """
    labels = _label_table(labels)
    positions = pa.array(np.arange(predictions.num_rows, dtype=np.int64))
    probe = predictions.select(col.KEY).append_column(_POSITION, positions)
    how = "left outer" if keep_unlabelled else "inner"
    matched = probe.join(labels, keys=col.KEY, join_type=how)
    joined = predictions.take(matched[_POSITION])
    for name in LABEL_COLUMNS:
        joined = joined.append_column(name, matched[name])
    order = [name for name in (col.TS, *col.KEY) if name in predictions.column_names]
    keys = joined.select(order).append_column(_POSITION, matched[_POSITION])
    return joined.take(pc.sort_indices(keys, [(name, "ascending") for name in keys.column_names]))


def _label_table(labels: pa.Table) -> pa.Table:
    """The key and label columns of ``labels``, typed (absent ones as nulls)."""
    columns = {}
    for name in [*col.KEY, *LABEL_COLUMNS]:
        kind = col.column_type(name)
        if name in labels.column_names:
            columns[name] = pc.cast(labels[name], kind)
        else:
            columns[name] = pa.chunked_array([pa.nulls(labels.num_rows, kind)])
    return pa.table(columns)


def _moment(value: str | datetime | None, now: datetime, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_moment(value, now=now, field=field)


def _label(since: datetime | None, until: datetime | None, last: int | None) -> str:
    rows = f"last {last} rows" if last is not None else ""
    if since is None and until is None:
        return rows or "all"
    start = "" if since is None else since.isoformat()
    end = "" if until is None else until.isoformat()
    span = f"{start}..{end}"
    return f"{rows} of {span}" if rows else span
