"""What a user asks for when starting a rollout, validated once for CLI and HTTP alike.

The spec is stored as JSON with the rollout, so a restarted server continues with
exactly the steps, gates and thresholds it was started with.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from modelport.errors import ValidationFailed
from modelport.names import check_name
from modelport.rollout.gates import DEFAULT_GATES, Gate, parse_gates
from modelport.serving.policies.hashing import StickyKey
from modelport.vocabulary import RolloutStrategy, is_count, parse_count, parse_duration

STRATEGIES = tuple(RolloutStrategy)
DEFAULT_STEPS = [5, 25, 50, 100]
DEFAULT_STEP_EVERY_S = 600.0


def parse_steps(value: str | list[Any]) -> list[int]:
    """``"5,25,50,100"`` -> [5, 25, 50, 100]; strictly increasing, each within 1..100.

    >>> parse_steps("5,25,50,100")
    [5, 25, 50, 100]
    >>> parse_steps("50,25")
    Traceback (most recent call last):
    ...
    modelport.errors.ValidationFailed: steps must increase: 25 follows 50
    """
    if not isinstance(value, str | list):
        raise ValidationFailed("steps must be a list or a string like 5,25,50,100", field="steps")
    parts = value.split(",") if isinstance(value, str) else list(value)
    steps: list[int] = []
    for part in parts:
        try:
            number = float(str(part).strip().rstrip("%"))
        except ValueError:
            raise ValidationFailed(f"step {part!r} is not a number", field="steps") from None
        if not number.is_integer() or not 0 < number <= 100:
            raise ValidationFailed(
                f"step {part!r} must be a whole percentage above 0 and at most 100",
                field="steps",
            )
        if steps and number <= steps[-1]:
            raise ValidationFailed(
                f"steps must increase: {int(number)} follows {steps[-1]}", field="steps"
            )
        steps.append(int(number))
    if not steps:
        raise ValidationFailed("give at least one step, e.g. 5,25,50,100", field="steps")
    return steps


@dataclass
class RolloutSpec:
    strategy: str = "shadow-then-canary"
    # Shadow: share of primary requests copied to the candidate.
    sample: float = 1.0
    steps: list[int] = field(default_factory=lambda: list(DEFAULT_STEPS))
    # A step (and the shadow phase of shadow-then-canary) ends after this much time ...
    step_every_s: float | None = None
    # ... or after this many requests to the endpoint; then the gates decide.
    step_after_requests: int | None = None
    shadow_for_s: float | None = None
    shadow_for_requests: int | None = None
    sticky_key: str | None = None
    gates: list[str] = field(default_factory=list)
    # Fewer observations than this per gate and the gate says "inconclusive", whatever.
    min_samples: int = 100
    # Chance of any wrong verdict in one step, split evenly over the gates.
    alpha: float = 0.05
    smoke: int = 200
    smoke_agreement: float | None = None
    keep_blue_s: float = 1800.0
    # Salt of the sticky hash: fixed for the rollout's life, fresh for the next rollout.
    salt: str = ""

    @property
    def parsed_gates(self) -> list[Gate]:
        return parse_gates(self.gates)

    @property
    def canary(self) -> bool:
        return self.strategy in (RolloutStrategy.CANARY, RolloutStrategy.SHADOW_THEN_CANARY)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class CandidateChoice:
    """The candidate the options name: a version number, an alias of the endpoint's model
    (resolved when the rollout starts), or neither (the newest version not archived)."""

    version: int | None = None
    alias: str | None = None
    # The option that named it, for errors: "version" (``@challenger``) or "alias".
    field: str = "version"


def choose_candidate(options: dict[str, Any]) -> CandidateChoice:
    """``version`` (a number or ``"@challenger"``) or ``alias`` (``"challenger"``) into a
    choice; 422 naming the option on mistakes.

    >>> choose_candidate({"version": "@challenger"})
    CandidateChoice(version=None, alias='challenger', field='version')
    >>> choose_candidate({"alias": "champion"}).alias
    'champion'
    """
    version, alias = options.get("version"), options.get("alias")
    if alias is not None:
        if version is not None:
            raise ValidationFailed("give either version or alias, not both", field="alias")
        if not isinstance(alias, str):
            raise ValidationFailed("alias must be an alias name, e.g. challenger", field="alias")
        named = check_name("alias", alias.removeprefix("@"), field="alias")
        return CandidateChoice(alias=named, field="alias")
    if isinstance(version, str) and version.startswith("@"):
        return CandidateChoice(alias=check_name("alias", version[1:], field="version"))
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ValidationFailed(
            "version must be a version number or an alias such as @challenger", field="version"
        )
    return CandidateChoice(version=version)


def build_spec(options: dict[str, Any]) -> RolloutSpec:
    """Validate user options (CLI flags or the HTTP body) into a spec; 422 on mistakes."""
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise ValidationFailed(
            f"unknown rollout option(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0]
        )
    spec = RolloutSpec(salt=uuid.uuid4().hex[:16])
    strategy = options.get("strategy") or spec.strategy
    if strategy not in STRATEGIES:
        raise ValidationFailed(
            f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}",
            field="strategy",
        )
    spec.strategy = str(strategy)
    if options.get("sample") is not None:
        spec.sample = _number(options["sample"], "sample")
        if not 0.0 < spec.sample <= 1.0:
            raise ValidationFailed("sample must be above 0 and at most 1", field="sample")
    if options.get("steps") is not None:
        spec.steps = parse_steps(options["steps"])
    if options.get("step_every") is not None:
        spec.step_every_s = parse_duration(options["step_every"], field="step_every")
    if options.get("step_after") is not None:
        spec.step_after_requests = parse_count(options["step_after"], "req", field="step_after")
    if spec.step_every_s is not None and spec.step_after_requests is not None:
        raise ValidationFailed("give either step_every or step_after, not both", field="step_after")
    if spec.step_every_s is None and spec.step_after_requests is None:
        spec.step_every_s = DEFAULT_STEP_EVERY_S
    shadow_for = options.get("shadow_for")
    if shadow_for is not None:
        if isinstance(shadow_for, str) and is_count(shadow_for, "req"):
            spec.shadow_for_requests = parse_count(shadow_for, "req", field="shadow_for")
        else:
            spec.shadow_for_s = parse_duration(shadow_for, field="shadow_for")
    else:
        spec.shadow_for_s, spec.shadow_for_requests = spec.step_every_s, spec.step_after_requests
    if options.get("sticky_key"):
        spec.sticky_key = str(StickyKey.parse(str(options["sticky_key"])))
    gates = options.get("gates")
    if gates is not None and not isinstance(gates, list):
        raise ValidationFailed("gates must be a list of strings", field="gates")
    spec.gates = [str(g) for g in gates] if gates else list(DEFAULT_GATES)
    parse_gates(spec.gates)
    if options.get("min_samples") is not None:
        spec.min_samples = int(_number(options["min_samples"], "min_samples"))
        if spec.min_samples < 10:
            raise ValidationFailed(
                "min_samples below 10 would let noise decide; use at least 10",
                field="min_samples",
            )
    if options.get("alpha") is not None:
        spec.alpha = _number(options["alpha"], "alpha")
        if not 0.0 < spec.alpha < 0.5:
            raise ValidationFailed("alpha must be between 0 and 0.5", field="alpha")
    if options.get("smoke") is not None:
        spec.smoke = int(_number(options["smoke"], "smoke"))
        if spec.smoke < 0:
            raise ValidationFailed("smoke must be 0 or more requests", field="smoke")
    if options.get("smoke_agreement") is not None:
        spec.smoke_agreement = _number(options["smoke_agreement"], "smoke_agreement")
        if not 0.0 <= spec.smoke_agreement <= 1.0:
            raise ValidationFailed("smoke_agreement must be within 0..1", field="smoke_agreement")
    if options.get("keep_blue") is not None:
        spec.keep_blue_s = parse_duration(options["keep_blue"], field="keep_blue")
    return spec


_OPTION_NAMES = {
    "strategy",
    "version",
    "alias",
    "sample",
    "steps",
    "step_every",
    "step_after",
    "shadow_for",
    "sticky_key",
    "gates",
    "min_samples",
    "alpha",
    "smoke",
    "smoke_agreement",
    "keep_blue",
    "reason",
}


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a number", field=field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be a number, got {value!r}", field=field) from None
    if not math.isfinite(number):
        raise ValidationFailed(f"{field} must be finite", field=field)
    return number
