"""The user's trainer: ``module:function(features, labels, context) -> model``.

The function is imported by name and called once with the training rows (a DataFrame of
the parent's features, in its schema's order), their labels (a Series: class names as
text, or numbers for a regressor) and a :class:`TrainContext`. It returns a fitted
scikit-learn-style estimator (``predict``, and ``predict_proba`` for probabilities),
which modelport checks on the holdout before anything is registered.

Importing a trainer runs its module's code: a retrain started over HTTP or by a policy
only runs trainers that ``retrain.trainers`` allows (:func:`allowed`).

>>> allowed("mypkg.train:fit", ["mypkg.train:*"]), allowed("os:system", ["mypkg.*"])
(True, False)
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.errors import Forbidden, ModelportError, ValidationFailed
from modelport.registry.records import ModelVersion
from modelport.schema import InputSchema, OutputSpec, label_text

if TYPE_CHECKING:
    import pandas as pd

_TRAINER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

Trainer = Callable[["pd.DataFrame", "pd.Series", "TrainContext"], Any]


class TrainerFailed(ModelportError):
    """The trainer could not be imported, raised, or returned no usable model (422)."""

    status = 422
    code = "trainer_failed"


class TrainerNotAllowed(Forbidden):
    """The trainer is not among ``retrain.trainers`` (403)."""

    code = "trainer_not_allowed"


@dataclass(frozen=True)
class TrainContext:
    """What the trainer may want to know besides the rows."""

    endpoint: str
    parent: ModelVersion
    schema: InputSchema
    output: OutputSpec
    window_start: datetime
    window_end: datetime
    # Rows in the holdout (not given to the trainer); the trainer sees the rest.
    holdout_rows: int
    seed: int = 0


def check_trainer_name(trainer: str, *, field: str = "trainer") -> str:
    if not isinstance(trainer, str) or not _TRAINER.match(trainer):
        raise ValidationFailed(
            f"trainer must be module:function, like 'mypkg.train:fit', got {trainer!r}",
            field=field,
        )
    return trainer


def allowed(trainer: str, patterns: Sequence[str]) -> bool:
    """``trainer`` matches one of the operator's fnmatch ``patterns``."""
    return any(fnmatch.fnmatchcase(trainer, pattern) for pattern in patterns)


def require_allowed(trainer: str, patterns: Sequence[str]) -> None:
    if not allowed(trainer, patterns):
        shown = ", ".join(patterns) if patterns else "none"
        raise TrainerNotAllowed(
            f"trainer {trainer!r} is not allowed on this server (retrain.trainers: {shown}); "
            "an operator adds its pattern to [retrain] trainers in modelport.toml",
            field="trainer",
        )


def load_trainer(trainer: str) -> Trainer:
    """The function ``trainer`` names, imported; :class:`TrainerFailed` otherwise."""
    module_name, function_name = check_trainer_name(trainer).split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TrainerFailed(
            f"cannot import trainer module {module_name!r}: {type(exc).__name__}: {exc}",
            field="trainer",
        ) from exc
    function = getattr(module, function_name, None)
    if function is None:
        raise TrainerFailed(
            f"trainer module {module_name!r} has no function {function_name!r}", field="trainer"
        )
    if not callable(function):
        raise TrainerFailed(f"trainer {trainer} is not a function", field="trainer")
    return function  # type: ignore[no-any-return]


def call_trainer(
    trainer: str,
    function: Trainer,
    features: pd.DataFrame,
    labels: pd.Series,
    context: TrainContext,
) -> Any:
    try:
        return function(features, labels, context)
    except Exception as exc:
        raise TrainerFailed(
            f"trainer {trainer} raised {type(exc).__name__}: {exc}", field="trainer"
        ) from exc


def check_model(trainer: str, model: Any, holdout: pd.DataFrame, output: OutputSpec) -> None:
    """Refuse a returned object that cannot serve: no ``predict``, a failure or the wrong
    number of answers on the holdout, or classes the labels never had."""
    if not callable(getattr(model, "predict", None)):
        raise TrainerFailed(
            f"trainer {trainer} returned {type(model).__name__}, which has no predict(); "
            "return a fitted scikit-learn estimator or pipeline",
            field="trainer",
        )
    try:
        answers = np.asarray(model.predict(holdout))
    except Exception as exc:
        raise TrainerFailed(
            f"the model trainer {trainer} returned failed on the holdout "
            f"({type(exc).__name__}: {exc})",
            field="trainer",
        ) from exc
    if answers.ndim != 1 or len(answers) != len(holdout):
        raise TrainerFailed(
            f"the model trainer {trainer} returned answered shape {answers.shape} for "
            f"{len(holdout)} holdout rows; one answer per row is needed",
            field="trainer",
        )
    if output.kind == "regression":
        if answers.dtype.kind not in "biuf":
            raise TrainerFailed(
                f"the model trainer {trainer} returned answers {answers.dtype} values for a "
                "regression endpoint; numbers are needed",
                field="trainer",
            )
        return
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise TrainerFailed(
            f"the model trainer {trainer} returned has no classes_ but the endpoint "
            "classifies; return a fitted classifier",
            field="trainer",
        )
    unknown = sorted({label_text(c) for c in classes} - set(output.classes))
    if unknown:
        raise TrainerFailed(
            f"the model trainer {trainer} returned knows classes the parent does not "
            f"({', '.join(unknown)}; the parent's: {', '.join(output.classes)})",
            field="trainer",
        )
