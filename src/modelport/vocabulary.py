"""Words every plane shares, typed once: roles, strategies, phases, statuses, durations,
and the event a listener receives for each answered request.

The enums are ``StrEnum``: a member *is* its string, so the log, the database and JSON
keep the very spelling they always had (``Role.PRIMARY == "primary"``).

One duration grammar serves every option that takes a time: a number and a unit
``ms s m h d w`` (a bare number is seconds), and where a count makes sense,
``2000req`` or ``10000rows``.

>>> parse_duration("10m"), parse_duration("250ms"), parse_duration("2w"), parse_duration(5)
(600.0, 0.25, 1209600.0, 5.0)
>>> parse_count("2000req", "req"), parse_count("10000rows", "rows")
(2000, 10000)
>>> parse_duration("ten minutes", field="step_every")
Traceback (most recent call last):
...
modelport.errors.ValidationFailed: step_every must be a duration like 30s, 15m, 1h or 7d, \
got 'ten minutes'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from modelport.errors import ValidationFailed

if TYPE_CHECKING:
    from modelport.batch import Batch, Prediction
    from modelport.registry.records import ModelVersion


class Role(StrEnum):
    """Why a row is in the prediction log."""

    PRIMARY = "primary"  # the endpoint's primary answered the caller
    SHADOW = "shadow"  # a candidate's background copy of a primary request
    CANARY = "canary"  # a candidate answered the caller
    BASELINE = "baseline"  # the primary's background copy of a canary request
    STANDBY = "standby"  # blue-green: the colour kept loaded, not answering
    BATCH = "batch"  # scored from a file, not a live request
    REPLAY = "replay"  # logged requests sent again (smoke tests)


# Rows that answered a caller; mirrors (shadow, baseline) repeat the same features.
SERVED_ROLES: tuple[Role, ...] = (Role.PRIMARY, Role.CANARY)
# Background copies: they run after the answer left and never change it.
MIRROR_ROLES: tuple[Role, ...] = (Role.SHADOW, Role.BASELINE)


class Strategy(StrEnum):
    """How an endpoint routes its traffic (its traffic policy)."""

    PRIMARY = "primary"
    SHADOW = "shadow"
    CANARY = "canary"
    BLUE_GREEN = "blue-green"


class RolloutStrategy(StrEnum):
    """What a user asks a rollout to do."""

    SHADOW = "shadow"
    CANARY = "canary"
    BLUE_GREEN = "blue-green"
    SHADOW_THEN_CANARY = "shadow-then-canary"


class Phase(StrEnum):
    """Where a rollout is."""

    SHADOW = "shadow"
    CANARY = "canary"
    BLUE_GREEN = "blue-green"


class RolloutStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled-back"
    ABORTED = "aborted"


LIVE_STATUSES: tuple[RolloutStatus, ...] = (RolloutStatus.ACTIVE, RolloutStatus.PAUSED)
FINAL_STATUSES: tuple[RolloutStatus, ...] = (
    RolloutStatus.PROMOTED,
    RolloutStatus.ROLLED_BACK,
    RolloutStatus.ABORTED,
)

# -- durations and counts -------------------------------------------------------------
UNITS: Mapping[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
MAX_DURATION_S = 100 * 365 * 86400.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")
CountUnit = Literal["req", "rows"]
_COUNTS: Mapping[str, re.Pattern[str]] = {
    "req": re.compile(r"^(\d+)\s*(?:req|reqs|requests?)$"),
    "rows": re.compile(r"^(\d+)\s*rows?$"),
}


def is_duration(text: str) -> bool:
    """Whether ``text`` is written in the duration grammar.

    >>> is_duration("15m"), is_duration("15"), is_duration("2026-01-01")
    (True, True, False)
    """
    return _DURATION.match(text.strip().lower()) is not None


def parse_duration(value: str | float, *, field: str = "duration") -> float:
    """Seconds of ``value``: ``"250ms"``, ``"30s"``, ``"10m"``, ``"1h"``, ``"7d"``, ``"2w"``,
    or a plain number of seconds; it must be longer than 0."""
    if isinstance(value, bool):
        raise _not_a_duration(field, value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif not isinstance(value, str):
        raise _not_a_duration(field, value)
    else:
        match = _DURATION.match(value.strip().lower())
        if match is None:
            raise _not_a_duration(field, value)
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValidationFailed(f"{field} must be longer than 0", field=field)
    if seconds > MAX_DURATION_S:
        # Beyond this, "now minus the duration" leaves the calendar (OverflowError).
        raise ValidationFailed(f"{field} must be at most 100 years", field=field)
    return seconds


def _not_a_duration(field: str, value: object) -> ValidationFailed:
    return ValidationFailed(
        f"{field} must be a duration like 30s, 15m, 1h or 7d, got {value!r}", field=field
    )


def is_count(text: str, unit: CountUnit) -> bool:
    """Whether ``text`` is a count in ``unit`` (``"2000req"``, ``"10000rows"``)."""
    return _COUNTS[unit].match(text.strip().lower()) is not None


def parse_count(value: str | int, unit: CountUnit, *, field: str = "count") -> int:
    """A positive count written ``2000req`` / ``10000rows`` (or a plain whole number)."""
    example = f"2000{unit}"
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a count like {example}", field=field)
    if isinstance(value, int):
        count = value
    elif not isinstance(value, str):
        # JSON numbers too large for 64 bits arrive as floats.
        raise ValidationFailed(
            f"{field} must be a count like {example}, got {value!r}", field=field
        )
    else:
        text = value.strip().lower()
        match = _COUNTS[unit].match(text) or re.match(r"^(\d+)$", text)
        if match is None:
            raise ValidationFailed(
                f"{field} must be a count like {example}, got {value!r}", field=field
            )
        count = int(match.group(1))
    if count < 1:
        raise ValidationFailed(f"{field} must be at least 1", field=field)
    return count


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_moment(text: str, *, now: datetime | None = None, field: str = "since") -> datetime:
    """A duration ago (``1h``, ``7d``) or an ISO time (UTC unless it names a zone).

    >>> parse_moment("2026-01-02T03:04:05").isoformat()
    '2026-01-02T03:04:05+00:00'
    >>> now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    >>> parse_moment("90m", now=now).isoformat()
    '2026-03-01T10:30:00+00:00'
    """
    now = now or datetime.now(UTC)
    if is_duration(text):
        return now - timedelta(seconds=parse_duration(text, field=field))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a duration like 1h or 7d, or an ISO time, got {text!r}",
            field=field,
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # Far-off times overflow the calendar as soon as a day is added or a zone removed.
    try:
        in_range = EARLIEST <= moment.astimezone(UTC) <= LATEST
    except (OverflowError, ValueError):
        in_range = False
    if not in_range:
        raise ValidationFailed(
            f"{field} must lie between {EARLIEST.year} and {LATEST.year}, got {text!r}",
            field=field,
        )
    return moment


# -- what listeners receive -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PredictionEvent:
    """One answered request, as the data plane hands it to its caller and listeners.

    ``prediction`` is the very array the model produced (no copy); ``batch`` is what the
    model saw, or on an endpoint with privacy rules the view monitoring may see (hashed,
    redacted and dropped features as missing); ``arrived`` is when the request arrived,
    in seconds since the epoch.
    """

    request_id: str
    endpoint: str
    version: ModelVersion
    role: Role
    batch: Batch
    prediction: Prediction
    latency_ms: float
    arrived: float
    headers: Mapping[str, str] = field(default_factory=dict)
    # A pipeline's answer: every step's (``pipelines/serve.py``), in step order.
    steps: Sequence[Any] = ()
    # The request's rows the batch holds when not all of them (a pipeline step some
    # rows skipped).
    row_index: Any = None

    @property
    def rows(self) -> int:
        return self.batch.n_rows

    @property
    def span(self) -> int:
        """Rows of the request the event spans (its highest row, plus one)."""
        if self.row_index is not None and len(self.row_index):
            return int(self.row_index[-1]) + 1
        return self.batch.n_rows
