"""A pipeline: several registered versions behind one endpoint, as a chain of steps.

Written as TOML (``[[step]]`` tables) or JSON (``{"steps": [...]}``)::

    [[step]]
    name = "detect"
    model = "activity:2"

    [[step]]
    name = "scorer"
    model = "churn:3"
    inputs = { activity = "detect.prediction", activity_p = "detect.proba.1" }
    when = "detect.prediction == 1"     # rows for which it is false skip the step...
    default = 0                         # ...and answer this

Each input of a step's model comes from a *source*: ``request.<field>`` (the caller's
request), ``<step>.prediction`` or ``<step>.proba.<class>`` of an earlier step. An input
not mapped reads ``request.<its own name>``, so a first step needs no mapping at all.

:func:`parse_pipeline` checks the shape alone; :func:`wire` checks it against the
versions each step serves (every mapped input exists and has a compatible type, every
condition reads something that exists) and derives the pipeline's request schema.
Every step is served as an endpoint of its own named ``<pipeline>.<step>``
(:func:`step_endpoint`), so it is logged, monitored and rolled out like any endpoint.

>>> spec = parse_pipeline({"steps": [{"name": "a", "model": "m:1"},
...     {"name": "b", "model": "n:2", "inputs": {"x": "a.proba.1"}}]})
>>> [s.name for s in spec.steps], spec.steps[1].inputs["x"]
(['a', 'b'], Source(text='a.proba.1', kind='proba', step='a', name='1'))
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelport.errors import ValidationFailed
from modelport.pipelines.condition import Condition, parse_condition
from modelport.registry.endpoints import PipelineStep
from modelport.registry.records import ModelRef, ModelVersion, parse_model_ref
from modelport.schema import FeatureSpec, InputSchema, OutputSpec, label_text

if TYPE_CHECKING:
    from modelport.registry.endpoints import Endpoint, EndpointStore
    from modelport.registry.service import Registry

STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,30}")
MAX_STEPS = 16
SourceKind = Literal["request", "prediction", "proba"]
Default = str | int | float | bool
_STEP_KEYS = {"name", "model", "inputs", "when", "default"}


@dataclass(frozen=True)
class Source:
    """Where one input of a step comes from."""

    text: str
    kind: SourceKind
    # The earlier step read (None: the request).
    step: str | None
    # The request field, or the class of a probability ("" for a prediction).
    name: str


def parse_source(text: object, *, field: str) -> Source:
    """``request.tenure``, ``detect.prediction`` or ``detect.proba.1``.

    >>> parse_source("request.tenure", field="f").kind
    'request'
    """
    if not isinstance(text, str) or "." not in text:
        raise ValidationFailed(
            f"{field} must be 'request.<field>', '<step>.prediction' or '<step>.proba.<class>'"
            f", not {json.dumps(text)}",
            field=field,
        )
    head, _, rest = text.partition(".")
    if head == "request":
        if not rest:
            raise ValidationFailed(f"{field}: {text!r} names no request field", field=field)
        return Source(text, "request", None, rest)
    if STEP_NAME.fullmatch(head) is None:
        raise ValidationFailed(f"{field}: {head!r} is not a step name", field=field)
    if rest == "prediction":
        return Source(text, "prediction", head, "")
    kind, _, label = rest.partition(".")
    if kind == "proba" and label:
        return Source(text, "proba", head, label)
    raise ValidationFailed(
        f"{field}: a step's output is '{head}.prediction' or '{head}.proba.<class>', not {text!r}",
        field=field,
    )


@dataclass(frozen=True)
class StepSpec:
    name: str
    model: ModelRef
    # Declared mappings only: the model's input name -> its source.
    inputs: dict[str, Source] = field(default_factory=dict)
    when: Condition | None = None
    # What a row that skips the step answers (required with ``when``).
    default: Default | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "model": str(self.model)}
        if self.inputs:
            body["inputs"] = {name: source.text for name, source in self.inputs.items()}
        if self.when is not None:
            body["when"] = self.when.text
        if self.default is not None:
            body["default"] = self.default
        return body


@dataclass(frozen=True)
class PipelineSpec:
    steps: tuple[StepSpec, ...]

    @property
    def names(self) -> list[str]:
        return [step.name for step in self.steps]

    @property
    def final(self) -> StepSpec:
        return self.steps[-1]

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [step.to_dict() for step in self.steps]}


def step_endpoint(pipeline: str, step: str) -> str:
    """The endpoint that serves one step: ``intake.scorer``."""
    return f"{pipeline}.{step}"


def parse_pipeline(payload: Any, *, field: str = "pipeline") -> PipelineSpec:
    """The shape of a pipeline (``{"steps": [...]}`` or TOML's ``{"step": [...]}``),
    every error naming its field; the registry is not consulted."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed(f"{field} must be an object with a 'steps' list", field=field)
    unknown = set(payload) - {"steps", "step"}
    if unknown:
        raise ValidationFailed(
            f"{field} has unknown key(s) {sorted(unknown)}; it holds only 'steps'", field=field
        )
    key = "steps" if "steps" in payload else "step"
    raw = payload.get(key)
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed(f"{field}.steps must be a non-empty list", field=f"{field}.steps")
    if len(raw) > MAX_STEPS:
        raise ValidationFailed(
            f"{field}.steps has {len(raw)} steps; at most {MAX_STEPS}", field=f"{field}.steps"
        )
    steps: list[StepSpec] = []
    for index, item in enumerate(raw):
        step = _parse_step(item, f"{field}.steps[{index}]")
        if step.name in {s.name for s in steps}:
            raise ValidationFailed(
                f"{field}.steps[{index}].name {step.name!r} is used by an earlier step",
                field=f"{field}.steps[{index}].name",
            )
        steps.append(step)
    return PipelineSpec(tuple(steps))


def _parse_step(item: Any, where: str) -> StepSpec:
    if not isinstance(item, Mapping):
        raise ValidationFailed(f"{where} must be an object", field=where)
    unknown = set(item) - _STEP_KEYS
    if unknown:
        raise ValidationFailed(
            f"{where} has unknown key(s) {sorted(unknown)}; a step has {sorted(_STEP_KEYS)}",
            field=f"{where}.{sorted(unknown)[0]}",
        )
    name = item.get("name")
    if not isinstance(name, str) or STEP_NAME.fullmatch(name) is None:
        raise ValidationFailed(
            f"{where}.name must be 1-31 lowercase letters, digits, '_' or '-' starting with a "
            f"letter or digit, not {json.dumps(name)}",
            field=f"{where}.name",
        )
    if name == "request":
        raise ValidationFailed(f"{where}.name 'request' is reserved", field=f"{where}.name")
    model = parse_model_ref(item.get("model"), field=f"{where}.model")
    raw_inputs = item.get("inputs", {})
    if not isinstance(raw_inputs, Mapping):
        raise ValidationFailed(
            f"{where}.inputs must map the model's input names to sources",
            field=f"{where}.inputs",
        )
    inputs = {
        str(target): parse_source(source, field=f"{where}.inputs.{target}")
        for target, source in raw_inputs.items()
    }
    when = item.get("when")
    condition = None
    if when is not None:
        if not isinstance(when, str):
            raise ValidationFailed(f"{where}.when must be a string", field=f"{where}.when")
        condition = parse_condition(when, field=f"{where}.when")
    default = item.get("default")
    if default is not None and not isinstance(default, str | int | float | bool):
        raise ValidationFailed(
            f"{where}.default must be a number, a string or a boolean", field=f"{where}.default"
        )
    if condition is not None and default is None:
        raise ValidationFailed(
            f"{where} has a 'when' condition but no 'default': say what a skipped row answers",
            field=f"{where}.default",
        )
    return StepSpec(name, model, inputs, condition, default)


def load_pipeline_file(path: Path) -> PipelineSpec:
    """A pipeline file: TOML (``.toml``) or JSON (anything else)."""
    text = path.read_text(encoding="utf-8")
    try:
        payload = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ValidationFailed(f"{path} is not valid {kind}: {exc}", field="pipeline") from None
    return parse_pipeline(payload)


# -- checked against the versions the steps serve -----------------------------------------
ValueType = Literal["number", "text"]


@dataclass(frozen=True)
class Wiring:
    """A pipeline checked against its steps' versions: the source of every input of every
    step (declared, or ``request.<name>``) and the request the pipeline accepts."""

    spec: PipelineSpec
    # Per step, in its model's input order: input name -> source.
    sources: tuple[dict[str, Source], ...]
    request: InputSchema


def output_type(output: OutputSpec, source: Source) -> ValueType:
    """What a step's output holds: probabilities and regression values are numbers,
    class labels are numbers when every class reads as one."""
    if source.kind == "proba" or output.kind == "regression":
        return "number"
    return "number" if output.classes and all(_is_number(c) for c in output.classes) else "text"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def wire(
    spec: PipelineSpec, versions: Sequence[ModelVersion], *, field: str = "pipeline"
) -> Wiring:
    """Check ``spec`` against the version each step serves (in step order); refused with
    the step and the field named when an input's source does not exist or has a type the
    step's model cannot take."""
    outputs: dict[str, OutputSpec] = {}
    request: dict[str, tuple[FeatureSpec, str]] = {}
    all_sources: list[dict[str, Source]] = []
    for index, (step, version) in enumerate(zip(spec.steps, versions, strict=True)):
        where = f"{field}.steps[{index}]"
        schema = {f.name: f for f in version.input_schema.features}
        for target in step.inputs:
            if target not in schema:
                raise ValidationFailed(
                    f"step {step.name!r}: input {target!r} is not an input of {version.ref} "
                    f"(its inputs: {', '.join(schema) or 'none'})",
                    field=f"{where}.inputs.{target}",
                )
        sources: dict[str, Source] = {}
        for feature in version.input_schema.features:
            source = step.inputs.get(feature.name) or Source(
                f"request.{feature.name}", "request", None, feature.name
            )
            at = f"{where}.inputs.{feature.name}"
            if source.kind == "request":
                _take_request(request, source.name, feature, step.name, at)
            else:
                produced = _earlier(outputs, source, step.name, at)
                if feature.numeric and output_type(produced, source) == "text":
                    raise ValidationFailed(
                        f"step {step.name!r}: input {feature.name!r} is a number but "
                        f"{source.text} is a text label ({', '.join(produced.classes)})",
                        field=at,
                    )
            sources[feature.name] = source
        if step.when is not None:
            for ref in sorted(step.when.refs):
                at = f"{where}.when"
                source = parse_source(ref, field=at)
                if source.kind == "request":
                    if source.name not in request:
                        raise ValidationFailed(
                            f"step {step.name!r}: condition reads {ref}, which no step takes "
                            f"as an input (map it to one, or read an earlier step's output)",
                            field=at,
                        )
                else:
                    _earlier(outputs, source, step.name, at)
        if step.default is not None and version.output.kind == "regression":
            if isinstance(step.default, bool) or not isinstance(step.default, int | float):
                raise ValidationFailed(
                    f"step {step.name!r}: {version.ref} is a regressor, so its default must "
                    f"be a number, not {json.dumps(step.default)}",
                    field=f"{where}.default",
                )
        outputs[step.name] = version.output
        all_sources.append(sources)
    features = [first.model_copy(update={"name": name}) for name, (first, _) in request.items()]
    return Wiring(spec, tuple(all_sources), InputSchema(features=features))


def _take_request(
    request: dict[str, tuple[FeatureSpec, str]],
    name: str,
    feature: FeatureSpec,
    step: str,
    at: str,
) -> None:
    """Add ``request.<name>`` to the request the pipeline accepts, typed by its first
    consumer; a later consumer that needs the other type is refused."""
    known = request.get(name)
    if known is None:
        request[name] = (feature, step)
        return
    first, first_step = known
    if first.numeric != feature.numeric:
        kinds = {True: "a number", False: "text"}
        raise ValidationFailed(
            f"step {step!r}: input {feature.name!r} needs {kinds[feature.numeric]} but "
            f"request.{name} is {kinds[first.numeric]} for step {first_step!r}",
            field=at,
        )


def _earlier(outputs: Mapping[str, OutputSpec], source: Source, step: str, at: str) -> OutputSpec:
    assert source.step is not None
    produced = outputs.get(source.step)
    if produced is None:
        raise ValidationFailed(
            f"step {step!r}: {source.text} reads step {source.step!r}, which is not an "
            f"earlier step of the pipeline",
            field=at,
        )
    if source.kind == "proba":
        if not produced.has_probabilities:
            raise ValidationFailed(
                f"step {step!r}: {source.text} does not exist: step {source.step!r} gives "
                f"no probabilities",
                field=at,
            )
        if source.name not in produced.classes:
            raise ValidationFailed(
                f"step {step!r}: {source.text} does not exist: step {source.step!r}'s classes "
                f"are {', '.join(produced.classes)}",
                field=at,
            )
    return produced


def resolve_steps(registry: Registry, spec: PipelineSpec) -> list[ModelVersion]:
    """The version each step names now (aliases resolved), refused unless servable."""
    return [
        registry.resolve(
            step.model,
            field=f"pipeline.steps[{i}].model",
            version_field=f"pipeline.steps[{i}].model",
            servable=True,
        )
        for i, step in enumerate(spec.steps)
    ]


def create_pipeline(
    registry: Registry, endpoints: EndpointStore, name: str, spec: PipelineSpec, actor: str
) -> Endpoint:
    """Check ``spec`` against the versions its steps name now and create it as endpoint
    ``name`` with one endpoint per step (blocking)."""
    versions = resolve_steps(registry, spec)
    wire(spec, versions)
    steps = [
        PipelineStep(step.name, version, step.model.alias)
        for step, version in zip(spec.steps, versions, strict=True)
    ]
    return endpoints.create_pipeline(name, spec.to_dict(), steps, actor)


def default_text(default: Default) -> str:
    """A default as the class label it would be logged as."""
    return label_text(default)
