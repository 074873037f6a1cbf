"""``models register --strict-categories`` end to end: a served version registered with it
refuses a category its reference data never had, naming the field; one registered
without it answers the same request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import LiveServer, churn_instance, register_churn, run_cli


def _v1(server: LiveServer, endpoint: str, plan: str) -> tuple[int, dict[str, Any]]:
    with server.client() as client:
        response = client.post(
            f"/v1/endpoints/{endpoint}/predict",
            json={"instances": [churn_instance(plan="basic"), churn_instance(plan=plan)]},
        )
    return response.status_code, response.json()


def _v2(server: LiveServer, endpoint: str, plan: str) -> tuple[int, dict[str, Any]]:
    inputs = [
        {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "charges", "shape": [1], "datatype": "FP64", "data": [50.5]},
        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": [plan]},
    ]
    with server.client() as client:
        response = client.post(f"/v2/models/{endpoint}/infer", json={"inputs": inputs})
    return response.status_code, response.json()


def test_strict_categories_refuse_unknown_values_only_where_asked(
    project: Path, churn_files: tuple[Path, Path]
) -> None:
    register_churn(project, churn_files)  # churn:1 behind "churn", without the flag
    registered = run_cli(
        "models", "register", "churn", "model.skops", "--reference", "train.parquet",
        "--target", "churned", "--strict-categories", "--json",
        cwd=project,
    )  # fmt: skip
    assert json.loads(registered.stdout)["version"] == 2
    run_cli("endpoints", "create", "strict", "--model", "churn:2", cwd=project)
    server = LiveServer(project).start()
    try:
        server.wait_ready("strict")
        status, refused = _v1(server, "strict", "gold")
        v2_status, v2_refused = _v2(server, "strict", "gold")
        known = _v1(server, "strict", "pro")
        v2_known = _v2(server, "strict", "pro")
        lax = _v1(server, "churn", "gold")
        v2_lax = _v2(server, "churn", "gold")
    finally:
        server.stop()

    assert (status, refused.get("code"), refused.get("field")) == (
        422,
        "unknown_category",
        "instances[1].plan",
    )
    assert "gold" in refused["message"]
    assert (v2_status, v2_refused.get("code")) == (422, "unknown_category")
    # v2 names the tensor element, and the feature in the message.
    assert v2_refused["field"] == "inputs[2].data[0]" and "'plan'" in v2_refused["message"]
    assert known[0] == 200 and known[1]["version"] == 2 and len(known[1]["predictions"]) == 2
    assert v2_known[0] == 200
    assert lax[0] == 200 and lax[1]["version"] == 1 and len(lax[1]["predictions"]) == 2
    assert v2_lax[0] == 200
