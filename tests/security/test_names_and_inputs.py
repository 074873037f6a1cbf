"""Hostile names and inputs against a real server: each gets its 4xx with a stable code
and the field it concerns, and nothing already stored changes.

Covered: the one name rule (API and CLI), integer query parameters, v2 BYTES lengths and
``data`` nesting against ``shape`` (JSON and binary tensors), the per-value string limit
(``serving.max_string_bytes``) on every input format, and the PATCH ``revision`` type.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from modelport.config import DEFAULT_TOML
from modelport.predlog.parquet import ParquetPredictionLog
from support import LiveServer, churn_instance, register_churn, run_cli

INFER = "/v2/models/churn/infer"
LIMIT = 4096  # serving.max_string_bytes, default


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("names-inputs")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(folder, churn_files)
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def _refused(response: httpx.Response, status: int, code: str, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body.get("field")) == (code, field), body


def _stored(client: httpx.Client) -> tuple[Any, Any]:
    """What a refusal must leave alone: every endpoint and every model version."""
    endpoints = client.get("/v1/endpoints").json()["endpoints"]
    for endpoint in endpoints:
        endpoint.pop("ready", None)
        endpoint.pop("error", None)
    return endpoints, client.get("/v1/models/churn").json()


def _log_folders(server: LiveServer) -> set[Path]:
    return {p for p in (server.cwd / ".modelport").rglob("*") if p.is_dir()}


# -- names ----------------------------------------------------------------------------------
BAD_NAMES: list[Any] = [
    "",
    "Churn",
    "a/b",
    "../escape",
    "..",
    "a..b",
    ".hidden",
    "-dash",
    "_under",
    "x" * 64,
    "has space",
    "ünï",
    "tab\there",
    "line\n",
    "a%2Fb",
    5,
    None,
    ["churn"],
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_endpoint_names_outside_the_rule_are_422(
    server: LiveServer, client: httpx.Client, name: Any
) -> None:
    before, folders = _stored(client), _log_folders(server)
    response = client.post("/v1/endpoints", json={"name": name, "model": "churn:1"})
    _refused(response, 422, "invalid_name", "name")
    assert _stored(client) == before
    assert _log_folders(server) == folders


def test_names_at_the_edge_of_the_rule_are_accepted(client: httpx.Client) -> None:
    for name in ("x" * 63, "0-a_b.c"):
        created = client.post("/v1/endpoints", json={"name": name, "model": "churn:1"})
        assert created.status_code == 201, created.text
        assert client.delete(f"/v1/endpoints/{name}").status_code == 204


def test_model_names_outside_the_rule_are_422_on_upload(
    client: httpx.Client, churn_files: tuple[Path, Path]
) -> None:
    model, _ = churn_files
    before = client.get("/v1/models").json()
    for name, shown in (("Churn", "Churn"), ("%2E%2E", ".."), ("a..b", "a..b")):
        response = client.post(
            f"/v1/models/{name}/versions",
            files={"artifact": ("model.skops", model.read_bytes())},
            data={"flavor": "sklearn"},
        )
        _refused(response, 422, "invalid_name", "name")
        assert repr(shown) in response.json()["message"]
    assert client.get("/v1/models").json() == before


def test_the_cli_refuses_the_same_names(
    server: LiveServer, client: httpx.Client, churn_files: tuple[Path, Path]
) -> None:
    before = _stored(client)
    model, _ = churn_files
    for args in (
        ("endpoints", "create", "Churn", "--model", "churn:1"),
        ("endpoints", "create", "../escape", "--model", "churn:1"),
        ("endpoints", "create", "a..b", "--model", "churn:1"),
        ("models", "register", "Bad-Name", str(model)),
        ("models", "register", "../up", str(model)),
    ):
        result = run_cli(*args, cwd=server.cwd, check=False)
        assert result.returncode == 1, result.stdout
        assert "invalid_name [name]" in result.stderr, result.stderr
    assert _stored(client) == before


# -- integer query parameters -------------------------------------------------------------
BAD_INTEGERS = ["99999999999999999999999", "-1", "0", "abc", "1.5", "²", "", "1e3", "0x10"]


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/endpoints/churn/monitoring", "last"),
        ("/v1/endpoints/churn/monitoring", "version"),
        ("/v1/endpoints/churn/monitoring/live", "version"),
        ("/v1/endpoints/churn/monitoring/history", "version"),
        ("/v1/endpoints/churn/rollout/history", "rollout"),
        ("/v1/endpoints/churn/rollout/report", "rollout"),
        ("/v1/endpoints/churn/history", "limit"),
    ],
)
def test_integer_query_parameters_are_bounded(client: httpx.Client, path: str, key: str) -> None:
    for value in BAD_INTEGERS:
        response = client.get(path, params={key: value})
        if value == "":
            # Empty means "not given", as before.
            assert response.status_code < 500, response.text
            continue
        _refused(response, 422, "validation_error", key)


def test_history_limit_is_honoured(client: httpx.Client) -> None:
    assert client.patch("/v1/endpoints/churn", json={"model": "churn:1"}).status_code == 200
    assert client.patch("/v1/endpoints/churn", json={"model": "churn:1"}).status_code == 200
    one = client.get("/v1/endpoints/churn/history", params={"limit": "1"})
    assert one.status_code == 200 and len(one.json()["history"]) == 1
    _refused(
        client.get("/v1/endpoints/churn/history", params={"limit": "1001"}),
        422,
        "validation_error",
        "limit",
    )


@pytest.mark.parametrize(
    ("path", "key", "value"),
    [
        ("/v1/endpoints/churn/monitoring", "window", "99999999999d"),
        ("/v1/endpoints/churn/monitoring", "since", "99999999999d"),
        ("/v1/endpoints/churn/monitoring", "until", "9999999999w"),
        ("/v1/endpoints/churn/monitoring", "since", "0001-01-01T00:00:00+14:00"),
        ("/v1/endpoints/churn/monitoring", "until", "9999-12-31T23:59:59-14:00"),
        ("/v1/endpoints/churn/monitoring", "baseline", "0001-01-01..9999-12-31"),
        ("/v1/endpoints/churn/monitoring/history", "since", "0001-01-01T00:00:00+14:00"),
        ("/v1/endpoints/churn/monitoring/history", "until", "9999-12-31T23:59:59-14:00"),
        ("/v1/endpoints/churn/monitoring/events", "since", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_times_beyond_the_calendar_are_422(
    client: httpx.Client, path: str, key: str, value: str
) -> None:
    _refused(client.get(path, params={key: value}), 422, "validation_error", key)


def test_model_reference_versions_must_be_ascii_digits(client: httpx.Client) -> None:
    before = _stored(client)
    for ref in ("churn:²", "churn:" + "9" * 5000):
        response = client.patch("/v1/endpoints/churn", json={"model": ref})
        _refused(response, 400, "invalid_request", "model")
    assert _stored(client) == before


# -- revision ---------------------------------------------------------------------------------
@pytest.mark.parametrize("revision", ["1", True, 1.0, [1], {"n": 1}])
def test_revision_must_be_an_integer(client: httpx.Client, revision: Any) -> None:
    before = _stored(client)
    response = client.patch("/v1/endpoints/churn", json={"model": "churn:1", "revision": revision})
    _refused(response, 422, "validation_error", "revision")
    assert _stored(client) == before


def test_an_integer_revision_is_still_checked(client: httpx.Client) -> None:
    current = client.get("/v1/endpoints/churn").json()["revision"]
    stale = client.patch("/v1/endpoints/churn", json={"model": "churn:1", "revision": current - 1})
    assert stale.status_code == 409, stale.text
    fresh = client.patch("/v1/endpoints/churn", json={"model": "churn:1", "revision": current})
    assert fresh.status_code == 200 and fresh.json()["revision"] == current + 1


# -- v2 tensors: nesting against shape -------------------------------------------------------
def _tensors(**changes: dict[str, Any]) -> dict[str, Any]:
    inputs = {
        "tenure": {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [3, 60]},
        "charges": {"name": "charges", "shape": [2], "datatype": "FP64", "data": [50.5, 90.0]},
        "plan": {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "pro"]},
    }
    for name, change in changes.items():
        inputs[name] = {**inputs[name], **change}
    return {"inputs": list(inputs.values())}


@pytest.mark.parametrize(
    "change",
    [
        {"data": [[3], [60]]},  # deeper than shape [2]
        {"shape": [2, 1], "data": [[3, 60]]},  # one row of two, shape says two rows of one
        {"shape": [2, 1], "data": [[3], 60]},  # ragged
        {"shape": [2, 1], "data": [[[3]], [[60]]]},  # deeper than shape [2, 1]
        {"shape": [1, 2], "data": [[3, 60]]},  # a per-feature tensor is [N] or [N, 1]
        {"shape": [1] * 9 + [2], "data": [3, 60]},  # too many dimensions
    ],
    ids=["deeper", "wrong-rows", "ragged", "deeper-2d", "wide", "many-dims"],
)
def test_v2_data_nesting_must_follow_shape(client: httpx.Client, change: dict[str, Any]) -> None:
    response = client.post(INFER, json=_tensors(tenure=change))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "wrong_shape"
    assert body["field"] in ("inputs[0].data", "inputs[0].shape")


def test_v2_nesting_that_matches_shape_is_accepted(client: httpx.Client) -> None:
    flat = client.post(INFER, json=_tensors())
    nested = client.post(INFER, json=_tensors(tenure={"shape": [2, 1], "data": [[3], [60]]}))
    assert flat.status_code == nested.status_code == 200, nested.text
    assert flat.json()["outputs"] == nested.json()["outputs"]


def test_v2_duplicate_tensor_names_are_422(client: httpx.Client) -> None:
    body = _tensors()
    body["inputs"].append(dict(body["inputs"][0]))
    _refused(client.post(INFER, json=body), 422, "validation_error", "inputs[3].name")


def test_v2_datatype_of_the_wrong_json_type_is_422(client: httpx.Client) -> None:
    response = client.post(INFER, json=_tensors(plan={"datatype": ["BYTES"]}))
    _refused(response, 422, "wrong_datatype", "inputs[2].datatype")


# -- v2 binary tensors --------------------------------------------------------------------------
def _binary(plan: bytes, rows: int = 2) -> tuple[bytes, dict[str, str]]:
    header = {
        "inputs": [
            {"name": "tenure", "shape": [rows], "datatype": "INT64", "data": [3] * rows},
            {"name": "charges", "shape": [rows], "datatype": "FP64", "data": [50.5] * rows},
            {
                "name": "plan",
                "shape": [rows],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(plan)},
            },
        ]
    }
    head = json.dumps(header).encode()
    return head + plan, {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }


def _element(text: bytes, declared: int | None = None) -> bytes:
    return struct.pack("<I", len(text) if declared is None else declared) + text


def test_v2_binary_bytes_overrunning_the_buffer_are_422(client: httpx.Client) -> None:
    good, headers = _binary(_element(b"basic") + _element(b"pro"))
    assert client.post(INFER, content=good, headers=headers).status_code == 200
    # The second element says 200 bytes but 3 remain: refused, not cut short to "pro".
    body, headers = _binary(_element(b"basic") + _element(b"pro", declared=200))
    _refused(
        client.post(INFER, content=body, headers=headers), 422, "wrong_shape", "inputs[2].data[1]"
    )
    body, headers = _binary(_element(b"basic") + b"\x03\x00")
    _refused(
        client.post(INFER, content=body, headers=headers), 422, "wrong_shape", "inputs[2].data[1]"
    )


def test_v2_binary_element_count_must_match_shape(client: httpx.Client) -> None:
    body, headers = _binary(_element(b"basic") + _element(b"pro") + _element(b"pro"))
    _refused(
        client.post(INFER, content=body, headers=headers), 422, "wrong_shape", "inputs[2].shape"
    )


def test_v2_binary_bytes_must_be_utf8(client: httpx.Client) -> None:
    body, headers = _binary(_element(b"basic") + _element(b"\xff\xfe"))
    _refused(
        client.post(INFER, content=body, headers=headers),
        422,
        "wrong_datatype",
        "inputs[2].data[1]",
    )


# -- the per-value string limit ------------------------------------------------------------------
MARKER = "zq7marker"


def test_strings_up_to_the_limit_are_accepted(client: httpx.Client) -> None:
    exact = {"instances": [churn_instance(plan="x" * LIMIT)]}
    assert client.post("/v1/endpoints/churn/predict", json=exact).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instances": [churn_instance(plan=MARKER + "x" * LIMIT)]}, "instances[0].plan"),
        # 2049 characters, 4098 bytes: the limit counts UTF-8 bytes, not characters.
        ({"instances": [churn_instance(plan=MARKER + "é" * 2045)]}, "instances[0].plan"),
        ({"inputs": [[3, 50.5, MARKER + "x" * 5_000_000]]}, "inputs[0][2]"),
    ],
    ids=["ascii", "utf8", "5mb-rows"],
)
def test_simple_json_strings_over_the_limit_are_422(
    client: httpx.Client, payload: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/endpoints/churn/predict", json=payload)
    _refused(response, 422, "value_too_long", field)
    assert len(response.content) < 2000  # the value is not echoed back


def test_v2_strings_over_the_limit_are_422(client: httpx.Client) -> None:
    long = MARKER + "x" * LIMIT
    response = client.post(INFER, json=_tensors(plan={"data": ["basic", long]}))
    _refused(response, 422, "value_too_long", "inputs[2].data[1]")
    body, headers = _binary(_element(b"basic") + _element(long.encode()))
    _refused(
        client.post(INFER, content=body, headers=headers),
        422,
        "value_too_long",
        "inputs[2].data[1]",
    )


def test_a_refused_long_string_never_reaches_the_log(
    server: LiveServer, client: httpx.Client
) -> None:
    huge = MARKER + "x" * 5_000_000
    refused = client.post(
        "/v1/endpoints/churn/predict", json={"instances": [churn_instance(plan=huge)]}
    )
    assert refused.status_code == 422
    v2 = client.post(INFER, json=_tensors(plan={"data": ["basic", huge]}))
    assert v2.status_code == 422
    # A request after them, once logged, shows the writer has passed them.
    after = client.post(
        "/v1/endpoints/churn/predict",
        json={"instances": [churn_instance()]},
        headers={"X-Request-ID": "after-the-long-ones"},
    )
    assert after.status_code == 200
    log = ParquetPredictionLog(server.cwd / ".modelport" / "logs")

    def logged() -> pa.Table | None:
        table = log.read("churn", columns=["request_id", "feature.plan"])
        if "request_id" not in table.column_names:
            return None
        return table if "after-the-long-ones" in table["request_id"].to_pylist() else None

    server.wait_for(lambda: logged() is not None)
    table = logged()
    assert table is not None
    assert not any(MARKER in str(plan) for plan in table["feature.plan"].to_pylist())
    # Nor anywhere else the server wrote (database, artifacts, the log's raw bytes).
    written = [p for p in (server.cwd / ".modelport").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written)
    for path in written:
        assert MARKER.encode() not in path.read_bytes(), path


# -- paths built from names -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", "../escape", "a/../../escape", "/tmp/escape", ""])
def test_log_paths_built_from_names_stay_inside_the_log(tmp_path: Path, name: str) -> None:
    import time

    from modelport.errors import UnsafePath
    from modelport.predlog.compaction import compact_endpoint
    from modelport.predlog.records import PredictionRecord

    root = tmp_path / "home" / "logs"
    root.mkdir(parents=True)
    log = ParquetPredictionLog(root)
    record = PredictionRecord(
        request_id="r1", endpoint=name, model="m", version=1, role="primary",
        ts=time.time(), latency_ms=1.0,
    )  # fmt: skip
    for attempt in (
        lambda: log.write([record]),
        lambda: log.segments(name),
        lambda: compact_endpoint(root, name),
    ):
        with pytest.raises(UnsafePath) as refused:
            attempt()
        assert (refused.value.status, refused.value.code) == (422, "unsafe_path")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_symbolic_link_out_of_the_log_is_refused(tmp_path: Path) -> None:
    from modelport.errors import UnsafePath
    from modelport.names import inside

    root, outside = tmp_path / "logs", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "linked").symlink_to(outside, target_is_directory=True)
    assert inside(root, "churn") == root / "churn"
    with pytest.raises(UnsafePath):
        inside(root, "linked")
