"""The registry's public record of one model version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelport.registry.fast_path_state import fast_path_view
from modelport.schema import InputSchema, OutputSpec
from modelport.store.tables import VersionRow


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    flavor: str
    artifact_path: str
    artifact_sha256: str
    input_schema: InputSchema
    output: OutputSpec
    created_at: datetime
    loader: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    reference_path: str | None = None
    reference_rows: int | None = None
    lineage: dict[str, Any] | None = None
    archived_at: datetime | None = None
    archived_by: str | None = None
    # The ONNX fast path's check and switch (``registry/fast_path.py``), None if never checked.
    fast_path: dict[str, Any] | None = None
    # The model's aliases that point at this version, sorted.
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @classmethod
    def from_row(cls, row: VersionRow, name: str, aliases: tuple[str, ...] = ()) -> ModelVersion:
        return cls(
            name=name,
            version=row.version,
            flavor=row.flavor,
            artifact_path=row.artifact_path,
            artifact_sha256=row.artifact_sha256,
            input_schema=InputSchema.model_validate(row.input_schema),
            output=OutputSpec.model_validate(row.output),
            created_at=row.created_at,
            loader=dict(row.loader or {}),
            target=row.target,
            description=row.description,
            tags=dict(row.tags or {}),
            profile=row.profile,
            reference_path=row.reference_path,
            reference_rows=row.reference_rows,
            lineage=row.lineage,
            archived_at=row.archived_at,
            archived_by=row.archived_by,
            fast_path=None if row.fast_path is None else dict(row.fast_path),
            aliases=aliases,
        )

    def to_dict(self, *, with_profile: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "flavor": self.flavor,
            "sha256": self.artifact_sha256,
            "created_at": self.created_at.isoformat(),
            "description": self.description,
            "tags": self.tags,
            "target": self.target,
            "input_schema": self.input_schema.model_dump(),
            "output": self.output.model_dump(),
            "reference_rows": self.reference_rows,
            "has_profile": self.profile is not None,
            "aliases": list(self.aliases),
            "archived": self.archived,
            "archived_at": None if self.archived_at is None else self.archived_at.isoformat(),
            "archived_by": self.archived_by,
            "lineage": self.lineage,
            "fast_path": fast_path_view(self.flavor, self.fast_path),
        }
        if with_profile:
            data["profile"] = self.profile
        return data


@dataclass(frozen=True)
class ModelRef:
    """What a user wrote to name a version: ``churn``, ``churn:3`` or ``churn@champion``."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}:{self.version}"


def parse_model_ref(ref: object, *, field: str = "model") -> ModelRef:
    """``"churn@champion"`` -> an alias reference; otherwise as :func:`parse_ref`.

    >>> parse_model_ref("churn@champion")
    ModelRef(name='churn', version=None, alias='champion')
    >>> parse_model_ref("churn:2")
    ModelRef(name='churn', version=2, alias=None)
    """
    from modelport.errors import InvalidRequest
    from modelport.names import check_name

    if not isinstance(ref, str):
        raise InvalidRequest(
            "a model reference is a string like 'churn:3' or 'churn@champion'", field=field
        )
    name, sep, alias = ref.partition("@")
    if sep:
        check_name("model", name, field=field)
        check_name("alias", alias, field=field)
        return ModelRef(name, alias=alias)
    try:
        name, version = parse_ref(ref)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, field=field) from None
    return ModelRef(name, version)


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"churn:2"`` -> ("churn", 2); ``"churn"`` -> ("churn", None) meaning latest.

    >>> parse_ref("churn:2")
    ('churn', 2)
    >>> parse_ref("churn")
    ('churn', None)
    """
    from modelport.errors import InvalidRequest

    name, sep, version = ref.partition(":")
    if not name:
        raise InvalidRequest(f"model reference {ref!r} has no name", field="model")
    if not sep or version in ("", "latest"):
        return name, None
    if not (version.isascii() and version.isdigit()) or len(version) > 10 or int(version) < 1:
        raise InvalidRequest(
            f"model reference {ref!r}: version must be a positive integer", field="model"
        )
    return name, int(version)
