"""What a web page in the operator's browser could send is refused: mutations from
another origin (403), bodies a form or ``text/plain`` fetch can send (415), and a
``Host`` that is not this loopback server's (421, DNS rebinding). Nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import LiveServer, churn_instance

from .conftest import make_churn_project

PREDICT = "/v1/endpoints/churn/predict"
BODY = {"instances": [churn_instance()]}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """An open server (no tokens, as by default) on 127.0.0.1 with one extra host name."""
    folder = make_churn_project(tmp_path_factory.mktemp("browser"), churn_files)
    config = folder / "modelport.toml"
    text = config.read_text()
    assert "[server]\n" in text
    config.write_text(text.replace("[server]\n", '[server]\nallowed_hosts = ["models.internal"]\n'))
    live = LiveServer(folder).start()
    try:
        yield live
    finally:
        live.stop()


def _revision(server: LiveServer) -> Any:
    with server.client() as client:
        return client.get("/v1/endpoints/churn").json()["revision"]


def test_a_mutation_from_another_origin_is_refused(server: LiveServer) -> None:
    before = _revision(server)
    change = {"model": "churn:1"}
    with server.client() as client:
        foreign = client.patch(
            "/v1/endpoints/churn", json=change, headers={"Origin": "http://evil.example"}
        )
        other_port = client.patch(
            "/v1/endpoints/churn", json=change, headers={"Origin": "http://127.0.0.1:1"}
        )
        opaque = client.post(PREDICT, json=BODY, headers={"Origin": "null"})
        other_scheme = client.post(
            PREDICT, json=BODY, headers={"Origin": f"https://127.0.0.1:{server.port}"}
        )
        deleted = client.delete("/v1/endpoints/churn", headers={"Origin": "http://evil.example"})
    for refused in (foreign, other_port, opaque, other_scheme, deleted):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "cross_origin"
        assert refused.json()["field"] == "Origin"
    assert _revision(server) == before


def test_same_origin_and_no_origin_are_accepted(server: LiveServer) -> None:
    with server.client() as client:
        same = client.post(PREDICT, json=BODY, headers={"Origin": server.url})
        as_localhost = client.post(
            PREDICT,
            json=BODY,
            headers={
                "Origin": f"http://localhost:{server.port}",
                "Host": f"localhost:{server.port}",
            },
        )
        none = client.post(PREDICT, json=BODY)
        foreign_read = client.get("/v1/endpoints/churn", headers={"Origin": "http://evil.example"})
    assert [r.status_code for r in (same, as_localhost, none, foreign_read)] == [200] * 4


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (PREDICT, "text/plain"),
        (PREDICT, "text/plain;charset=UTF-8"),
        (PREDICT, "application/x-www-form-urlencoded"),
        (PREDICT, "multipart/form-data; boundary=x"),
        (PREDICT, None),
        ("/v1/endpoints", "text/plain"),
        ("/v1/feedback", "text/plain"),
        ("/v2/models/churn/infer", "text/plain"),
        ("/v1/endpoints/churn/rollout", "text/plain"),
        ("/v1/models/churn/versions", "application/json"),
        ("/v1/models/churn/versions", "application/x-www-form-urlencoded"),
    ],
)
def test_bodies_a_page_could_send_get_415(
    server: LiveServer, path: str, content_type: str | None
) -> None:
    body = b'{"name": "sneaky", "model": "churn:1", "instances": [], "request_id": "x"}'
    headers = {} if content_type is None else {"Content-Type": content_type}
    with server.client() as client:
        response = client.post(path, content=body, headers=headers)
        endpoints = client.get("/v1/endpoints").json()["endpoints"]
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["field"] == "Content-Type"
    assert [e["name"] for e in endpoints] == ["churn"]


def test_a_text_plain_patch_changes_nothing(server: LiveServer) -> None:
    before = _revision(server)
    with server.client() as client:
        response = client.patch(
            "/v1/endpoints/churn",
            content=b'{"model": "churn:1"}',
            headers={"Content-Type": "text/plain"},
        )
    assert response.status_code == 415
    assert _revision(server) == before


def test_json_with_parameters_and_bodiless_actions_pass(server: LiveServer) -> None:
    with server.client() as client:
        with_charset = client.post(
            PREDICT,
            content=b'{"instances": [{"tenure": 3, "charges": 50.5, "plan": "basic"}]}',
            headers={"Content-Type": "Application/JSON; charset=utf-8"},
        )
        # No body, no type: the rollout answers for itself (no rollout to pause).
        bodiless = client.post("/v1/endpoints/churn/rollout/pause")
    assert with_charset.status_code == 200
    assert bodiless.status_code == 409 and bodiless.json()["code"] == "conflict"


def test_v2_infer_takes_what_standard_v2_clients_send(server: LiveServer) -> None:
    body = (
        b'{"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]},'
        b'{"name": "charges", "shape": [1], "datatype": "FP64", "data": [50.5]},'
        b'{"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["basic"]}]}'
    )
    with server.client() as client:
        untyped = client.post("/v2/models/churn/infer", content=body)
        refused = client.post(
            "/v2/models/churn/infer", content=body, headers={"Content-Type": "text/plain"}
        )
    assert untyped.status_code == 200, untyped.text
    assert refused.status_code == 415
    assert refused.json()["error"] == refused.json()["message"]  # the v2 error shape


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.1", "localhost@evil"],
)
def test_a_foreign_host_gets_421(server: LiveServer, host: str) -> None:
    with server.client() as client:
        read = client.get("/v1/endpoints", headers={"Host": host})
        write = client.post(PREDICT, json=BODY, headers={"Host": host})
    for response in (read, write):
        assert response.status_code == 421, response.text
        assert response.json()["code"] == "misdirected_request"
        assert response.json()["field"] == "Host"


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.2:80", "[::1]:8000", "models.internal"],
)
def test_loopback_names_and_allowed_hosts_are_served(server: LiveServer, host: str) -> None:
    with server.client() as client:
        response = client.get("/v1/endpoints", headers={"Host": host})
    assert response.status_code == 200, response.text
