"""The public Python API is what ``__all__`` says, no more and no less."""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

import pytest

import modelport

PUBLIC = [
    "Batch",
    "FeatureSpec",
    "InputSchema",
    "ModelportError",
    "OutputSpec",
    "Prediction",
    "Settings",
    "__version__",
]


def test_all_is_the_reviewed_list() -> None:
    # Changing the public API is deliberate: update this list in the same change.
    assert sorted(modelport.__all__) == PUBLIC
    assert len(set(modelport.__all__)) == len(modelport.__all__)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from modelport import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(modelport.__all__)


def test_nothing_public_is_left_out_of_all() -> None:
    # The public names load on first use: what the package holds so far is a part of them.
    public = {
        name
        for name, value in vars(modelport).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }

    assert public <= set(modelport.__all__) - {"__version__"}
    assert set(dir(modelport)) >= set(modelport.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        modelport.Nope  # noqa: B018


@pytest.mark.parametrize("name", PUBLIC)
def test_each_name_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from modelport import {name}", namespace)

    assert namespace[name] is getattr(modelport, name)


def test_version_matches_the_installed_distribution() -> None:
    assert modelport.__version__ == importlib.metadata.version("modelport")


@pytest.mark.parametrize(
    "package",
    [
        "modelport.registry",
        "modelport.registry.flavors",
        "modelport.predlog",
        "modelport.store",
    ],
)
def test_subpackage_all_names_exist(package: str) -> None:
    module = importlib.import_module(package)

    assert module.__all__
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
