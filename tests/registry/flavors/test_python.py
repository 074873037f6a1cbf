from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.errors import ArtifactError
from modelport.registry.service import Registration, Registry
from modelport.schema import FeatureSpec

PROBES = Batch({"x": np.array([0.9, 0.1])}, 2)


def test_predictor_from_a_file_is_stored_and_loads_from_the_store(
    registry: Registry, predictor_file: Path
) -> None:
    version = registry.register(
        Registration(name="threshold", source=f"{predictor_file}:Threshold", flavor="python")
    )
    # The model must not depend on the original file once registered.
    predictor_file.unlink()

    assert version.artifact_path.startswith("blobs/")
    assert version.input_schema.features == [FeatureSpec(name="x", kind="float")]
    assert version.output.classes == ["high", "low"]
    assert version.output.has_probabilities
    prediction = registry.load(version).predict(PROBES)
    assert prediction.outputs.tolist() == ["high", "low"]
    assert prediction.probabilities is not None
    assert prediction.probabilities.tolist() == [[1.0, 0.0], [0.0, 1.0]]


@pytest.fixture
def importable_module(predictor_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The predictor file as an importable module ``modelport_test_threshold``."""
    name = "modelport_test_threshold"
    predictor_file.rename(predictor_file.with_name(f"{name}.py"))
    monkeypatch.syspath_prepend(str(predictor_file.parent))
    monkeypatch.delitem(sys.modules, name, raising=False)
    yield name
    sys.modules.pop(name, None)


def test_predictor_from_an_importable_module(registry: Registry, importable_module: str) -> None:
    version = registry.register(
        Registration(name="threshold", source=f"{importable_module}:Threshold", flavor="python")
    )

    # Nothing is copied: the module is imported from the environment at load time.
    assert version.artifact_path == ""
    assert version.loader == {"attr": "Threshold", "module": importable_module}
    assert registry.load(version).predict(PROBES).outputs.tolist() == ["high", "low"]


def test_reference_data_decides_the_schema_of_a_python_predictor(
    registry: Registry, predictor_file: Path, project: Path
) -> None:
    reference = project / "reference.parquet"
    pd.DataFrame({"x": [0.2, None, 0.8], "label": ["low", "low", "high"]}).to_parquet(reference)

    version = registry.register(
        Registration(
            name="threshold",
            source=f"{predictor_file}:Threshold",
            flavor="python",
            reference=reference,
            target="label",
        )
    )

    assert version.input_schema.features == [FeatureSpec(name="x", kind="float", nullable=True)]
    assert version.reference_rows == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no_colon_here", "must be given as 'module:attr'"),
        ("json:dumps", "'dumps' has no predict(batch) method"),
        ("modelport_no_such_module:Thing", "No module named 'modelport_no_such_module'"),
        ("missing.py:Thing", "predictor file missing.py does not exist"),
    ],
)
def test_unusable_entry_points_are_refused(registry: Registry, source: str, message: str) -> None:
    with pytest.raises(ArtifactError) as refused:
        registry.register(Registration(name="threshold", source=source, flavor="python"))
    assert message in refused.value.message


def test_unknown_attribute_of_a_file_is_refused(registry: Registry, predictor_file: Path) -> None:
    with pytest.raises(ArtifactError, match="'Nope'"):
        registry.register(
            Registration(name="threshold", source=f"{predictor_file}:Nope", flavor="python")
        )


def test_predictor_without_schema_or_reference_is_refused(
    registry: Registry, project: Path
) -> None:
    path = project / "bare.py"
    path.write_text("class Bare:\n    def predict(self, frame):\n        return frame\n")

    with pytest.raises(ArtifactError) as refused:
        registry.register(Registration(name="bare", source=f"{path}:Bare", flavor="python"))
    assert refused.value.field == "schema"
