"""What a retrain is asked to do and what it answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

# The stages a retrain reports progress for, in order.
Stage = Literal["gathering", "training", "evaluating", "registering", "rolling out"]
# Called with the stage and, where known, the fraction of it done (0..1).
Progress = Callable[[Stage, float | None], None]

DEFAULT_SINCE = timedelta(days=30)
DEFAULT_MIN_LABELS = 500
DEFAULT_HOLDOUT = 0.2
# The rollout options a retrain may set (the strategy is always shadow-then-canary).
ROLLOUT_OPTIONS = (
    "sample",
    "steps",
    "step_every",
    "step_after",
    "shadow_for",
    "sticky_key",
    "gates",
    "min_samples",
    "alpha",
)


@dataclass(frozen=True)
class RetrainRequest:
    endpoint: str
    # ``module:function(features: DataFrame, labels: Series, context) -> model``
    trainer: str
    since: timedelta = DEFAULT_SINCE
    with_reference: bool = False
    min_labels: int = DEFAULT_MIN_LABELS
    holdout: float = DEFAULT_HOLDOUT
    # "time": the newest rows are the holdout; "random": a seeded random share.
    split: Literal["time", "random"] = "time"
    rollout: bool = True
    actor: str = "cli"
    reason: str = ""
    # Extra lineage keys (a policy's name and attempt number, say).
    extra_lineage: dict[str, Any] = field(default_factory=dict)
    # How the new version is rolled out (the options of ``rollout start``, among
    # ROLLOUT_OPTIONS); always shadow then canary, never straight to primary.
    rollout_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrainOutcome:
    endpoint: str
    model: str
    version: int  # the new version
    parent: int
    lineage: dict[str, Any]
    rollout_id: int | None  # the rollout started (None with --no-rollout)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "version": self.version,
            "parent": self.parent,
            "lineage": self.lineage,
            "rollout_id": self.rollout_id,
            "seconds": round(self.seconds, 3),
        }
