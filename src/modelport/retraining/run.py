"""One retrain (see the package docstring).

:class:`Retrainer` runs in the process that trains (the CLI, or a server's worker
process): gather the window's labelled rows, split a holdout, call the trainer, check
what it returned, score it and the parent on the same holdout, register it with its
lineage and start shadow-then-canary with the endpoint's usual gates. Until the
registration every failure leaves the registry as it was; any failure is written to
the endpoint's audit trail (``retrain_failed``) before it is raised.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.errors import Conflict, ModelportError, ValidationFailed
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.reader import PredictionLog
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.flavors.sklearn import SklearnFlavor
from modelport.registry.lineage import DataWindow, Holdout, Lineage
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registration, Registry
from modelport.retraining.evaluate import holdout_metrics
from modelport.retraining.gather import Gathered, add_reference, fingerprint, gather
from modelport.retraining.request import (
    ROLLOUT_OPTIONS,
    Progress,
    RetrainOutcome,
    RetrainRequest,
    Stage,
)
from modelport.retraining.trainer import (
    TrainContext,
    TrainerFailed,
    call_trainer,
    check_model,
    check_trainer_name,
    load_trainer,
)
from modelport.rollout.service import RolloutService
from modelport.rollout.spec import build_spec
from modelport.store.db import Database
from modelport.store.tables import AuditRow, utcnow
from modelport.vocabulary import RolloutStrategy

if TYPE_CHECKING:
    import pandas as pd

RANDOM_SEED = 0
# Where the training rows' labels go in the new version's reference sample when the
# parent had no target column.
DEFAULT_TARGET = "label"


class NotEnoughLabels(ValidationFailed):
    """Fewer labelled rows in the window than ``min_labels`` (422)."""

    code = "not_enough_labels"


@dataclass
class Split:
    train_features: pd.DataFrame
    train_labels: pd.Series
    holdout_features: pd.DataFrame
    holdout_labels: pd.Series


def check_request(request: RetrainRequest) -> None:
    """Refuse impossible options, naming the field (before anything is read)."""
    check_trainer_name(request.trainer)
    if request.since <= timedelta(0):
        raise ValidationFailed("since must be a positive duration, like 30d", field="since")
    if isinstance(request.min_labels, bool) or request.min_labels < 1:
        raise ValidationFailed("min_labels must be at least 1", field="min_labels")
    if not 0.0 < request.holdout < 1.0:
        raise ValidationFailed(
            f"holdout must be a share between 0 and 1 (like 0.2), got {request.holdout}",
            field="holdout",
        )
    if request.split not in ("time", "random"):
        raise ValidationFailed(
            f"split must be time or random, got {request.split!r}", field="split"
        )
    check_rollout_options(request.rollout_options)


def check_rollout_options(options: dict[str, Any]) -> None:
    """Rollout options a retrain may set, valid as ``rollout start`` reads them."""
    other = sorted(set(options) - set(ROLLOUT_OPTIONS))
    if other:
        raise ValidationFailed(
            f"a retrain's rollout takes {', '.join(ROLLOUT_OPTIONS)}; not {', '.join(other)} "
            "(it is always shadow then canary)",
            field=other[0],
        )
    build_spec({**options, "strategy": SHADOW_THEN_CANARY})


SHADOW_THEN_CANARY = str(RolloutStrategy.SHADOW_THEN_CANARY)


class Retrainer:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        endpoints: EndpointStore,
        log: PredictionLog,
        feedback: FeedbackStore,
        rollouts: RolloutService,
    ) -> None:
        self.db = db
        self.registry = registry
        self.endpoints = endpoints
        self.log = log
        self.feedback = feedback
        self.rollouts = rollouts

    def run(self, request: RetrainRequest, progress: Progress | None = None) -> RetrainOutcome:
        check_request(request)
        endpoint = self.endpoints.get(request.endpoint)
        try:
            return self._run(request, endpoint, progress or _quiet)
        except ModelportError as exc:
            self._audit(request, "retrain_failed", {"error": exc.message, "code": exc.code})
            raise

    def _run(self, request: RetrainRequest, endpoint: Endpoint, report: Progress) -> RetrainOutcome:
        started = time.monotonic()
        parent = self.registry.get(endpoint.model, endpoint.primary_version)
        if request.rollout:
            self._refuse_live_rollout(endpoint.name)
        end = utcnow()
        start = end - request.since
        report("gathering", None)
        gathered = gather(self.log, self.feedback, endpoint.name, parent, start, end)
        if request.with_reference:
            add_reference(gathered, self.registry, parent)
        _enough_labels(request, gathered)
        split = _split(gathered, request)
        report("gathering", 1.0)

        report("training", None)
        trainer = load_trainer(request.trainer)
        context = TrainContext(
            endpoint=endpoint.name,
            parent=parent,
            schema=parent.input_schema,
            output=parent.output,
            window_start=start,
            window_end=end,
            holdout_rows=len(split.holdout_labels),
            seed=RANDOM_SEED,
        )
        model = call_trainer(
            request.trainer, trainer, split.train_features, split.train_labels, context
        )
        check_model(request.trainer, model, split.holdout_features, parent.output)

        with tempfile.TemporaryDirectory(prefix="modelport-retrain-") as folder:
            artifact, trusted = _dump(request.trainer, model, Path(folder))
            report("evaluating", None)
            flavor = SklearnFlavor()
            inspection = flavor.inspect(artifact, {"trusted_types": trusted})
            assert inspection.output is not None
            output = inspection.output
            if output.kind != parent.output.kind:
                raise TrainerFailed(
                    f"trainer {request.trainer} returned a {output.kind} model for an endpoint "
                    f"whose model is {parent.output.kind}",
                    field="trainer",
                )
            predictor = flavor.load(artifact, inspection.loader, parent.input_schema, output)
            metrics = holdout_metrics(
                predictor, split.holdout_features, split.holdout_labels, parent.input_schema, output
            )
            parent_metrics = holdout_metrics(
                self.registry.load(parent),
                split.holdout_features,
                split.holdout_labels,
                parent.input_schema,
                parent.output,
            )
            lineage = Lineage.model_validate(
                {
                    **request.extra_lineage,
                    "parent": parent.ref,
                    "trainer": request.trainer,
                    "endpoint": endpoint.name,
                    "window": DataWindow(start=start, end=end),
                    "rows": len(split.train_labels) + len(split.holdout_labels),
                    "labels": gathered.logged_rows + gathered.reference_rows,
                    "fingerprint": _fingerprint(split),
                    "holdout": Holdout(
                        rows=len(split.holdout_labels),
                        split=request.split,
                        metrics=metrics,
                        parent_metrics=parent_metrics,
                    ),
                    **(
                        {"reference_rows": gathered.reference_rows}
                        if gathered.reference_rows
                        else {}
                    ),
                    **({"reason": request.reason} if request.reason else {}),
                }
            )
            report("registering", None)
            target = parent.target or DEFAULT_TARGET
            reference = Path(folder) / "training.parquet"
            split.train_features.assign(**{target: split.train_labels.to_numpy()}).to_parquet(
                reference, index=False
            )
            version = self.registry.register(
                Registration(
                    name=parent.name,
                    source=str(artifact),
                    flavor="sklearn",
                    reference=reference,
                    target=target,
                    schema=parent.input_schema,
                    description=f"retrained from {parent.ref} by {request.trainer}",
                    tags=dict(parent.tags),
                    trusted_types=trusted,
                    actor=request.actor,
                    parent=parent.ref,
                    lineage=lineage,
                )
            )
        rollout_id = self._roll_out(request, endpoint, version, report)
        outcome = RetrainOutcome(
            endpoint=endpoint.name,
            model=parent.name,
            version=version.version,
            parent=parent.version,
            lineage=version.lineage or {},
            rollout_id=rollout_id,
            seconds=time.monotonic() - started,
        )
        self._audit(
            request,
            "retrain",
            {"version": version.ref, "parent": parent.ref, "rollout": rollout_id},
        )
        return outcome

    def _roll_out(
        self, request: RetrainRequest, endpoint: Endpoint, version: ModelVersion, report: Progress
    ) -> int | None:
        if not request.rollout:
            return None
        report("rolling out", None)
        options: dict[str, Any] = {
            **request.rollout_options,
            "version": version.version,
            "strategy": SHADOW_THEN_CANARY,
        }
        try:
            rollout = self.rollouts.start(endpoint.name, options, request.actor)
        except ModelportError as exc:
            raise type(exc)(
                f"{version.ref} is registered but its rollout did not start: {exc.message} "
                f"(start it with: modelport rollout start {endpoint.name} "
                f"--version {version.version})",
                field=exc.field,
                **exc.details,
            ) from exc
        return rollout.id

    def _refuse_live_rollout(self, name: str) -> None:
        try:
            live = self.rollouts.store.active(name)
        except Conflict:
            return
        raise Conflict(
            f"endpoint {name!r} has rollout {live.id} in progress; promote or roll it back "
            "first, or retrain with --no-rollout",
            field="rollout",
        )

    def _audit(self, request: RetrainRequest, action: str, details: dict[str, Any]) -> None:
        with self.db.session() as session:
            session.add(
                AuditRow(
                    actor=request.actor,
                    subject=f"endpoint:{request.endpoint}",
                    action=action,
                    details={
                        "trainer": request.trainer,
                        **({"reason": request.reason} if request.reason else {}),
                        **details,
                    },
                )
            )


def _quiet(stage: Stage, fraction: float | None) -> None:
    return None


def _enough_labels(request: RetrainRequest, gathered: Gathered) -> None:
    have = gathered.logged_rows
    if have < request.min_labels:
        raise NotEnoughLabels(
            f"endpoint {request.endpoint} has {have} labelled rows in the last "
            f"{_duration(request.since)}; --min-labels is {request.min_labels}",
            field="min_labels",
        )


def _split(gathered: Gathered, request: RetrainRequest) -> Split:
    """Holdout rows from the logged traffic: the newest share (``time``, rows are oldest
    first) or a seeded random share; the rest, plus any reference rows, train."""
    import pandas as pd  # here: commands importing this module skip pandas

    n = gathered.logged_rows
    size = min(max(1, math.ceil(n * request.holdout)), n - 1)
    if size < 1:
        raise NotEnoughLabels(
            f"endpoint {request.endpoint} has {n} labelled rows: too few to train and "
            "hold some out",
            field="min_labels",
        )
    if request.split == "time":
        order = np.argsort(gathered.served_at, kind="stable")
    else:
        order = np.random.default_rng(RANDOM_SEED).permutation(n)
    train, holdout = np.sort(order[: n - size]), np.sort(order[n - size :])
    features, labels = gathered.features, gathered.labels
    train_features = features.iloc[train].reset_index(drop=True)
    train_labels = labels.iloc[train].reset_index(drop=True)
    if gathered.reference_features is not None and gathered.reference_labels is not None:
        train_features = pd.concat([train_features, gathered.reference_features], ignore_index=True)
        train_labels = pd.concat([train_labels, gathered.reference_labels], ignore_index=True)
    return Split(
        train_features,
        train_labels,
        features.iloc[holdout].reset_index(drop=True),
        labels.iloc[holdout].reset_index(drop=True),
    )


def _fingerprint(split: Split) -> str:
    import pandas as pd  # here: commands importing this module skip pandas

    features = pd.concat([split.train_features, split.holdout_features], ignore_index=True)
    labels = pd.concat([split.train_labels, split.holdout_labels], ignore_index=True)
    return fingerprint(features, labels)


def _dump(trainer: str, model: Any, folder: Path) -> tuple[Path, list[str]]:
    """The model as a skops file, and the types in it beyond skops' defaults: the model
    came from a trainer the operator chose to run, so its types are trusted as it is."""
    import skops.io as sio

    path = folder / "model.skops"
    try:
        sio.dump(model, path)
        trusted = sorted(sio.get_untrusted_types(file=path))
    except Exception as exc:
        raise TrainerFailed(
            f"the model trainer {trainer} returned cannot be saved ({type(exc).__name__}: "
            f"{exc}); return a scikit-learn estimator or pipeline",
            field="trainer",
        ) from exc
    return path, trusted


def _duration(since: timedelta) -> str:
    seconds = int(since.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
