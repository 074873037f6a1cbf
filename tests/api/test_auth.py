"""With tokens configured, admin operations need the admin token and predict a client one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import LiveServer, churn_instance

from .conftest import make_churn_project

AUTH = '\n[auth]\nadmin_tokens = ["admin-secret"]\nclient_tokens = ["client-secret"]\n'


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("auth")
    make_churn_project(folder, churn_files)
    text = (
        (folder / "modelport.toml")
        .read_text()
        .replace("[auth]\nadmin_tokens = []\nclient_tokens = []\n", AUTH)
    )
    (folder / "modelport.toml").write_text(text)
    live = LiveServer(folder).start()
    yield live
    live.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_predict_needs_a_client_or_admin_token(secured: LiveServer) -> None:
    body = {"instances": [churn_instance()]}
    with secured.client() as client:
        anonymous = client.post("/v1/endpoints/churn/predict", json=body)
        wrong = client.post("/v1/endpoints/churn/predict", json=body, headers=_bearer("nope"))
        as_client = client.post(
            "/v1/endpoints/churn/predict", json=body, headers=_bearer("client-secret")
        )
        as_admin = client.post(
            "/v1/endpoints/churn/predict", json=body, headers=_bearer("admin-secret")
        )
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    assert wrong.status_code == 401
    assert as_client.status_code == 200 and as_admin.status_code == 200


def test_admin_operations_need_the_admin_token(secured: LiveServer) -> None:
    change = {"model": "churn:1"}
    with secured.client() as client:
        anonymous = client.patch("/v1/endpoints/churn", json=change)
        as_client = client.patch(
            "/v1/endpoints/churn", json=change, headers=_bearer("client-secret")
        )
        as_admin = client.patch("/v1/endpoints/churn", json=change, headers=_bearer("admin-secret"))
        history = client.get("/v1/endpoints/churn/history", headers=_bearer("admin-secret"))
    assert anonymous.status_code == 401
    assert as_client.status_code == 403 and as_client.json()["code"] == "forbidden"
    assert as_admin.status_code == 200
    assert history.json()["history"][0]["actor"] == "admin-token"


def test_health_and_metrics_stay_open(secured: LiveServer) -> None:
    with secured.client() as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/metrics").status_code == 200
