"""Hostile model artifacts, through the real CLI and a real server on 127.0.0.1.

Each hostile file, if it were loaded, would leave a marker file behind: a skops tree that
calls ``numpy.savetxt`` (writes the marker), a skops file that calls
``numpy.load(itself, None, True)`` on its own bytes, which start with a pickle that writes
the marker; a python module that writes the marker on import; a pickle that writes it
when unpickled. Every test asserts the marker's absence (nothing ran) and an unchanged
registry and artifact store (nothing stored), besides the refusal itself.

The skops files are crafted the way an attacker would: ``schema.json`` of a real model
with one more attribute, a node whose loader builds an object by calling
``module.name(*args)`` (skops' ``LossNode``); before the fix, anything under ``numpy.``
was trusted by its prefix and the call ran at registration.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from modelport.config import DEFAULT_TOML
from support import LiveServer, run_cli

ADMIN_TOKEN = "admin-secret-for-uploads"
FEATURES = np.random.default_rng(0).normal(size=(60, 2))
LABELS = FEATURES[:, 0] > 0


# -- hostile files ------------------------------------------------------------------------
def _json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def _call_node(module: str, name: str, *args: Any) -> dict[str, Any]:
    """A skops node that, when built, calls ``module.name(*args)``."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "LossNode",
        "__reduce__": {
            "args": {
                "__class__": "tuple",
                "__module__": "builtins",
                "__loader__": "TupleNode",
                "content": [_json_node(arg) for arg in args],
            }
        },
        "content": {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {},
            "key_types": {
                "__class__": "list",
                "__module__": "builtins",
                "__loader__": "ListNode",
                "content": [],
            },
        },
    }


def _with_extra_attribute(node: dict[str, Any]) -> bytes:
    """A real skops LogisticRegression whose attributes gain ``extra = <node>``."""
    source = io.BytesIO()
    sio.dump(LogisticRegression().fit(FEATURES, LABELS), source)
    original = zipfile.ZipFile(source)
    schema = json.loads(original.read("schema.json"))
    schema["content"]["content"]["extra"] = node
    schema["content"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    )
    crafted = io.BytesIO()
    with zipfile.ZipFile(crafted, "w") as archive:
        for member in original.namelist():
            data = original.read(member)
            archive.writestr(member, json.dumps(schema) if member == "schema.json" else data)
    return crafted.getvalue()


class _WritesMarker:
    """Unpickling this writes ``path``: what any pickle can do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.path)!r}, 'w').close()",))


def savetxt_skops(folder: Path, marker: Path) -> Path:
    path = folder / "savetxt.skops"
    path.write_bytes(_with_extra_attribute(_call_node("numpy", "savetxt", str(marker), [[1.0]])))
    return path


def numpy_load_skops(folder: Path, marker: Path) -> Path:
    """A file that is a pickle (at its start) and a skops zip (read from its end) at
    once; its tree calls ``numpy.load(<this file>, None, True)``, which unpickles it."""
    path = folder / "numpy-load.skops"
    node = _call_node("numpy", "load", str(path), None, True)
    path.write_bytes(pickle.dumps(_WritesMarker(marker)) + _with_extra_attribute(node))
    return path


def hostile_pickle(folder: Path, marker: Path) -> Path:
    path = folder / "model.joblib"
    path.write_bytes(pickle.dumps(_WritesMarker(marker)))
    return path


def honest_pickle(folder: Path) -> Path:
    path = folder / "honest.joblib"
    joblib.dump(LogisticRegression().fit(FEATURES, LABELS), path)
    return path


def tree_skops(folder: Path) -> Path:
    path = folder / "tree.skops"
    sio.dump(DecisionTreeClassifier(max_depth=2).fit(FEATURES, LABELS), path)
    return path


PYTHON_MODULE = """
import pathlib

pathlib.Path({marker!r}).write_text("imported")


class Constant:
    output_kind = "regression"
    input_schema = [{{"name": "x", "kind": "float"}}]

    def predict(self, frame):
        return [1.0] * len(frame)
"""


def python_module(folder: Path, marker: Path) -> Path:
    path = folder / "constant.py"
    path.write_text(PYTHON_MODULE.format(marker=str(marker)))
    return path


HOSTILE_SKOPS = {"savetxt": savetxt_skops, "numpy-load": numpy_load_skops}
CALLED = {"savetxt": "numpy.savetxt", "numpy-load": "numpy.load"}


def registered(project: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored loader of ``name``'s latest version and the details of its audit
    record, read from the project's own SQLite file."""
    from sqlalchemy import select

    from modelport.store.db import Database
    from modelport.store.tables import AuditRow, ModelRow, VersionRow

    db = Database(f"sqlite:///{project / '.modelport' / 'modelport.db'}")
    try:
        with db.session() as session:
            loader = session.scalars(
                select(VersionRow.loader)
                .join(ModelRow, VersionRow.model_id == ModelRow.id)
                .where(ModelRow.name == name)
                .order_by(VersionRow.version.desc())
            ).first()
            details = session.scalars(
                select(AuditRow.details)
                .where(AuditRow.subject == f"model:{name}", AuditRow.action == "register")
                .order_by(AuditRow.id.desc())
            ).first()
    finally:
        db.dispose()
    assert loader is not None and details is not None
    return loader, details


def stored_files(project: Path) -> set[str]:
    folder = project / ".modelport" / "artifacts"
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# -- through the CLI ----------------------------------------------------------------------
def _models(project: Path) -> list[Any]:
    listed: list[Any] = json.loads(run_cli("models", "list", "--json", cwd=project).stdout)
    return listed


@pytest.mark.parametrize("kind", sorted(HOSTILE_SKOPS))
def test_cli_refuses_a_skops_file_that_calls_a_numpy_function(project: Path, kind: str) -> None:
    marker = project / "written-by-the-model"
    hostile = HOSTILE_SKOPS[kind](project, marker)

    refused = run_cli("models", "register", "evil", hostile.name, cwd=project, check=False)

    assert refused.returncode == 1
    assert "untrusted_types" in refused.stderr and CALLED[kind] in refused.stderr
    assert not marker.exists()
    assert _models(project) == [] and stored_files(project) == set()


def test_cli_loads_a_type_outside_skops_defaults_only_when_named(project: Path) -> None:
    path = tree_skops(project)

    refused = run_cli("models", "register", "tree", path.name, cwd=project, check=False)
    accepted = run_cli(
        "models",
        "register",
        "tree",
        path.name,
        "--trust-type",
        "sklearn.tree._tree.Tree",
        "--json",
        cwd=project,
    )

    assert refused.returncode == 1 and "sklearn.tree._tree.Tree" in refused.stderr
    assert json.loads(accepted.stdout)["version"] == 1
    loader, audited = registered(project, "tree")
    assert loader == {"format": "skops", "trusted_types": ["sklearn.tree._tree.Tree"]}
    assert audited["trusted_types"] == ["sklearn.tree._tree.Tree"]


def test_cli_runs_python_code_only_with_trust_code(project: Path) -> None:
    marker = project / "imported"
    module = python_module(project, marker)

    refused = run_cli(
        "models", "register", "constant", f"{module.name}:Constant", "--flavor", "python",
        cwd=project, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "untrusted_code" in refused.stderr and "--trust-code" in refused.stderr
    assert not marker.exists()
    assert _models(project) == [] and stored_files(project) == set()

    run_cli(
        "models", "register", "constant", f"{module.name}:Constant", "--flavor", "python",
        "--trust-code", cwd=project,
    )  # fmt: skip
    assert marker.read_text() == "imported"
    assert [m["name"] for m in _models(project)] == ["constant"]


# -- over HTTP ----------------------------------------------------------------------------
def _serve(folder: Path, env: dict[str, str]) -> LiveServer:
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    return LiveServer(folder, env=env).start()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Default settings: no tokens, no code uploads."""
    server = _serve(tmp_path_factory.mktemp("default"), {})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_allowing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Code uploads allowed, but no tokens at all: nobody can present an admin token."""
    env = {
        "MODELPORT_SECURITY__ALLOW_PICKLE_UPLOAD": "true",
        "MODELPORT_SECURITY__ALLOW_CODE_UPLOAD": "true",
    }
    server = _serve(tmp_path_factory.mktemp("open-allowing"), env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def allowing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Code uploads allowed, and an admin token configured."""
    env = {
        "MODELPORT_SECURITY__ALLOW_PICKLE_UPLOAD": "true",
        "MODELPORT_SECURITY__ALLOW_CODE_UPLOAD": "true",
        "MODELPORT_AUTH__ADMIN_TOKENS": json.dumps([ADMIN_TOKEN]),
    }
    server = _serve(tmp_path_factory.mktemp("allowing"), env)
    try:
        yield server
    finally:
        server.stop()


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def upload(
    server: LiveServer,
    name: str,
    artifact: Path,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    with server.client(headers=headers or {}) as client:
        return client.post(
            f"/v1/models/{name}/versions",
            files={"artifact": (artifact.name, artifact.read_bytes())},
            data=fields,
        )


def models(server: LiveServer) -> list[str]:
    with server.client(headers=ADMIN) as client:
        response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return [m["name"] for m in response.json()["models"]]


@pytest.mark.parametrize("kind", sorted(HOSTILE_SKOPS))
def test_http_refuses_a_skops_file_that_calls_a_numpy_function(
    default_server: LiveServer, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "written-by-the-model"
    hostile = HOSTILE_SKOPS[kind](tmp_path, marker)
    before = stored_files(default_server.cwd)

    response = upload(default_server, "evil", hostile)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "untrusted_types" and body["field"] == "trust_types"
    assert body["details"] == {"types": [CALLED[kind]]}
    assert CALLED[kind] in body["message"]
    assert not marker.exists()
    assert "evil" not in models(default_server)
    assert stored_files(default_server.cwd) == before


@pytest.mark.parametrize("kind", sorted(HOSTILE_SKOPS))
def test_an_admin_token_does_not_make_a_skops_type_trusted(
    allowing_server: LiveServer, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "written-by-the-model"
    hostile = HOSTILE_SKOPS[kind](tmp_path, marker)

    response = upload(allowing_server, "evil", hostile, ADMIN, trust_pickle="true")

    assert response.status_code == 422 and response.json()["code"] == "untrusted_types"
    assert not marker.exists()
    assert "evil" not in models(allowing_server)


@pytest.mark.parametrize(
    "trust_types",
    ['["sklearn.tree._tree.Tree"]', "sklearn.tree._tree.Tree", " sklearn.tree._tree.Tree ,"],
    ids=["json", "comma", "comma-spaces"],
)
def test_http_trust_types_names_the_extra_types(
    default_server: LiveServer, tmp_path: Path, trust_types: str
) -> None:
    path = tree_skops(tmp_path)

    refused = upload(default_server, "tree", path)
    accepted = upload(default_server, "tree", path, trust_types=trust_types)

    assert refused.status_code == 422 and refused.json()["code"] == "untrusted_types"
    assert accepted.status_code == 201, accepted.text
    loader, _ = registered(default_server.cwd, "tree")
    assert loader["trusted_types"] == ["sklearn.tree._tree.Tree"]


@pytest.mark.parametrize("trust_types", ['["unclosed', '{"a": 1}', "[1, 2]", "not a name"])
def test_http_refuses_malformed_trust_types(
    default_server: LiveServer, tmp_path: Path, trust_types: str
) -> None:
    response = upload(default_server, "tree", tree_skops(tmp_path), trust_types=trust_types)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "trust_types"


def test_http_refuses_a_pickle_with_default_settings(
    default_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    hostile = hostile_pickle(tmp_path, marker)
    before = stored_files(default_server.cwd)

    trusted = upload(default_server, "evil", hostile, trust_pickle="true")
    untrusted = upload(default_server, "evil", hostile)

    assert trusted.status_code == 403, trusted.text
    assert trusted.json()["code"] == "upload_not_allowed"
    assert "security.allow_pickle_upload" in trusted.json()["message"]
    # Without the flag it is not a skops file, and nothing unpickles it either.
    assert untrusted.status_code == 422 and untrusted.json()["code"] == "artifact_error"
    assert not marker.exists()
    assert "evil" not in models(default_server)
    assert stored_files(default_server.cwd) == before


def test_http_refuses_python_code_with_default_settings(
    default_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"

    response = upload(
        default_server,
        "constant",
        python_module(tmp_path, marker),
        flavor="python",
        attr="Constant",
    )

    assert response.status_code == 403 and response.json()["code"] == "upload_not_allowed"
    assert response.json()["field"] == "flavor"
    assert not marker.exists()
    assert "constant" not in models(default_server)


def test_allowing_uploads_still_needs_an_admin_token(
    open_allowing_server: LiveServer, tmp_path: Path
) -> None:
    """An open server (no tokens) lets anyone reach admin routes; that is not an admin
    token, so code uploads stay refused there."""
    pickle_marker, module_marker = tmp_path / "unpickled", tmp_path / "imported"

    pickled = upload(
        open_allowing_server, "evil", hostile_pickle(tmp_path, pickle_marker), trust_pickle="1"
    )
    module = upload(
        open_allowing_server,
        "constant",
        python_module(tmp_path, module_marker),
        flavor="python",
        attr="Constant",
    )

    for response in (pickled, module):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "upload_not_allowed"
        assert "admin token" in response.json()["message"]
    assert not pickle_marker.exists() and not module_marker.exists()
    assert models(open_allowing_server) == []
    assert stored_files(open_allowing_server.cwd) == set()


def test_without_an_admin_token_a_pickle_is_refused_even_when_allowed(
    allowing_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    hostile = hostile_pickle(tmp_path, marker)

    anonymous = upload(allowing_server, "evil", hostile, trust_pickle="true")
    wrong = upload(
        allowing_server, "evil", hostile, {"Authorization": "Bearer nope"}, trust_pickle="1"
    )

    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert not marker.exists()
    assert "evil" not in models(allowing_server)


def test_with_the_setting_and_an_admin_token_a_pickle_is_accepted(
    allowing_server: LiveServer, tmp_path: Path
) -> None:
    response = upload(allowing_server, "honest", honest_pickle(tmp_path), ADMIN, trust_pickle="1")

    assert response.status_code == 201, response.text
    assert "honest" in models(allowing_server)
    loader, audited = registered(allowing_server.cwd, "honest")
    assert loader == {"format": "pickle"}
    assert audited["trusted"] == "pickle" and audited["version"] == 1


def test_with_the_setting_and_an_admin_token_python_code_is_accepted(
    allowing_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    module = python_module(tmp_path, marker)

    missing_attr = upload(allowing_server, "constant", module, ADMIN, flavor="python")
    accepted = upload(allowing_server, "constant", module, ADMIN, flavor="python", attr="Constant")

    assert missing_attr.status_code == 422 and missing_attr.json()["field"] == "attr"
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["flavor"] == "python"
    assert marker.read_text() == "imported"  # the server imported it, as allowed
    assert "constant" in models(allowing_server)
    assert registered(allowing_server.cwd, "constant")[1]["trusted"] == "code"
