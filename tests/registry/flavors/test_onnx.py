from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelport.batch import Batch
from modelport.errors import ArtifactError
from modelport.registry.service import Registration, Registry


def register(registry: Registry, source: Path, flavor: str, **options: Any) -> Any:
    return registry.register(
        Registration(name="approve", source=str(source), flavor=flavor, **options)
    )


@pytest.mark.parametrize("variant", ["onnx_zipmap", "onnx_plain"])
def test_onnx_model_predicts_what_the_sklearn_model_predicts(
    registry: Registry, numeric_model: Any, variant: str
) -> None:
    onnx_path = getattr(numeric_model, variant)
    onnx = register(
        registry, onnx_path, "onnx", reference=numeric_model.reference, target="approved"
    )
    sklearn = register(
        registry,
        numeric_model.skops,
        "sklearn",
        reference=numeric_model.reference,
        target="approved",
    )

    assert onnx.input_schema.names == sklearn.input_schema.names == ["a", "b"]
    # ONNX tensors carry no class names: they come from the labels seen at registration.
    assert onnx.output.classes == sklearn.output.classes == ["no", "yes"]
    assert onnx.output.has_probabilities
    batch = Batch.from_frame(numeric_model.features, onnx.input_schema)
    from_onnx = registry.load(onnx).predict(batch)
    from_sklearn = registry.load(sklearn).predict(batch)
    assert from_onnx.outputs.tolist() == from_sklearn.outputs.tolist()
    assert from_onnx.outputs.tolist() == numeric_model.labels.tolist()
    assert from_onnx.probabilities is not None and from_sklearn.probabilities is not None
    np.testing.assert_allclose(from_onnx.probabilities, from_sklearn.probabilities, atol=1e-5)


def test_onnx_without_reference_knows_only_the_input_width(
    registry: Registry, numeric_model: Any
) -> None:
    version = register(registry, numeric_model.onnx_plain, "onnx")

    assert version.input_schema.names == ["f0", "f1"]
    assert version.output.kind == "classification"


def test_skops_file_registered_as_onnx_is_refused(registry: Registry, numeric_model: Any) -> None:
    with pytest.raises(ArtifactError) as refused:
        register(registry, numeric_model.skops, "onnx")
    assert "approve.skops is not a loadable ONNX model" in refused.value.message


def test_garbage_registered_as_onnx_is_refused(registry: Registry, tmp_path: Path) -> None:
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"\x08\x01garbage" * 50)

    with pytest.raises(ArtifactError, match="model.onnx is not a loadable ONNX model"):
        register(registry, garbage, "onnx")
