"""Blue-green smoke test: replay recent real requests against the green version first.

Green must answer every replayed request, in the output form the endpoint promises
(class labels it declares, finite numbers for regression), and, when asked, agree with
what blue answered on at least ``smoke_agreement`` of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.batch import Batch, Prediction
from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog, WindowSpec
from modelport.registry.flavors import Predictor
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.serving.runner import example_batch
from modelport.vocabulary import Role

if TYPE_CHECKING:
    import pandas as pd

CHUNK_ROWS = 64


@dataclass
class SmokeResult:
    source: str
    rows: int = 0
    errors: int = 0
    schema_violations: int = 0
    agreement: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def replay_rows(
    log: PredictionLog,
    registry: Registry,
    endpoint: str,
    primary: ModelVersion,
    rows: int,
) -> tuple[str, pd.DataFrame, np.ndarray[Any, Any] | None]:
    """Recent successful primary requests (features + blue's answer), else reference data."""
    import pandas as pd  # here: commands importing this module skip pandas

    names = primary.input_schema.names
    features = [col.feature(n) for n in names]
    answers = col.output_column(primary.output.kind)
    window = log.window(endpoint, WindowSpec(last=rows * 2), roles=[Role.PRIMARY])
    if window.n_rows and all(feature in window.available for feature in features):
        frame = window.table([col.STATUS, answers, *features]).to_pandas()
        frame = frame[frame[col.STATUS] == col.STATUS_OK].tail(rows)
        if not frame.empty:
            logged = frame[features]
            logged.columns = pd.Index(names)
            return "logged requests", logged, frame[answers].to_numpy()
    reference = registry.reference_frame(primary)
    if reference is not None and all(n in reference for n in names):
        return "reference data", reference[names].head(rows), None
    return "example row", example_batch(primary.input_schema).to_frame(), None


def smoke_test(
    predictor: Predictor,
    green: ModelVersion,
    primary: ModelVersion,
    frame: pd.DataFrame,
    blue_answers: np.ndarray[Any, Any] | None,
    source: str,
    min_agreement: float | None,
) -> SmokeResult:
    result = SmokeResult(source=source)
    batch = Batch.from_frame(frame, primary.input_schema)
    agree: list[bool] = []
    for start in range(0, batch.n_rows, CHUNK_ROWS):
        chunk = batch.slice(start, min(start + CHUNK_ROWS, batch.n_rows))
        result.rows += chunk.n_rows
        try:
            prediction = predictor.predict(chunk)
        except Exception as exc:
            result.errors += chunk.n_rows
            if len(result.problems) < 5:
                result.problems.append(f"green raised {type(exc).__name__}: {exc}"[:300])
            continue
        result.schema_violations += _violations(prediction, chunk.n_rows, green)
        if blue_answers is not None:
            expected = blue_answers[start : start + chunk.n_rows]
            agree.extend(_agrees(prediction, expected, green))
    if result.schema_violations:
        result.problems.append(
            f"{result.schema_violations} answers do not match the output schema "
            f"({green.output.kind}, classes {green.output.classes})"
        )
    if agree:
        result.agreement = round(float(np.mean(agree)), 4)
    if min_agreement is not None:
        if result.agreement is None:
            result.problems.append("no logged answers of blue to compare with")
        elif result.agreement < min_agreement:
            result.problems.append(
                f"green agrees with blue on {result.agreement:.1%} of replayed requests, "
                f"below the required {min_agreement:.1%}"
            )
    return result


def _violations(prediction: Prediction, rows: int, green: ModelVersion) -> int:
    import pandas as pd  # here: commands importing this module skip pandas

    outputs = np.asarray(prediction.outputs)
    if outputs.shape[0] != rows:
        return rows
    if green.output.kind == "regression":
        values = pd.to_numeric(pd.Series(outputs), errors="coerce").to_numpy(dtype=np.float64)
        return int((~np.isfinite(values)).sum())
    if not green.output.classes:
        return 0
    known = set(green.output.classes)
    return sum(str(value) not in known for value in outputs.tolist())


def _agrees(
    prediction: Prediction, expected: np.ndarray[Any, Any], green: ModelVersion
) -> list[bool]:
    outputs = np.asarray(prediction.outputs).tolist()
    if green.output.kind == "regression":
        return [
            bool(np.isclose(float(a), float(b), rtol=0.05, atol=1e-9))
            for a, b in zip(outputs, expected.tolist(), strict=False)
        ]
    return [str(a) == str(b) for a, b in zip(outputs, expected.tolist(), strict=False)]
