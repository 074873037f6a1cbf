"""The model registry: register versions atomically, look them up, load them."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from modelport.errors import (
    AliasNotFound,
    ArtifactError,
    ModelNotFound,
    ModelportError,
    ReferenceDataError,
    VersionArchived,
    VersionNotFound,
)
from modelport.names import check_name
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.fast_path_state import UNAVAILABLE, onnx_sha256
from modelport.registry.lineage import Lineage
from modelport.registry.records import ModelRef, ModelVersion, parse_model_ref, parse_ref
from modelport.registry.references import aliases_by_version
from modelport.schema import InputSchema, OutputSpec, label_text
from modelport.store.db import Database
from modelport.store.tables import AliasRow, AuditRow, ModelRow, VersionRow

logger = logging.getLogger(__name__)

# Registering, loading and reading a reference need pandas, pyarrow and the flavors; they
# are imported where used, so a command that only lists or shows versions (and every
# read-only CLI command) starts without them.
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from modelport.batch import Batch, Prediction
    from modelport.registry.flavors import Predictor

REFERENCE_SAMPLE_ROWS = 100_000
_INSERT_ATTEMPTS = 10


@dataclass
class Registration:
    """Everything ``Registry.register`` needs; mirrors ``modelport models register``."""

    name: str
    source: str
    flavor: str
    reference: Path | None = None
    target: str | None = None
    schema: InputSchema | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    # Trust the caller grants the artifact: pickles run code when loaded, python
    # predictors when imported; skops types beyond skops' own defaults are named one by one.
    trust_pickle: bool = False
    trust_code: bool = False
    trusted_types: list[str] = field(default_factory=list)
    strict_categories: bool = False
    actor: str = "cli"
    # Where the version came from; ``parent`` (``churn:3`` or ``churn@champion``) is
    # resolved to a version number at registration and overrides ``lineage.parent``.
    parent: str | None = None
    lineage: Lineage | None = None
    # Check whether onnxruntime may serve a scikit-learn version (``registry/fast_path.py``);
    # off leaves the version unchecked, served by scikit-learn.
    fast_path: bool = True


class Registry:
    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self.db = db
        self.artifacts = artifacts

    # -- registration -------------------------------------------------------------------
    def register(self, request: Registration) -> ModelVersion:
        """Validate everything first, then store files, then commit one SQL transaction.

        A failure at any step leaves no version behind (files written by this call are
        removed again), so a half-registered model can never be served.
        """
        from modelport.batch import Batch
        from modelport.registry.flavors import get_flavor
        from modelport.registry.reference import read_reference, sample_rows, sample_table

        check_name("model", request.name, field="name")
        lineage = self._lineage(request)
        flavor = get_flavor(request.flavor)
        artifact_path, options = self._artifact_source(request)
        inspection = flavor.inspect(artifact_path, options)
        assert inspection.output is not None
        output = inspection.output

        reference = read_reference(request.reference) if request.reference else None
        schema = self._decide_schema(request, inspection.schema, reference)
        if request.strict_categories:
            schema = InputSchema(
                features=[f.model_copy(update={"allow_unknown": False}) for f in schema.features]
            )
        predictor = flavor.load(artifact_path, inspection.loader, schema, output)

        sample: pd.DataFrame | None = None
        prediction: Prediction | None = None
        if reference is not None:
            sample = sample_rows(reference, REFERENCE_SAMPLE_ROWS)
            prediction = self._try_predict(predictor, Batch.from_frame(sample, schema))
            output = self._complete_output(output, prediction, sample, request.target)

        profile = None
        if sample is not None and prediction is not None:
            profile = self._profile(sample, schema, prediction, output)
        fast_path, onnx_bytes = self._fast_path(
            request, predictor, schema, output, sample, prediction
        )

        created: list[str] = []
        try:
            sha256, relative, new = self._store_artifact(artifact_path)
            if new:
                created.append(relative)
            if fast_path is not None and onnx_bytes is not None:
                fast_path.update(self.store_onnx(onnx_bytes, created))
            reference_relative = None
            if sample is not None and prediction is not None:
                table = sample_table(sample, schema, request.target, prediction, output)
                reference_relative, new = self._store_reference(table)
                if new:
                    created.append(reference_relative)
            return self._insert(
                request,
                schema,
                output,
                inspection.loader,
                sha256,
                relative,
                profile,
                reference_relative,
                None if sample is None else len(sample),
                lineage,
                fast_path,
            )
        except BaseException:
            for relative in created:
                # A concurrent registration of the same bytes may have recorded this blob
                # meanwhile; only an unreferenced blob is ours to remove.
                if not self._referenced(relative):
                    self.artifacts.remove(relative)
            raise

    @staticmethod
    def _fast_path(
        request: Registration,
        predictor: Predictor,
        schema: InputSchema,
        output: OutputSpec,
        sample: pd.DataFrame | None,
        prediction: Prediction | None,
    ) -> tuple[dict[str, Any] | None, bytes | None]:
        """The fast path's check of a new scikit-learn version (None: not checked), and
        the ONNX bytes to store when it passed. Never fails the registration."""
        if request.flavor != "sklearn" or not request.fast_path:
            return None, None
        from modelport.batch import Batch
        from modelport.registry.fast_path import check
        from modelport.registry.flavors.sklearn import SklearnPredictor

        if sample is None or prediction is None:
            return {
                "enabled": True,
                "status": UNAVAILABLE,
                "reason": "no reference sample to check the converted model against; "
                "register with --reference",
            }, None
        assert isinstance(predictor, SklearnPredictor)
        outcome = check(predictor, schema, output, Batch.from_frame(sample, schema), prediction)
        return {"enabled": True, **outcome.state}, outcome.onnx

    def store_onnx(self, onnx_bytes: bytes, created: list[str]) -> dict[str, str]:
        """Keep a converted model in the artifact store; where it is and its digest."""
        sha256, relative, new = self.artifacts.put_bytes(onnx_bytes, ".onnx")
        if new:
            created.append(relative)
        return {"artifact_path": relative, "artifact_sha256": sha256}

    def _lineage(self, request: Registration) -> dict[str, Any] | None:
        """The lineage to store, its parent checked to exist (checked before any work)."""
        lineage = request.lineage
        if request.parent is not None:
            parent = self.resolve(
                parse_model_ref(request.parent, field="parent"),
                field="parent",
                version_field="parent",
            )
            lineage = (lineage or Lineage()).model_copy(update={"parent": parent.ref})
        elif lineage is not None and lineage.parent is not None:
            name, version = parse_ref(lineage.parent)
            self.resolve(ModelRef(name, version), field="parent", version_field="parent")
        return None if lineage is None else lineage.to_dict()

    def _referenced(self, relative: str) -> bool:
        try:
            with self.db.session() as session:
                query = select(VersionRow.id).where(
                    (VersionRow.artifact_path == relative) | (VersionRow.reference_path == relative)
                )
                if session.scalar(query.limit(1)) is not None:
                    return True
                # The JSON state names converted ONNX artifacts; few versions have one.
                states = session.scalars(
                    select(VersionRow.fast_path).where(VersionRow.fast_path.is_not(None))
                )
                return any((s or {}).get("artifact_path") == relative for s in states)
        except Exception:
            return True  # cannot tell: keeping a stray blob beats deleting a live one

    def _artifact_source(self, request: Registration) -> tuple[Path | None, dict[str, Any]]:
        options: dict[str, Any] = {
            "trust_pickle": request.trust_pickle,
            "trust_code": request.trust_code,
            "trusted_types": request.trusted_types,
        }
        if request.flavor != "python":
            path = Path(request.source)
            if not path.is_file():
                raise ArtifactError(f"artifact {path} does not exist or is not a file")
            return path, options
        from modelport.registry.flavors.python import split_entry_point

        target, attr = split_entry_point(request.source)
        options["attr"] = attr
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ArtifactError(f"predictor file {path} does not exist")
            return path, options
        options["module"] = target
        return None, options

    def _decide_schema(
        self,
        request: Registration,
        from_model: InputSchema | None,
        reference: pd.DataFrame | None,
    ) -> InputSchema:
        from modelport.registry.reference import infer_schema

        if reference is not None and request.target and request.target not in reference.columns:
            raise ReferenceDataError(
                f"target column {request.target!r} is not in the reference data "
                f"(columns: {', '.join(map(str, reference.columns))})",
                field="target",
            )
        if request.schema is not None:
            schema = request.schema
        elif reference is not None:
            columns = [str(c) for c in reference.columns if c != request.target]
            if from_model is not None and not _placeholder_names(from_model):
                columns = from_model.names
            elif from_model is not None and len(from_model.features) != len(columns):
                raise ReferenceDataError(
                    f"the model takes {len(from_model.features)} features but the reference "
                    f"has {len(columns)} columns besides the target",
                    field="reference",
                )
            missing = [c for c in columns if c not in reference.columns]
            if missing:
                raise ReferenceDataError(
                    f"reference data lacks the model's features: {', '.join(missing)}",
                    field="reference",
                )
            schema = infer_schema(reference, columns)
        elif from_model is not None:
            schema = from_model
        else:
            raise ArtifactError(
                "cannot tell the model's inputs: give --reference or --schema", field="schema"
            )
        if reference is not None:
            missing = [n for n in schema.names if n not in reference.columns]
            if missing:
                raise ReferenceDataError(
                    f"reference data lacks schema features: {', '.join(missing)}",
                    field="reference",
                )
        return schema

    @staticmethod
    def _try_predict(predictor: Predictor, batch: Batch) -> Prediction:
        try:
            prediction = predictor.predict(batch)
        except Exception as exc:
            raise ArtifactError(
                f"the model failed on the reference data ({type(exc).__name__}: {exc}); "
                "does the flavor match the file and the reference match the model?"
            ) from exc
        if len(prediction.outputs) != batch.n_rows:
            raise ArtifactError(
                f"the model answered {len(prediction.outputs)} predictions for {batch.n_rows} rows"
            )
        return prediction

    @staticmethod
    def _complete_output(
        output: OutputSpec, prediction: Prediction, sample: pd.DataFrame, target: str | None
    ) -> OutputSpec:
        if output.kind != "classification" or output.classes:
            return output
        import numpy as np

        # Formats such as ONNX tensors do not carry class names: use the labels seen.
        seen = set(np.asarray(prediction.outputs).tolist())
        if target is not None:
            seen |= set(sample[target].dropna().tolist())
        classes = [label_text(c) for c in sorted(seen)]
        width = None if prediction.probabilities is None else prediction.probabilities.shape[1]
        if width is not None and width != len(classes):
            classes = [str(i) for i in range(width)]
        return output.model_copy(update={"classes": classes})

    @staticmethod
    def _profile(
        sample: pd.DataFrame, schema: InputSchema, prediction: Prediction, output: OutputSpec
    ) -> dict[str, Any]:
        import numpy as np

        from modelport.batch import Batch
        from modelport.registry.profile import ReferenceProfile

        frame = Batch.from_frame(sample, schema).to_frame()
        fitted = ReferenceProfile().fit(
            frame, schema, np.asarray(prediction.outputs), prediction.probabilities, output
        )
        profile: dict[str, Any] = fitted.to_dict()
        return profile

    def _store_artifact(self, path: Path | None) -> tuple[str, str, bool]:
        if path is None:  # an importable module: nothing to copy, record its name only
            return "0" * 64, "", False
        return self.artifacts.put(path)

    def _store_reference(self, table: pa.Table) -> tuple[str, bool]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        sha256, relative, new = self.artifacts.put_bytes(sink.getvalue().to_pybytes(), ".parquet")
        return relative, new

    def _insert(
        self,
        request: Registration,
        schema: InputSchema,
        output: OutputSpec,
        loader: dict[str, Any],
        sha256: str,
        relative: str,
        profile: dict[str, Any] | None,
        reference_relative: str | None,
        reference_rows: int | None,
        lineage: dict[str, Any] | None,
        fast_path: dict[str, Any] | None = None,
    ) -> ModelVersion:
        # Several processes may register the same model at once. The next number is
        # computed inside the INSERT itself (atomic under SQLite's write lock) while the
        # model row is locked (PostgreSQL); two first registrations racing to create the
        # model row still collide on its unique name, and the loser retries.
        for attempt in range(_INSERT_ATTEMPTS):
            try:
                with self.db.session() as session:
                    model = session.scalar(
                        select(ModelRow).where(ModelRow.name == request.name).with_for_update()
                    )
                    if model is None:
                        model = ModelRow(name=request.name)
                        session.add(model)
                        session.flush()
                    next_version = (
                        select(func.coalesce(func.max(VersionRow.version), 0) + 1)
                        .where(VersionRow.model_id == model.id)
                        .scalar_subquery()
                    )
                    row = VersionRow(
                        model_id=model.id,
                        version=next_version,
                        flavor=request.flavor,
                        artifact_path=relative,
                        artifact_sha256=sha256,
                        loader=loader,
                        input_schema=schema.model_dump(),
                        output=output.model_dump(),
                        target=request.target,
                        description=request.description,
                        tags=request.tags,
                        profile=profile,
                        reference_path=reference_relative,
                        reference_rows=reference_rows,
                        lineage=lineage,
                        fast_path=fast_path,
                    )
                    session.add(row)
                    session.flush()
                    session.add(
                        AuditRow(
                            actor=request.actor,
                            subject=f"model:{request.name}",
                            action="register",
                            details={
                                "version": row.version,
                                "sha256": sha256,
                                **_trust_granted(request.flavor, loader),
                                **(
                                    {"parent": lineage["parent"]}
                                    if lineage and "parent" in lineage
                                    else {}
                                ),
                            },
                        )
                    )
                    return ModelVersion.from_row(row, request.name)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
                continue
        raise ModelportError(f"could not allocate a version number for {request.name}")

    # -- lookups ------------------------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            rows = session.scalars(select(ModelRow).order_by(ModelRow.name)).all()
            return [
                {
                    "name": row.name,
                    "versions": len(row.versions),
                    "latest": row.versions[-1].version if row.versions else None,
                    "archived": sum(1 for v in row.versions if v.archived_at is not None),
                    "aliases": {a.alias: a.version for a in row.aliases},
                    "created_at": row.created_at.isoformat(),
                }
                for row in rows
            ]

    def versions(self, name: str) -> list[ModelVersion]:
        with self.db.session() as session:
            model = session.scalar(select(ModelRow).where(ModelRow.name == name))
            if model is None:
                raise ModelNotFound(f"model {name!r} is not registered", field="model")
            aliases = aliases_by_version(session, model)
            return [
                ModelVersion.from_row(row, name, aliases.get(row.version, ()))
                for row in model.versions
            ]

    def aliases(self, name: str) -> dict[str, int]:
        """The model's aliases and the version each points at."""
        with self.db.session() as session:
            model = session.scalar(select(ModelRow).where(ModelRow.name == name))
            if model is None:
                raise ModelNotFound(f"model {name!r} is not registered", field="model")
            rows = session.execute(
                select(AliasRow.alias, AliasRow.version)
                .where(AliasRow.model_id == model.id)
                .order_by(AliasRow.alias)
            ).all()
            return {alias: version for alias, version in rows}

    def get(
        self,
        name: str,
        version: int | None = None,
        *,
        field: str = "version",
        servable: bool = False,
    ) -> ModelVersion:
        """``name:version``, or the newest version that is not archived when ``version``
        is None; ``servable`` refuses an archived one (:class:`VersionArchived`, 409)."""
        versions = self.versions(name)
        if not versions:
            raise VersionNotFound(f"model {name!r} has no versions", field=field)
        if version is None:
            live = [v for v in versions if not v.archived]
            if not live:
                raise VersionArchived(
                    f"every version of {name!r} is archived; unarchive one first",
                    field=field,
                    version=versions[-1].ref,
                )
            return live[-1]
        for candidate in versions:
            if candidate.version == version:
                if servable and candidate.archived:
                    raise VersionArchived(
                        f"{candidate.ref} is archived and cannot be served; unarchive it "
                        f"first (modelport models unarchive {name} {version})",
                        field=field,
                        version=candidate.ref,
                    )
                return candidate
        raise VersionNotFound(f"model {name!r} has no version {version}", field=field)

    def resolve(
        self,
        ref: ModelRef,
        *,
        field: str = "model",
        version_field: str = "version",
        servable: bool = False,
    ) -> ModelVersion:
        """The version ``ref`` names now: ``churn:3``, ``churn`` (newest not archived) or
        ``churn@champion`` (the alias's version; :class:`AliasNotFound` if it has none).
        Errors about the model or alias name ``field``, about the version ``version_field``."""
        check_name("model", ref.name, field=field)
        try:
            if ref.alias is None:
                return self.get(ref.name, ref.version, field=version_field, servable=servable)
            version = self.aliases(ref.name).get(ref.alias)
        except ModelNotFound as exc:
            raise ModelNotFound(exc.message, field=field) from None
        if version is None:
            raise AliasNotFound(f"model {ref.name!r} has no alias {ref.alias!r}", field=field)
        return self.get(ref.name, version, field=version_field, servable=servable)

    def load(self, version: ModelVersion) -> Predictor:
        """A ready predictor: onnxruntime for a scikit-learn version whose fast path is on
        and passed its check, otherwise the flavor's own. A converted artifact that cannot
        be loaded (missing, corrupt) falls back to scikit-learn, which answers the same."""
        if version.flavor == "sklearn" and onnx_sha256(version.fast_path) is not None:
            from modelport.registry.fast_path import load_predictor

            # The version's own artifact is checked all the same: a damaged version is
            # refused whichever runtime would answer for it.
            self.artifacts.verified(version.artifact_path, version.artifact_sha256)
            try:
                return load_predictor(self.artifacts, version)
            except Exception as exc:
                logger.error(
                    "%s: the ONNX fast path cannot be loaded (%s); serving with scikit-learn",
                    version.ref,
                    exc,
                )
        return self.flavor_predictor(version)

    def flavor_predictor(self, version: ModelVersion) -> Predictor:
        """The version's predictor on its flavor's own library (scikit-learn for sklearn)."""
        from modelport.registry.flavors import get_flavor

        flavor = get_flavor(version.flavor)
        path = None
        if version.artifact_path:
            path = self.artifacts.verified(version.artifact_path, version.artifact_sha256)
        return flavor.load(path, version.loader, version.input_schema, version.output)

    def runtime_changed(self, version: ModelVersion) -> bool:
        """Whether ``version`` (as read when it was loaded) would now load on another
        runtime: its fast path was turned on or off, or re-checked, since."""
        if version.flavor != "sklearn":
            return False
        with self.db.session() as session:
            state = session.scalar(
                select(VersionRow.fast_path)
                .join(ModelRow, VersionRow.model_id == ModelRow.id)
                .where(ModelRow.name == version.name, VersionRow.version == version.version)
            )
        return onnx_sha256(state) != onnx_sha256(version.fast_path)

    def reference_sample(self, version: ModelVersion) -> Path | None:
        """Where the version's stored reference sample is (None if it has none)."""
        if version.reference_path is None:
            return None
        return self.artifacts.path(version.reference_path)

    def reference_frame(self, version: ModelVersion) -> pd.DataFrame | None:
        """The stored reference sample as the user named it: features and target under
        their own names, the model's outputs under their series names
        (``__prediction__``, ``__proba__<class>``)."""
        from modelport.predlog import columns as col
        from modelport.registry.reference import label_column, read_sample

        path = self.reference_sample(version)
        if path is None:
            return None
        table = read_sample(path, version.output.kind, version.target)
        target = label_column(version.output.kind)
        names = [
            version.target if name == target and version.target else col.series_name(name)
            for name in table.column_names
        ]
        frame: pd.DataFrame = table.rename_columns(names).to_pandas()
        return frame


def _trust_granted(flavor: str, loader: dict[str, Any]) -> dict[str, Any]:
    """What the registration trusted beyond the safe defaults, for the audit trail."""
    if flavor == "python":
        return {"trusted": "code"}
    if loader.get("format") == "pickle":
        return {"trusted": "pickle"}
    if loader.get("trusted_types"):
        return {"trusted_types": list(loader["trusted_types"])}
    return {}


def _placeholder_names(schema: InputSchema) -> bool:
    """True when the model only knows its input width (names f0, f1, ...)."""
    return all(f.name == f"f{i}" for i, f in enumerate(schema.features))
