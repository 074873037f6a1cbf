"""Checks a candidate passes before any request reaches it.

Refusals name what differs (input features, output kind, gates that cannot apply), and
a candidate that cannot be loaded and warmed up aborts its rollout with the primary
untouched.
"""

from __future__ import annotations

from modelport.errors import ArtifactError, ValidationFailed
from modelport.registry.flavors import Predictor
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.rollout.gates import METRICS, Gate
from modelport.serving.policies.hashing import StickyKey
from modelport.serving.runner import example_batch


def check_compatible(
    primary: ModelVersion, candidate: ModelVersion, gates: list[Gate], sticky_key: str | None
) -> None:
    differences = primary.input_schema.differences(candidate.input_schema)
    if differences:
        raise ValidationFailed(
            f"candidate {candidate.ref} takes different inputs than primary {primary.ref}: "
            + "; ".join(differences),
            field="version",
            differences=differences,
        )
    if primary.output.kind != candidate.output.kind:
        raise ValidationFailed(
            f"candidate {candidate.ref} is a {candidate.output.kind} model but primary "
            f"{primary.ref} is a {primary.output.kind} model",
            field="version",
            differences=[f"output kind: {primary.output.kind} != {candidate.output.kind}"],
        )
    for gate in gates:
        wanted = METRICS[gate.metric].kind if gate.metric in METRICS else None
        if wanted is not None and wanted != primary.output.kind:
            raise ValidationFailed(
                f"gate {gate.text!r} applies to {wanted} models; {primary.ref} is "
                f"{primary.output.kind}",
                field="gates",
            )
        if gate.metric == "accuracy" and primary.output.kind == "regression":
            raise ValidationFailed(
                f"gate {gate.text!r}: accuracy needs a classifier; use loss for regression",
                field="gates",
            )
    if sticky_key:
        StickyKey.parse(sticky_key).check(primary.input_schema)


def load_candidate(registry: Registry, primary: ModelVersion, candidate: ModelVersion) -> Predictor:
    """Load the candidate and make one call, as a server will before routing to it."""
    try:
        predictor = registry.load(candidate)
        predictor.predict(example_batch(primary.input_schema))
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ArtifactError(
            f"candidate {candidate.ref} failed to load: {type(exc).__name__}: {message}",
            field="version",
        ) from exc
    return predictor
