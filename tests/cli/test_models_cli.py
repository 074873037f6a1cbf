"""The real ``modelport`` command: registration, endpoints, and its refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from support import run_cli


def _blobs(project: Path) -> set[str]:
    folder = project / ".modelport" / "artifacts"
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _prepare(project: Path, churn_files: tuple[Path, Path]) -> None:
    model, reference = churn_files
    shutil.copy(model, project / "model.skops")
    shutil.copy(reference, project / "train.parquet")


def test_register_list_show_and_create_endpoint(
    project: Path, churn_files: tuple[Path, Path]
) -> None:
    _prepare(project, churn_files)
    registered = run_cli(
        "models",
        "register",
        "churn",
        "model.skops",
        "--reference",
        "train.parquet",
        "--target",
        "churned",
        "--description",
        "first",
        "--tag",
        "team=growth",
        cwd=project,
    )
    assert "registered churn:1" in registered.stdout
    second = run_cli("models", "register", "churn", "model.skops", "--json", cwd=project)
    assert json.loads(second.stdout)["version"] == 2
    listed = json.loads(run_cli("models", "list", "--json", cwd=project).stdout)
    assert listed[0]["name"] == "churn" and listed[0]["versions"] == 2
    shown = json.loads(run_cli("models", "show", "churn:1", "--json", cwd=project).stdout)
    assert shown["tags"] == {"team": "growth"} and shown["description"] == "first"
    features = {f["name"]: f for f in shown["input_schema"]["features"]}
    assert features["plan"]["kind"] == "category"
    assert features["plan"]["categories"] == ["basic", "plus", "pro"]
    assert features["tenure"]["kind"] == "int"
    table = run_cli("models", "show", "churn", cwd=project).stdout
    assert "first" in table
    run_cli("endpoints", "create", "churn", "--model", "churn:1", cwd=project)
    endpoints = json.loads(run_cli("endpoints", "list", "--json", cwd=project).stdout)
    assert endpoints[0]["version"] == 1
    run_cli("endpoints", "set", "churn", "--model", "churn:2", cwd=project)
    history = json.loads(run_cli("endpoints", "history", "churn", cwd=project).stdout)
    assert [h["action"] for h in history] == ["set-version", "create"]


def _refused(project: Path, *args: str) -> str:
    before = _blobs(project)
    result = run_cli(*args, cwd=project, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    assert _blobs(project) == before
    listed = run_cli("models", "list", "--json", cwd=project).stdout
    assert json.loads(listed) == [] or all(m["versions"] >= 1 for m in json.loads(listed))
    return result.stderr


def test_registration_refusals_leave_nothing_behind(
    project: Path, churn_files: tuple[Path, Path]
) -> None:
    _prepare(project, churn_files)
    (project / "garbage.skops").write_bytes(b"\x00not a model")
    truncated = (project / "model.skops").read_bytes()[:200]
    (project / "truncated.skops").write_bytes(truncated)
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(project / "wrong.parquet")

    assert "does not exist" in _refused(project, "models", "register", "churn", "missing.skops")
    assert "skops" in _refused(project, "models", "register", "churn", "garbage.skops")
    assert "skops" in _refused(project, "models", "register", "churn", "truncated.skops")
    assert "ONNX" in _refused(
        project, "models", "register", "churn", "model.skops", "--flavor", "onnx"
    )
    assert "unknown flavor" in _refused(
        project, "models", "register", "churn", "model.skops", "--flavor", "tensorflow"
    )
    message = _refused(
        project, "models", "register", "churn", "model.skops", "--reference", "wrong.parquet"
    )
    assert "reference" in message and "tenure" in message
    assert "target column 'nope'" in _refused(
        project,
        "models",
        "register",
        "churn",
        "model.skops",
        "--reference",
        "train.parquet",
        "--target",
        "nope",
    )
    assert json.loads(run_cli("models", "list", "--json", cwd=project).stdout) == []


def test_config_and_usage_errors_are_one_line(project: Path) -> None:
    (project / "modelport.toml").write_text("[server]\nport = 'abc'\n")
    result = run_cli("models", "list", cwd=project, check=False)
    assert result.returncode == 1
    assert "server.port" in result.stderr and "Traceback" not in result.stderr
    (project / "modelport.toml").write_text("[store]\nhome = '.modelport'\n")
    unknown = run_cli("endpoints", "show", "nope", cwd=project, check=False)
    assert unknown.returncode == 1 and "endpoint 'nope' does not exist" in unknown.stderr
    bad_ref = run_cli("endpoints", "create", "x", "--model", "churn:zero", cwd=project, check=False)
    assert bad_ref.returncode == 1 and "positive integer" in bad_ref.stderr
    bad_since = run_cli(
        "logs", "export", "x", "-o", "x.parquet", "--since", "yesterday", cwd=project, check=False
    )
    assert bad_since.returncode == 1 and "--since" in bad_since.stderr
