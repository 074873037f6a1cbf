"""Tokens against a real server: audit records name the token, malformed headers get 401,
/metrics follows ``auth.public_metrics``; and an open app refuses a non-loopback address."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.api.app import create_app
from modelport.config import Settings
from modelport.errors import ConfigError
from support import LiveServer, churn_instance

from .conftest import make_churn_project

AUTH = """[auth]
admin_tokens = ["legacy-admin"]
client_tokens = ["legacy-client"]
public_metrics = true

[auth.tokens.release-bot]
role = "deployer"
token = "deployer-secret"

[auth.tokens.ops]
role = "admin"
env = "AUTH_TEST_ADMIN_TOKEN"
"""
PREDICT = "/v1/endpoints/churn/predict"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("auth")
    make_churn_project(folder, churn_files)
    config = folder / "modelport.toml"
    config.write_text(
        config.read_text().replace("[auth]\nadmin_tokens = []\nclient_tokens = []\n", AUTH)
    )
    live = LiveServer(folder, env={"AUTH_TEST_ADMIN_TOKEN": "ops-secret"}).start()
    yield live
    live.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_predict_needs_a_client_or_admin_token(secured: LiveServer) -> None:
    body = {"instances": [churn_instance()]}
    with secured.client() as client:
        anonymous = client.post(PREDICT, json=body)
        wrong = client.post(PREDICT, json=body, headers=_bearer("nope"))
        as_client = client.post(PREDICT, json=body, headers=_bearer("legacy-client"))
        as_admin = client.post(PREDICT, json=body, headers=_bearer("ops-secret"))
        as_deployer = client.post(PREDICT, json=body, headers=_bearer("deployer-secret"))
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    assert anonymous.json()["field"] == "Authorization"
    assert wrong.status_code == 401
    assert as_client.status_code == 200 and as_admin.status_code == 200
    assert as_deployer.status_code == 403 and "release-bot" in as_deployer.json()["message"]


def test_audit_records_name_the_token_that_acted(secured: LiveServer) -> None:
    change = {"model": "churn:1"}
    with secured.client() as client:
        as_client = client.patch(
            "/v1/endpoints/churn", json=change, headers=_bearer("legacy-client")
        )
        by_deployer = client.patch(
            "/v1/endpoints/churn", json=change, headers=_bearer("deployer-secret")
        )
        by_legacy_admin = client.patch(
            "/v1/endpoints/churn", json=change, headers=_bearer("legacy-admin")
        )
        by_env_admin = client.patch(
            "/v1/endpoints/churn", json=change, headers=_bearer("ops-secret")
        )
        history = client.get("/v1/endpoints/churn/history", headers=_bearer("deployer-secret"))
    assert as_client.status_code == 403 and as_client.json()["code"] == "forbidden"
    assert [r.status_code for r in (by_deployer, by_legacy_admin, by_env_admin)] == [200] * 3
    actors = [event["actor"] for event in history.json()["history"][:3]]
    assert actors == ["ops", "admin-1", "release-bot"]  # newest first


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"Bearer",
        b"Bearer  ops-secret",
        b"bearer\tops-secret",
        b"Basic b3BzOnNlY3JldA==",
        b"Token ops-secret",
        "Bearer t\u00f6k\u00e9n".encode(),
        "Bearer \u00f6ps-secret".encode("latin-1"),
    ],
)
def test_malformed_authorization_headers_get_401(secured: LiveServer, header: bytes) -> None:
    with secured.client() as client:
        response = client.get("/v1/models", headers={"Authorization": header})
        health = client.get("/v2/health/live", headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert health.status_code == 200  # probes ignore whatever they are sent


def test_two_authorization_headers_get_401(secured: LiveServer) -> None:
    with secured.client() as client:
        response = client.get(
            "/v1/models",
            headers=[("Authorization", "Bearer ops-secret"), ("Authorization", "Bearer nope")],
        )
    assert response.status_code == 401


def test_health_is_open_and_metrics_follow_public_metrics(secured: LiveServer) -> None:
    with secured.client() as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/metrics").status_code == 200  # auth.public_metrics = true
        assert client.get("/v1/models").status_code == 401


def test_v2_refusals_keep_the_v2_error_shape(secured: LiveServer) -> None:
    with secured.client() as client:
        response = client.get("/v2/models/churn")
    assert response.status_code == 401
    assert response.json()["error"] == response.json()["message"]


def test_an_unknown_route_needs_admin(secured: LiveServer) -> None:
    with secured.client() as client:
        anonymous = client.get("/v1/nothing-here")
        reader = client.get("/v1/nothing-here", headers=_bearer("deployer-secret"))
        admin = client.get("/v1/nothing-here", headers=_bearer("ops-secret"))
    assert (anonymous.status_code, reader.status_code, admin.status_code) == (401, 403, 404)


def _open_settings(tmp_path: Path, host: str) -> Settings:
    (tmp_path / "modelport.toml").write_text(f'[store]\nhome = "{tmp_path}"\n')
    settings = Settings.load(tmp_path / "modelport.toml")
    settings.server.host = host
    return settings


def test_an_open_app_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(_open_settings(tmp_path, "0.0.0.0"))
    assert refused.value.field == "server.host"
    assert "--insecure" in refused.value.message
    assert create_app(_open_settings(tmp_path, "0.0.0.0"), insecure=True) is not None
    assert create_app(_open_settings(tmp_path, "::1")) is not None


def test_an_open_app_answers_only_on_a_loopback_address(tmp_path: Path) -> None:
    """Started programmatically on another address than its settings say, an open app
    still answers only connections that arrived on loopback."""
    app = create_app(_open_settings(tmp_path, "127.0.0.1"))

    async def ask(base_url: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.post(
                "/v1/endpoints",
                json={"name": "x", "model": "x:1"},
                headers={"Host": "localhost"},
            )

    refused = asyncio.run(ask("http://192.0.2.7:8000"))
    assert refused.status_code == 421 and refused.json()["code"] == "misdirected_request"
