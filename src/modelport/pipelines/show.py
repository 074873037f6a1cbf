"""What ``endpoints show`` says of a pipeline, read from the control plane alone."""

from __future__ import annotations

from typing import Any

from modelport.errors import ModelportError
from modelport.pipelines.spec import parse_pipeline, step_endpoint, wire
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.records import ModelVersion


def pipeline_steps(store: EndpointStore, endpoint: Endpoint) -> dict[str, Any]:
    """Every step: its endpoint, the version it serves now, its inputs' sources (mapped,
    or ``request.<name>``), condition and default, and the strategy of a rollout in
    progress on it; and the request the pipeline takes."""
    assert endpoint.pipeline is not None
    spec = parse_pipeline(endpoint.pipeline)
    steps: list[dict[str, Any]] = []
    versions: list[ModelVersion] = []
    for step in spec.steps:
        served = store.get(step_endpoint(endpoint.name, step.name))
        entry: dict[str, Any] = {
            **step.to_dict(),
            "endpoint": served.name,
            "model": served.model,
            "version": served.primary_version,
            "strategy": served.policy.get("strategy", "primary"),
        }
        if served.follows is not None:
            entry["follows"] = served.follows
        if isinstance(served.policy.get("rollout"), int):
            entry["rollout"] = served.policy["rollout"]
        steps.append(entry)
        try:
            versions.append(store.registry.get(served.model, served.primary_version))
        except ModelportError:
            pass
    body: dict[str, Any] = {"steps": steps}
    if len(versions) == len(spec.steps):
        try:
            wiring = wire(spec, versions)
        except ModelportError as exc:
            body["error"] = exc.message
        else:
            for entry, sources in zip(steps, wiring.sources, strict=True):
                entry["inputs"] = {name: source.text for name, source in sources.items()}
            body["request"] = [f.model_dump(exclude_defaults=True) for f in wiring.request.features]
    return body
