"""Windows of logged traffic: what a report reads and how the live series is cut.

A report looks at one window: the last hour (``window="1h"``), an explicit span
(``since``/``until``), the newest N rows (``last=50000``), or everything logged. Its
``previous()`` is the window of the same size just before, a comparison target when a
version has no reference data. The live series cuts traffic into tumbling windows of a
fixed size: by time, aligned to the epoch so that every server process puts a request
in the same window, or by count, per process.

>>> parse_window("15m"), parse_window("10000rows").rows
(WindowSize(seconds=900.0, rows=None, label='15m'), 10000)
>>> tumbling_start(7_300.0, 3_600.0)
7200.0
>>> now = datetime(2026, 3, 1, 12, tzinfo=UTC)
>>> spec = WindowSpec.of(window="1h", now=now)
>>> spec.label, spec.previous().since.isoformat()
('1h', '2026-03-01T10:00:00+00:00')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from modelport.errors import ValidationFailed

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_ROWS = re.compile(r"^(\d+)\s*rows?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class WindowSize:
    """A tumbling window's size: ``seconds`` or ``rows``, and how the user wrote it."""

    seconds: float | None
    rows: int | None
    label: str


def parse_duration(text: str, *, field: str = "window") -> float:
    """``30s``, ``15m``, ``1h``, ``7d``, ``2w`` in seconds."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValidationFailed(
            f"{field} must be a duration like 30s, 15m, 1h or 7d, got {text!r}", field=field
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_window(text: str, *, field: str = "window") -> WindowSize:
    """A duration, or a row count written ``10000rows``."""
    rows = _ROWS.match(text.strip())
    if rows:
        count = int(rows.group(1))
        if count < 1:
            raise ValidationFailed(f"{field} must hold at least one row", field=field)
        return WindowSize(None, count, text.strip())
    return WindowSize(parse_duration(text, field=field), None, text.strip())


def parse_time(text: str, *, now: datetime, field: str) -> datetime:
    """``1h``/``7d`` ago, or an ISO timestamp (UTC unless it names a zone)."""
    if _DURATION.match(text.strip()):
        return now - timedelta(seconds=parse_duration(text, field=field))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a duration like 1h or 7d, or an ISO time, got {text!r}", field=field
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tumbling_start(ts: float, seconds: float) -> float:
    """Start of the epoch-aligned window of ``seconds`` holding ``ts``."""
    return math.floor(ts / seconds) * seconds


@dataclass(frozen=True)
class WindowSpec:
    """The rows a report reads: a time span, or the newest ``last`` rows (``skip`` newer
    ones first), or both."""

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
            size = parse_duration(window)
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


def _moment(value: str | datetime | None, now: datetime, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_time(value, now=now, field=field)


def _label(since: datetime | None, until: datetime | None, last: int | None) -> str:
    rows = f"last {last} rows" if last is not None else ""
    if since is None and until is None:
        return rows or "all"
    start = "" if since is None else since.isoformat()
    end = "" if until is None else until.isoformat()
    span = f"{start}..{end}"
    return f"{rows} of {span}" if rows else span
