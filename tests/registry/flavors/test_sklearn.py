from __future__ import annotations

import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier

from modelport.batch import Batch
from modelport.errors import ArtifactError, UntrustedTypes
from modelport.registry.flavors import get_flavor
from modelport.registry.service import Registration, Registry

from ..conftest import StoreState


def register(registry: Registry, source: Path, **options: Any) -> Any:
    return registry.register(
        Registration(name="approve", source=str(source), flavor="sklearn", **options)
    )


@pytest.fixture
def pickled(numeric_model: Any, tmp_path: Path) -> Path:
    path = tmp_path / "approve.joblib"
    joblib.dump(sio.load(numeric_model.skops), path)
    return path


def test_pickle_is_refused_without_trust(registry: Registry, pickled: Path) -> None:
    with pytest.raises(ArtifactError) as refused:
        register(registry, pickled)
    assert "approve.joblib is not a skops file" in refused.value.message
    assert "--trust-pickle" in refused.value.message


def test_pickle_is_loaded_when_trusted(
    registry: Registry, pickled: Path, numeric_model: Any
) -> None:
    version = register(registry, pickled, trust_pickle=True)

    assert version.loader == {"format": "pickle"}
    assert version.input_schema.names == ["f0", "f1"]
    batch = Batch({"f0": np.array([2.0, -2.0]), "f1": np.array([0.0, 0.0])}, 2)
    assert registry.load(version).predict(batch).outputs.tolist() == ["yes", "no"]


def test_garbage_is_refused_even_with_trust(registry: Registry, tmp_path: Path) -> None:
    garbage = tmp_path / "model.pkl"
    garbage.write_bytes(b"\x00\x01 not a pickle")

    with pytest.raises(ArtifactError, match="cannot unpickle model.pkl"):
        register(registry, garbage, trust_pickle=True)


@pytest.fixture
def untrusted_skops(tmp_path: Path) -> Path:
    """A pipeline whose first step calls ``operator.neg``: not a type skops trusts."""
    features = np.random.default_rng(0).normal(size=(60, 2))
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression())
    model.fit(features, features[:, 0] > 0)
    path = tmp_path / "negated.skops"
    sio.dump(model, path)
    return path


def test_skops_with_an_untrusted_type_is_refused_naming_it(
    registry: Registry, untrusted_skops: Path
) -> None:
    with pytest.raises(UntrustedTypes) as refused:
        register(registry, untrusted_skops)
    assert "_operator.neg" in refused.value.message
    assert "--trust-type" in refused.value.message
    assert refused.value.details == {"types": ["_operator.neg"]}


def test_skops_with_an_untrusted_type_loads_once_trusted(
    registry: Registry, untrusted_skops: Path
) -> None:
    version = register(registry, untrusted_skops, trusted_types=["_operator.neg"])

    batch = Batch({"f0": np.array([3.0]), "f1": np.array([0.0])}, 1)
    assert registry.load(version).predict(batch).outputs.tolist() == [True]


def test_onnx_file_registered_as_sklearn_is_refused(registry: Registry, numeric_model: Any) -> None:
    with pytest.raises(ArtifactError) as refused:
        register(registry, numeric_model.onnx_plain)
    assert "approve-plain.onnx is not a skops file" in refused.value.message


def test_missing_file_is_reported_as_missing(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        register(registry, tmp_path / "nowhere.skops")


def test_unknown_flavor_lists_the_known_ones(registry: Registry, numeric_model: Any) -> None:
    with pytest.raises(ArtifactError) as refused:
        registry.register(
            Registration(name="approve", source=str(numeric_model.skops), flavor="torch")
        )
    assert refused.value.field == "flavor"
    assert "onnx, python, sklearn" in refused.value.message


# -- trust: skops' own defaults plus exactly the types the operator names ---------------
@pytest.fixture
def numpy_function_skops(tmp_path: Path) -> Path:
    """A pipeline naming ``numpy.savetxt``: a numpy function, which is not trusted for
    living under ``numpy.``."""
    features = np.random.default_rng(0).normal(size=(60, 2))
    model = make_pipeline(FunctionTransformer(), LogisticRegression())
    model.fit(features, features[:, 0] > 0)
    model[0].func = np.savetxt  # only named in the file: refused before it could be called
    path = tmp_path / "savetxt.skops"
    sio.dump(model, path)
    return path


@pytest.fixture
def tree_skops(tmp_path: Path) -> Path:
    """A decision tree: its ``sklearn.tree._tree.Tree`` is outside skops' defaults."""
    features = np.random.default_rng(0).normal(size=(60, 2))
    model = DecisionTreeClassifier(max_depth=2).fit(features, features[:, 0] > 0)
    path = tmp_path / "tree.skops"
    sio.dump(model, path)
    return path


def test_a_numpy_function_is_not_trusted_by_its_prefix(
    registry: Registry, numpy_function_skops: Path, store_state: Callable[[], StoreState]
) -> None:
    before = store_state()

    with pytest.raises(UntrustedTypes) as refused:
        register(registry, numpy_function_skops)

    assert refused.value.code == "untrusted_types" and refused.value.status == 422
    assert refused.value.field == "trust_types"
    assert refused.value.details == {"types": ["numpy.savetxt"]}
    assert "numpy.savetxt" in refused.value.message
    assert store_state() == before


def test_an_sklearn_type_outside_skops_defaults_is_not_trusted_by_its_prefix(
    registry: Registry, tree_skops: Path
) -> None:
    with pytest.raises(UntrustedTypes) as refused:
        register(registry, tree_skops)
    assert refused.value.details == {"types": ["sklearn.tree._tree.Tree"]}


def test_the_named_types_are_stored_and_are_what_every_load_trusts(
    registry: Registry, tree_skops: Path
) -> None:
    version = register(
        registry, tree_skops, trusted_types=["sklearn.tree._tree.Tree", "sklearn.tree._tree.Tree"]
    )

    assert version.loader == {"format": "skops", "trusted_types": ["sklearn.tree._tree.Tree"]}
    stored = registry.get("approve", version.version)
    batch = Batch({"f0": np.array([3.0, -3.0]), "f1": np.array([0.0, 0.0])}, 2)
    assert registry.load(stored).predict(batch).outputs.tolist() == [True, False]
    # The same file with a loader that names nothing is refused at load, before skops
    # builds anything.
    path = registry.artifacts.verified(stored.artifact_path, stored.artifact_sha256)
    with pytest.raises(UntrustedTypes, match=r"sklearn\.tree\._tree\.Tree"):
        get_flavor("sklearn").load(
            path, {"format": "skops", "trusted_types": []}, stored.input_schema, stored.output
        )


def test_trusting_one_type_does_not_trust_another(
    registry: Registry, untrusted_skops: Path
) -> None:
    with pytest.raises(UntrustedTypes) as refused:
        register(registry, untrusted_skops, trusted_types=["sklearn.tree._tree.Tree"])
    assert refused.value.details == {"types": ["_operator.neg"]}


@pytest.mark.parametrize("name", ["", "Tree", "numpy.", "numpy.*", "os.system; rm", ".x.y"])
def test_a_trusted_type_must_be_a_dotted_name(
    registry: Registry, untrusted_skops: Path, name: str
) -> None:
    with pytest.raises(ArtifactError) as refused:
        register(registry, untrusted_skops, trusted_types=[name])
    assert refused.value.field == "trust_types"
