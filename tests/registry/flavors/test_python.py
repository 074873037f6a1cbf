from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.batch import Batch
from modelport.errors import ArtifactError, UntrustedCode
from modelport.registry.service import Registration, Registry
from modelport.schema import FeatureSpec

from ..conftest import StoreState

PROBES = Batch({"x": np.array([0.9, 0.1])}, 2)


def test_predictor_from_a_file_is_stored_and_loads_from_the_store(
    registry: Registry, predictor_file: Path
) -> None:
    version = registry.register(
        Registration(
            name="threshold", source=f"{predictor_file}:Threshold", flavor="python", trust_code=True
        )
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
        Registration(
            name="threshold",
            source=f"{importable_module}:Threshold",
            flavor="python",
            trust_code=True,
        )
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
            trust_code=True,
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
        registry.register(
            Registration(name="threshold", source=source, flavor="python", trust_code=True)
        )
    assert message in refused.value.message


def test_unknown_attribute_of_a_file_is_refused(registry: Registry, predictor_file: Path) -> None:
    with pytest.raises(ArtifactError, match="'Nope'"):
        registry.register(
            Registration(
                name="threshold", source=f"{predictor_file}:Nope", flavor="python", trust_code=True
            )
        )


def test_predictor_without_schema_or_reference_is_refused(
    registry: Registry, project: Path
) -> None:
    path = project / "bare.py"
    path.write_text("class Bare:\n    def predict(self, frame):\n        return frame\n")

    with pytest.raises(ArtifactError) as refused:
        registry.register(
            Registration(name="bare", source=f"{path}:Bare", flavor="python", trust_code=True)
        )
    assert refused.value.field == "schema"


# -- trust: importing a module runs it -------------------------------------------------
SIDE_EFFECT = """
import pathlib

pathlib.Path({marker!r}).write_text("ran")


class Threshold:
    classes = ["high", "low"]
    input_schema = [{{"name": "x", "kind": "float"}}]

    def predict(self, frame):
        return ["high"] * len(frame)
"""


@pytest.fixture
def side_effect(project: Path) -> tuple[Path, Path]:
    """A predictor file that writes ``marker`` when imported."""
    marker = project / "imported.txt"
    path = project / "side_effect.py"
    path.write_text(SIDE_EFFECT.format(marker=str(marker)))
    return path, marker


def test_a_file_is_refused_without_trust_code_before_it_is_imported(
    registry: Registry, side_effect: tuple[Path, Path], store_state: Callable[[], StoreState]
) -> None:
    path, marker = side_effect
    before = store_state()

    with pytest.raises(UntrustedCode) as refused:
        registry.register(
            Registration(name="threshold", source=f"{path}:Threshold", flavor="python")
        )

    assert refused.value.code == "untrusted_code" and refused.value.field == "trust_code"
    assert "--trust-code" in refused.value.message
    assert not marker.exists()
    assert store_state() == before


def test_a_module_is_refused_without_trust_code_before_it_is_imported(
    registry: Registry, side_effect: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, marker = side_effect
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.delitem(sys.modules, "side_effect", raising=False)

    with pytest.raises(UntrustedCode):
        registry.register(
            Registration(name="threshold", source="side_effect:Threshold", flavor="python")
        )

    assert "side_effect" not in sys.modules
    assert not marker.exists()


def test_trust_code_lets_the_operator_register_it(
    registry: Registry, side_effect: tuple[Path, Path]
) -> None:
    path, marker = side_effect

    version = registry.register(
        Registration(name="threshold", source=f"{path}:Threshold", flavor="python", trust_code=True)
    )

    assert marker.read_text() == "ran"
    assert registry.load(version).predict(PROBES).outputs.tolist() == ["high", "high"]
