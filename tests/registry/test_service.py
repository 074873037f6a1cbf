from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy.exc import StatementError

from modelport.batch import Batch
from modelport.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ModelNotFound,
    ModelportError,
    ReferenceDataError,
    VersionNotFound,
)
from modelport.predlog.columns import SERIES_PREDICTION as PREDICTION_COLUMN
from modelport.predlog.columns import SERIES_PROBA_PREFIX as PROBABILITY_PREFIX
from modelport.registry.service import Registration, Registry
from modelport.schema import FeatureSpec

StoreState = tuple[int, int, frozenset[str]]


def churn(files: tuple[Path, Path], **changes: object) -> Registration:
    model, reference = files
    request = Registration(
        name="churn", source=str(model), flavor="sklearn", reference=reference, target="churned"
    )
    for key, value in changes.items():
        setattr(request, key, value)
    return request


def test_sklearn_registration_takes_schema_outputs_and_profile_from_the_reference(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files))

    assert version.ref == "churn:1"
    assert (version.flavor, version.loader["format"]) == ("sklearn", "skops")
    assert version.input_schema.features == [
        FeatureSpec(name="tenure", kind="int"),
        FeatureSpec(name="charges", kind="float"),
        FeatureSpec(name="plan", kind="category", categories=["basic", "plus", "pro"]),
    ]
    assert version.output.kind == "classification"
    assert version.output.classes == ["0", "1"]
    assert version.output.has_probabilities
    assert version.profile is not None
    assert len(json.dumps(version.profile)) < 50_000
    assert version.target == "churned"


def test_reference_sample_is_stored_with_predictions(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files))
    sample = registry.reference_frame(version)
    original = pd.read_parquet(churn_files[1])

    assert sample is not None
    assert version.reference_rows == len(sample) == len(original)
    assert {"tenure", "charges", "plan", "churned", PREDICTION_COLUMN} <= set(sample.columns)
    predictor = registry.load(version)
    expected = predictor.predict(Batch.from_frame(original, version.input_schema))
    assert sample[PREDICTION_COLUMN].tolist() == [str(v) for v in expected.outputs]
    probabilities = sample[[f"{PROBABILITY_PREFIX}0", f"{PROBABILITY_PREFIX}1"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_the_stored_sample_names_its_columns_as_the_log_does(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files))
    path = registry.reference_sample(version)
    assert path is not None

    stored = pq.read_table(path)

    assert stored.column_names == [
        "feature.tenure",
        "feature.charges",
        "feature.plan",
        "label",
        "prediction",
        "proba.0",
        "proba.1",
    ]
    original = pd.read_parquet(churn_files[1])
    assert stored["label"].to_pylist() == [str(v) for v in original["churned"]]
    assert stored["feature.tenure"].to_pylist() == original["tenure"].tolist()


def test_versions_count_up_and_lookups_find_them(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    made = [registry.register(churn(churn_files, description=f"try {n}")) for n in (1, 2, 3)]

    assert [v.version for v in made] == [1, 2, 3]
    assert [v.version for v in registry.versions("churn")] == [1, 2, 3]
    assert registry.get("churn").version == 3
    assert registry.get("churn", 2).description == "try 2"
    (listed,) = registry.list_models()
    assert (listed["name"], listed["versions"], listed["latest"]) == ("churn", 3, 3)
    # The same file registered three times is stored once.
    assert len({v.artifact_path for v in made}) == 1


def test_lookups_of_unknown_models_and_versions_fail(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    registry.register(churn(churn_files))
    with pytest.raises(ModelNotFound) as missing_model:
        registry.get("nope")
    with pytest.raises(VersionNotFound) as missing_version:
        registry.get("churn", 9)
    assert (missing_model.value.code, missing_model.value.field) == ("model_not_found", "model")
    assert missing_version.value.code == "version_not_found"
    assert "9" in missing_version.value.message


@pytest.mark.parametrize("name", ["", "has space", "slash/name", "x" * 201])
def test_invalid_model_names_are_refused(
    registry: Registry, churn_files: tuple[Path, Path], name: str
) -> None:
    with pytest.raises(ModelportError) as refused:
        registry.register(churn(churn_files, name=name))
    assert refused.value.field == "name"


def test_load_refuses_a_corrupted_artifact(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files))
    blob = registry.artifacts.path(version.artifact_path)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))

    with pytest.raises(ArtifactIntegrityError) as corrupt:
        registry.load(version)
    assert corrupt.value.code == "artifact_integrity"
    assert "corrupt" in corrupt.value.message


def test_load_refuses_a_missing_artifact(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files))
    registry.artifacts.path(version.artifact_path).unlink()

    with pytest.raises(ArtifactIntegrityError, match="missing"):
        registry.load(version)


def test_reference_without_the_target_names_the_target_and_the_columns(
    registry: Registry, churn_files: tuple[Path, Path], project: Path
) -> None:
    reference = project / "no-target.parquet"
    pd.read_parquet(churn_files[1]).drop(columns=["churned"]).to_parquet(reference)

    with pytest.raises(ReferenceDataError) as refused:
        registry.register(churn(churn_files, reference=reference))
    assert refused.value.field == "target"
    assert "'churned'" in refused.value.message
    assert "tenure, charges, plan" in refused.value.message


def test_reference_lacking_model_features_names_them(
    registry: Registry, churn_files: tuple[Path, Path], project: Path
) -> None:
    reference = project / "no-plan.parquet"
    pd.read_parquet(churn_files[1]).drop(columns=["plan", "charges"]).to_parquet(reference)

    with pytest.raises(ReferenceDataError) as refused:
        registry.register(churn(churn_files, reference=reference))
    assert refused.value.field == "reference"
    assert "charges, plan" in refused.value.message


def test_reference_that_is_not_a_table_is_refused(
    registry: Registry, churn_files: tuple[Path, Path], project: Path
) -> None:
    reference = project / "reference.json"
    reference.write_text("{}")

    with pytest.raises(ReferenceDataError, match=r"\.parquet or \.csv"):
        registry.register(churn(churn_files, reference=reference))


def test_without_reference_or_schema_the_inputs_come_from_the_model(
    registry: Registry, churn_files: tuple[Path, Path]
) -> None:
    version = registry.register(churn(churn_files, reference=None, target=None))

    # A pipeline fitted on a DataFrame knows its column names but not their kinds.
    assert version.input_schema.names == ["tenure", "charges", "plan"]
    assert version.profile is None and version.reference_path is None


# -- atomicity ---------------------------------------------------------------------------


def _failing_registrations(
    files: tuple[Path, Path], project: Path
) -> dict[str, tuple[Registration, type[Exception]]]:
    model, reference = files
    no_plan = project / "no-plan.parquet"
    pd.read_parquet(reference).drop(columns=["plan"]).to_parquet(no_plan)
    garbage = project / "garbage.bin"
    garbage.write_bytes(b"\x00not a model\xff" * 64)
    crashing = project / "crashing.py"
    crashing.write_text(
        "class Crash:\n"
        "    output_kind = 'regression'\n"
        "    def predict(self, frame):\n"
        "        raise RuntimeError('boom')\n"
    )
    return {
        "garbage artifact": (churn(files, source=str(garbage)), ArtifactError),
        "wrong flavor": (churn(files, flavor="onnx"), ArtifactError),
        "missing target": (churn(files, target="nope"), ReferenceDataError),
        "reference lacks a feature": (churn(files, reference=no_plan), ReferenceDataError),
        "model fails on the reference": (
            churn(files, flavor="python", source=f"{crashing}:Crash", target=None, trust_code=True),
            ArtifactError,
        ),
        # Fails only when the version row is written, after both files are stored.
        "database refuses the row": (churn(files, tags={"owner": object()}), StatementError),
    }


FAILURES = [
    "garbage artifact",
    "wrong flavor",
    "missing target",
    "reference lacks a feature",
    "model fails on the reference",
    "database refuses the row",
]


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failed_first_registration_leaves_nothing_behind(
    registry: Registry,
    churn_files: tuple[Path, Path],
    project: Path,
    store_state: Callable[[], StoreState],
    failure: str,
) -> None:
    request, error = _failing_registrations(churn_files, project)[failure]
    before = store_state()

    with pytest.raises(error):
        registry.register(request)

    assert store_state() == before == (0, 0, frozenset())
    with pytest.raises(ModelNotFound):
        registry.versions("churn")


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failed_later_registration_keeps_the_earlier_version_intact(
    registry: Registry,
    churn_files: tuple[Path, Path],
    project: Path,
    store_state: Callable[[], StoreState],
    failure: str,
) -> None:
    first = registry.register(churn(churn_files))
    request, error = _failing_registrations(churn_files, project)[failure]
    before = store_state()

    with pytest.raises(error):
        registry.register(request)

    assert store_state() == before
    assert before[:2] == (1, 1)
    # The failed call reused version 1's blobs; they must still be there and intact.
    assert registry.get("churn") == first
    registry.load(first)
    assert registry.reference_frame(first) is not None


# -- concurrency -------------------------------------------------------------------------


def test_threads_registering_one_model_get_consecutive_versions(
    registry: Registry, predictor_file: Path
) -> None:
    workers, rounds = 8, 4
    start = threading.Barrier(workers)
    versions: list[int] = []
    failures: list[BaseException] = []
    request = Registration(
        name="threshold", source=f"{predictor_file}:Threshold", flavor="python", trust_code=True
    )

    def register() -> None:
        start.wait()
        try:
            for _ in range(rounds):
                versions.append(registry.register(request).version)
        except BaseException as exc:  # collected so the main thread reports it
            failures.append(exc)

    threads = [threading.Thread(target=register) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    expected = list(range(1, workers * rounds + 1))
    assert sorted(versions) == expected
    assert [v.version for v in registry.versions("threshold")] == expected


REGISTER_IN_A_PROCESS = """
import sys
from pathlib import Path
from modelport.config import Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database

settings = Settings.load()
registry = Registry(Database(settings.database_url), ArtifactStore(settings.artifacts_dir))
print("ready", flush=True)
sys.stdin.readline()
request = Registration(
    name="threshold", source=sys.argv[1] + ":Threshold", flavor="python", trust_code=True
)
print(registry.register(request).version, flush=True)
"""


def test_processes_registering_one_model_get_consecutive_versions(
    registry: Registry, predictor_file: Path, project: Path
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER_IN_A_PROCESS, str(predictor_file)],
            cwd=project,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.stderr
        for process in processes:  # release them all at once
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [p.returncode for p in processes] == [0] * 3, [err for _, err in outputs]
    assert sorted(int(out) for out, _ in outputs) == [1, 2, 3]
    assert [v.version for v in registry.versions("threshold")] == [1, 2, 3]
