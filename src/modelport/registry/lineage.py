"""Where a version came from: its parent, trainer, data and holdout metrics.

Stored as JSON with the version (``model_versions.lineage``); retraining writes all of it,
``models register --parent churn:3`` only the parent. Every field is optional, so a
version registered by hand and one trained by modelport read the same way::

    {"parent": "churn:3", "trainer": "mypkg.train:fit",
     "window": {"start": "2026-11-01T00:00:00+00:00", "end": "2026-12-01T00:00:00+00:00"},
     "rows": 48210, "labels": 48210, "fingerprint": "sha256:9f2c...",
     "holdout": {"rows": 9642, "split": "time",
                 "metrics": {"accuracy": 0.91}, "parent_metrics": {"accuracy": 0.84}}}

>>> Lineage.model_validate({"parent": "churn:3", "rows": 10}).to_dict()
{'parent': 'churn:3', 'rows': 10}
>>> Lineage.model_validate({"rows": -1})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Lineage
...
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelport.errors import ModelportError, ValidationFailed
from modelport.registry.records import ModelVersion, parse_ref

MAX_CHAIN = 100


class DataWindow(BaseModel):
    """The logged traffic a version was trained on (either end may be open)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = None
    end: datetime | None = None


class Holdout(BaseModel):
    """Metrics of the version, and of its parent on the same rows, computed by modelport."""

    model_config = ConfigDict(extra="forbid")

    rows: int | None = Field(default=None, ge=0)
    split: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    parent_metrics: dict[str, float] | None = None


class Lineage(BaseModel):
    # Further keys (a retraining policy's attempt number, say) are kept as given.
    model_config = ConfigDict(extra="allow")

    parent: str | None = None
    trainer: str | None = None
    window: DataWindow | None = None
    rows: int | None = Field(default=None, ge=0)
    labels: int | None = Field(default=None, ge=0)
    fingerprint: str | None = None
    holdout: Holdout | None = None

    @field_validator("parent")
    @classmethod
    def _parent_is_a_version(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            name, version = parse_ref(value)
        except ModelportError as exc:
            raise ValueError(exc.message) from None
        if version is None:
            raise ValueError("parent must name a version, like 'churn:3'")
        return f"{name}:{version}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        return data


def lineage_from(data: object, *, field: str = "lineage") -> Lineage:
    """``data`` as a :class:`Lineage`, or one :class:`ValidationFailed` naming the field."""
    try:
        return Lineage.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (field, *first["loc"]))
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


def chain_entry(version: ModelVersion) -> dict[str, Any]:
    """One line of ``models lineage``: the version and what its lineage says."""
    lineage = version.lineage or {}
    return {
        "model": version.name,
        "version": version.version,
        "ref": version.ref,
        "created_at": version.created_at.isoformat(),
        "archived": version.archived,
        "aliases": list(version.aliases),
        "parent": lineage.get("parent"),
        "trainer": lineage.get("trainer"),
        "window": lineage.get("window"),
        "rows": lineage.get("rows"),
        "labels": lineage.get("labels"),
        "fingerprint": lineage.get("fingerprint"),
        "holdout": lineage.get("holdout"),
    }


__all__ = ["MAX_CHAIN", "DataWindow", "Holdout", "Lineage", "chain_entry", "lineage_from"]
