"""How the live series cuts traffic: tumbling windows of a fixed size, by time, aligned to
the epoch so that every server process puts a request in the same window, or by count,
per process. Sizes are written in the duration grammar of :mod:`modelport.vocabulary`,
or as a row count ``10000rows``.

>>> parse_window("15m"), parse_window("10000rows").rows
(WindowSize(seconds=900.0, rows=None, label='15m'), 10000)
>>> tumbling_start(7_300.0, 3_600.0)
7200.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelport.vocabulary import is_count, parse_count, parse_duration


@dataclass(frozen=True)
class WindowSize:
    """A tumbling window's size: ``seconds`` or ``rows``, and how the user wrote it."""

    seconds: float | None
    rows: int | None
    label: str


def parse_window(text: str, *, field: str = "window") -> WindowSize:
    """A duration, or a row count written ``10000rows``."""
    if is_count(text, "rows"):
        return WindowSize(None, parse_count(text, "rows", field=field), text.strip())
    return WindowSize(parse_duration(text, field=field), None, text.strip())


def tumbling_start(ts: float, seconds: float) -> float:
    """Start of the epoch-aligned window of ``seconds`` holding ``ts``."""
    return math.floor(ts / seconds) * seconds
