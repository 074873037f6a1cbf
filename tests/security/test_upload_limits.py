"""Model uploads are size-limited while they stream in, however they are sent.

The limit is ``server.max_body_bytes * 32`` (here 2 KiB * 32 = 64 KiB). A body with a
declared Content-Length over it is refused before it is read; a chunked body (no
Content-Length) is counted as it arrives and refused once it passes the limit. Either
way the answer is 413 and nothing is stored.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from modelport.config import DEFAULT_TOML
from support import LiveServer

MAX_BODY_BYTES = 2048
LIMIT = MAX_BODY_BYTES * 32
CHUNK = 4096


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("upload-limits")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    live = LiveServer(folder, env={"MODELPORT_SERVER__MAX_BODY_BYTES": str(MAX_BODY_BYTES)})
    live.start()
    try:
        yield live
    finally:
        live.stop()


def small_model() -> bytes:
    features = np.random.default_rng(0).normal(size=(40, 2))
    sink = io.BytesIO()
    sio.dump(LogisticRegression().fit(features, features[:, 0] > 0), sink)
    return sink.getvalue()


def multipart(artifact: bytes, padding: int = 0) -> tuple[bytes, str]:
    """A registration form: the artifact, and ``padding`` bytes of description."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'.encode()
        + b"x" * padding
        + b"\r\n",
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="artifact"; filename="model.skops"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + artifact
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def chunks(body: bytes) -> Iterator[bytes]:
    """The body as a stream of unknown length: httpx sends it chunked."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def post(
    server: LiveServer, name: str, body: bytes, content_type: str, *, chunked: bool
) -> httpx.Response:
    headers = {"content-type": content_type}
    content = chunks(body) if chunked else body
    with server.client() as client:
        request = client.build_request(
            "POST", f"/v1/models/{name}/versions", content=content, headers=headers
        )
        assert ("content-length" in request.headers) is not chunked
        assert (request.headers.get("transfer-encoding") == "chunked") is chunked
        return client.send(request)


def stored(server: LiveServer) -> tuple[list[str], set[str]]:
    with server.client() as client:
        names = [m["name"] for m in client.get("/v1/models").json()["models"]]
    folder = server.cwd / ".modelport" / "artifacts"
    return names, {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_upload_over_the_limit_is_refused_and_nothing_is_stored(
    server: LiveServer, chunked: bool
) -> None:
    body, content_type = multipart(small_model(), padding=LIMIT)
    assert LIMIT < len(body) < 2 * LIMIT
    before = stored(server)

    response = post(server, "big", body, content_type, chunked=chunked)

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"
    assert str(LIMIT) in response.json()["message"]
    assert stored(server) == before
    assert "big" not in stored(server)[0]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_upload_under_the_limit_is_registered(server: LiveServer, chunked: bool) -> None:
    name = f"small-{'chunked' if chunked else 'sized'}"
    body, content_type = multipart(small_model(), padding=LIMIT // 2)
    assert len(body) < LIMIT

    response = post(server, name, body, content_type, chunked=chunked)

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name
    assert name in stored(server)[0]


def test_the_server_keeps_answering_after_a_refused_upload(server: LiveServer) -> None:
    body, content_type = multipart(small_model(), padding=LIMIT)
    post(server, "big", body, content_type, chunked=True)

    with server.client() as client:
        assert client.get("/v2/health/live").status_code == 200


def test_malformed_multipart_is_a_client_error(server: LiveServer, tmp_path: Path) -> None:
    body = b"--nope\r\nthis is not a form"
    response = post(server, "broken", body, "multipart/form-data", chunked=False)

    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    ("name", "filename"),
    [("dots", ".."), ("escape", "../../escape.skops"), ("nul", "a\x00b.skops")],
)
def test_the_client_file_name_is_only_a_label(server: LiveServer, name: str, filename: str) -> None:
    with server.client() as client:
        response = client.post(
            f"/v1/models/{name}/versions", files={"artifact": (filename, small_model())}
        )

    assert response.status_code == 201, response.text
    assert not (server.cwd.parent / "escape.skops").exists()
