"""Input and output schemas of a model version.

A schema is what the serving layer validates requests against and what monitoring
compares logged traffic with. It is plain pydantic so it round-trips through JSON in
the registry and in ``--schema schema.json`` files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FeatureKind = Literal["float", "int", "bool", "category"]
OutputKindName = Literal["classification", "regression"]


def label_text(value: object) -> str:
    """How a class label is spelled in the log, in ``OutputSpec.classes`` and for feedback,
    so that predictions and labels join whatever type each side used.

    >>> [label_text(v) for v in (1, 1.0, "1", True, "yes", 2.5)]
    ['1', '1', '1', 'True', 'yes', '2.5']
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and not isinstance(value, str | bytes):
        return label_text(item())
    return str(value)


class FeatureSpec(BaseModel):
    """One input feature."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: FeatureKind
    nullable: bool = False
    # Known values of a categorical feature (as strings); empty for numeric features.
    categories: list[str] = Field(default_factory=list)
    # When False, a category outside ``categories`` is refused with 422 unknown_category.
    allow_unknown: bool = True
    # Declared bounds (optional); monitoring counts values outside them as out of range.
    minimum: float | None = None
    maximum: float | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("float", "int", "bool")


class InputSchema(BaseModel):
    """Ordered features: the order is the column order of ``{"inputs": [[...]]}``."""

    model_config = ConfigDict(extra="forbid")

    features: list[FeatureSpec]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def get(self, name: str) -> FeatureSpec | None:
        for feature in self.features:
            if feature.name == name:
                return feature
        return None

    def differences(self, other: InputSchema) -> list[str]:
        """Human-readable list of what differs between two schemas (empty if compatible).

        >>> a = InputSchema(features=[FeatureSpec(name="x", kind="float")])
        >>> b = InputSchema(features=[FeatureSpec(name="x", kind="category")])
        >>> a.differences(b)
        ['x: kind float != category']
        """
        problems: list[str] = []
        mine = {f.name: f for f in self.features}
        theirs = {f.name: f for f in other.features}
        for name in mine.keys() - theirs.keys():
            problems.append(f"{name}: missing in candidate")
        for name in theirs.keys() - mine.keys():
            problems.append(f"{name}: not in primary")
        for name in sorted(mine.keys() & theirs.keys()):
            a, b = mine[name], theirs[name]
            numeric_pair = a.numeric and b.numeric
            if a.kind != b.kind and not numeric_pair:
                problems.append(f"{name}: kind {a.kind} != {b.kind}")
        return sorted(problems)


class OutputSpec(BaseModel):
    """What a model version answers: class labels (+ probabilities) or a number."""

    model_config = ConfigDict(extra="forbid")

    kind: OutputKindName
    # Class labels as the model returns them, stringified for the log; empty for regression.
    classes: list[str] = Field(default_factory=list)
    has_probabilities: bool = False
