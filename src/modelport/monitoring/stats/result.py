"""What every statistic returns: a value, maybe a p-value, and a verdict or a reason for none.

A statistic asked about too few rows answers ``status="not_enough_data"`` with a message
such as ``"not enough data (n=120, need 500)"`` instead of a NaN or an exception, so a
dashboard can show why a feature has no verdict yet.

>>> not_enough_data("psi", n_reference=10_000, n_current=120, need=500).message
'not enough data (n=120, need 500)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "not_enough_data"]


@dataclass(frozen=True, slots=True)
class Measurement:
    """The raw output of one statistic before thresholds are applied."""

    statistic: float
    p_value: float | None = None
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatResult:
    """One statistic on one feature.

    ``drifted`` compares ``statistic`` (distances) or ``p_value`` (tests) with
    ``threshold``; it is ``None`` when ``status`` is ``"not_enough_data"``.
    """

    name: str
    status: Status
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    n_reference: int = 0
    n_current: int = 0
    message: str = ""
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_enough_data(name: str, n_reference: int, n_current: int, need: int) -> StatResult:
    """The result of a statistic that was given fewer rows than it needs."""
    n = n_current if n_current < need else n_reference
    side = "" if n_current < need else "reference "
    return StatResult(
        name=name,
        status="not_enough_data",
        n_reference=n_reference,
        n_current=n_current,
        message=f"not enough {side}data (n={n}, need {need})",
    )
