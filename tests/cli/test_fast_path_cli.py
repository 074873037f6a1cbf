"""``modelport models fast-path`` and the fast path in ``models register``/``show``, through
the real command: what it shows, what it switches, and precise refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge

from modelport.config import DEFAULT_TOML
from support import run_cli


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """price:1 (a Ridge regressor, checked at registration), price:2 (--no-fast-path)."""
    folder = tmp_path_factory.mktemp("fast-path-cli")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    x, y = make_regression(n_samples=500, n_features=8, noise=1.0, random_state=0)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    sio.dump(Ridge().fit(frame, y * 1000), folder / "model.skops")
    frame.assign(price=y * 1000).to_parquet(folder / "train.parquet")
    common = ("model.skops", "--reference", "train.parquet", "--target", "price")
    first = run_cli("models", "register", "price", *common, cwd=folder)
    assert "fast path (ONNX): on, check passed on 500 reference rows" in first.stdout
    assert "serves with onnx" in first.stdout
    run_cli("models", "register", "price", *common, "--no-fast-path", cwd=folder)
    return folder


def _refused(project: Path, *args: str) -> str:
    result = run_cli(*args, cwd=project, check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    return " ".join(result.stderr.split())


def _state(project: Path, ref: str) -> dict[str, object]:
    shown = run_cli("models", "fast-path", ref, "--json", cwd=project)
    state: dict[str, object] = json.loads(shown.stdout)["fast_path"]
    return state


def test_show_tells_the_check_and_the_runtime_then_switches_change_it(project: Path) -> None:
    detail = run_cli("models", "show", "price:1", cwd=project).stdout
    assert "fast path (ONNX): on, check passed" in detail
    assert "converted with skl2onnx" in detail and "double inputs" in detail
    listed = json.loads(run_cli("models", "show", "price", "--json", cwd=project).stdout)
    assert [v["fast_path"]["runtime"] for v in listed] == ["onnx", "sklearn"]
    assert _state(project, "price:2")["status"] == "unchecked"
    # The switches below change both versions: checked here, in order, not by another test
    # that a random order might run first.
    _off_on_and_check_switch_what_serves(project)


def _off_on_and_check_switch_what_serves(project: Path) -> None:
    off = run_cli("models", "fast-path", "price:1", "--off", cwd=project).stdout
    assert "fast path (ONNX): off, check passed" in off and "serves with sklearn" in off
    assert _state(project, "price:1")["runtime"] == "sklearn"
    checked = run_cli("models", "fast-path", "price:1", "--check", cwd=project).stdout
    assert "off, check passed" in checked  # a new check keeps the switch
    run_cli("models", "fast-path", "price:1", "--on", cwd=project)
    assert _state(project, "price:1")["runtime"] == "onnx"
    # The never-checked version: on, but nothing to serve with until a check passes.
    run_cli("models", "fast-path", "price:2", "--check", cwd=project)
    assert _state(project, "price:2")["status"] == "passed"
    history = json.loads(run_cli("models", "history", "price", cwd=project).stdout)
    assert sum(1 for entry in history if entry["action"] == "fast-path") == 4


def test_bad_input_gets_a_precise_error(project: Path) -> None:
    both = _refused(project, "models", "fast-path", "price:1", "--on", "--off")
    assert "[fast_path]" in both and "give one of --on, --off, --check" in both
    missing = _refused(project, "models", "fast-path", "price:9", "--off")
    assert "version_not_found" in missing and "no version 9" in missing
    unknown = _refused(project, "models", "fast-path", "nobody:1")
    assert "model_not_found" in unknown
    bad_ref = _refused(project, "models", "fast-path", "price:x")
    assert "positive integer" in bad_ref
    flag = run_cli("models", "fast-path", "price:1", "--sideways", cwd=project, check=False)
    assert flag.returncode == 2 and "--sideways" in flag.stderr
    assert _state(project, "price:1")["enabled"] is True
