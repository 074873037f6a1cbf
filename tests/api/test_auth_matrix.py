"""Every route x every kind of caller, against a real server, in two configurations.

Expected: a route a caller may use answers anything but 401/403 (2xx or its own domain
4xx); a missing, malformed or unknown token gets 401; a known token whose role does not
allow the route gets 403. Only ``/v2/health/*`` is open once any token is configured.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from modelport.api.app import ROUTES
from modelport.api.auth import ROUTE_PERMISSIONS
from support import LiveServer, churn_instance

from .conftest import make_churn_project

# What each route needs, written out here independently of the product's table.
PUBLIC, ANY, CLIENT, READ, DEPLOY, ADMIN = "public", "any", "client", "read", "deploy", "admin"
GRANTS = {
    "admin": {ANY, CLIENT, READ, DEPLOY, ADMIN},
    "deployer": {ANY, READ, DEPLOY},
    "reader": {ANY, READ},
    "client": {ANY, CLIENT},
}
EXPECTED = {
    ("/v2/health/live", "GET"): PUBLIC,
    ("/v2/health/ready", "GET"): PUBLIC,
    ("/v2", "GET"): ANY,
    ("/v2/models/{name}", "GET"): ANY,
    ("/v2/models/{name}/versions/{version}", "GET"): ANY,
    ("/v2/models/{name}/ready", "GET"): ANY,
    ("/v2/models/{name}/versions/{version}/ready", "GET"): ANY,
    ("/v2/models/{name}/infer", "POST"): CLIENT,
    ("/v2/models/{name}/versions/{version}/infer", "POST"): CLIENT,
    ("/v1/endpoints/{name}/predict", "POST"): CLIENT,
    ("/v1/feedback", "POST"): CLIENT,
    ("/v1/models", "GET"): READ,
    ("/v1/models/{name}", "GET"): READ,
    ("/v1/models/{name}/versions/{version:int}", "GET"): READ,
    ("/v1/models/{name}/versions", "POST"): ADMIN,
    ("/v1/models/{name}/aliases", "GET"): READ,
    ("/v1/models/{name}/aliases/{alias}", "PUT"): DEPLOY,
    ("/v1/models/{name}/aliases/{alias}", "DELETE"): DEPLOY,
    ("/v1/models/{name}/history", "GET"): READ,
    ("/v1/models/{name}/versions/{version:int}", "PATCH"): DEPLOY,
    ("/v1/models/{name}/versions/{version:int}/archive", "POST"): DEPLOY,
    ("/v1/models/{name}/versions/{version:int}/unarchive", "POST"): DEPLOY,
    ("/v1/models/{name}/versions/{version:int}/lineage", "GET"): READ,
    ("/v1/endpoints", "GET"): READ,
    ("/v1/endpoints", "POST"): DEPLOY,
    ("/v1/endpoints/{name}", "GET"): READ,
    ("/v1/endpoints/{name}", "PATCH"): DEPLOY,
    ("/v1/endpoints/{name}", "PUT"): DEPLOY,
    ("/v1/endpoints/{name}", "DELETE"): DEPLOY,
    ("/v1/endpoints/{name}/history", "GET"): READ,
    ("/v1/endpoints/{name}/rollout", "POST"): DEPLOY,
    ("/v1/endpoints/{name}/rollout", "GET"): READ,
    ("/v1/endpoints/{name}/rollout/report", "GET"): READ,
    ("/v1/endpoints/{name}/rollout/history", "GET"): READ,
    ("/v1/endpoints/{name}/rollout/promote", "POST"): DEPLOY,
    ("/v1/endpoints/{name}/rollout/rollback", "POST"): DEPLOY,
    ("/v1/endpoints/{name}/rollout/pause", "POST"): DEPLOY,
    ("/v1/endpoints/{name}/rollout/resume", "POST"): DEPLOY,
    ("/v1/endpoints/{name}/monitoring", "GET"): READ,
    ("/v1/endpoints/{name}/monitoring/live", "GET"): READ,
    ("/v1/endpoints/{name}/monitoring/history", "GET"): READ,
    ("/v1/endpoints/{name}/monitoring/events", "GET"): READ,
    ("/v1/endpoints/{name}/batch", "POST"): ADMIN,
    ("/v1/batch/{job}", "GET"): ADMIN,
    ("/v1/endpoints/{name}/retrain", "POST"): ADMIN,
    ("/v1/retrain/{job}", "GET"): ADMIN,
    ("/v1/endpoints/{name}/retrain/policy", "GET"): READ,
    ("/v1/endpoints/{name}/retrain/policy", "PUT"): ADMIN,
    ("/v1/endpoints/{name}/retrain/policy/disable", "POST"): ADMIN,
    ("/v1/endpoints/{name}/retrain/history", "GET"): READ,
    ("/metrics", "GET"): READ,
}

V2_BODY = {"inputs": []}
# Requests that reach a real answer without changing what the module's server serves:
# mutations name endpoints and models that do not exist.
REQUESTS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("/v2/models/{name}/infer", "POST"): ("/v2/models/churn/infer", {"json": V2_BODY}),
    ("/v2/models/{name}/versions/{version}/infer", "POST"): (
        "/v2/models/churn/versions/1/infer",
        {"json": V2_BODY},
    ),
    ("/v1/endpoints/{name}/predict", "POST"): (
        "/v1/endpoints/churn/predict",
        {"json": {"instances": [churn_instance()]}},
    ),
    ("/v1/feedback", "POST"): ("/v1/feedback", {"json": [{"request_id": "nobody", "label": 1}]}),
    ("/v1/models/{name}/versions", "POST"): (
        "/v1/models/ghost/versions",
        {"files": {"flavor": (None, "sklearn")}},
    ),
    ("/v1/endpoints", "POST"): ("/v1/endpoints", {"json": {"name": "ghost", "model": "nope:1"}}),
    # A malformed trainer is refused (422) before the allow-list is asked.
    ("/v1/endpoints/{name}/retrain", "POST"): (
        "/v1/endpoints/ghost/retrain",
        {"json": {"trainer": "not a trainer"}},
    ),
    ("/v1/endpoints/{name}", "PATCH"): ("/v1/endpoints/ghost", {"json": {"model": "churn:1"}}),
    ("/v1/endpoints/{name}", "PUT"): ("/v1/endpoints/ghost", {"json": {"model": "churn:1"}}),
    ("/v1/endpoints/{name}", "DELETE"): ("/v1/endpoints/ghost", {}),
    ("/v1/endpoints/{name}/monitoring", "GET"): ("/v1/endpoints/churn/monitoring?last=10", {}),
    ("/dashboard/static", "GET"): ("/dashboard/static/favicon.svg", {}),
}


def routes() -> list[tuple[str, str]]:
    """Every (path template, method) the app serves (HEAD is GET's twin)."""
    found = []
    for route in ROUTES:
        if isinstance(route, Mount):  # static files: read only
            found.append((route.path, "GET"))
            continue
        assert isinstance(route, Route)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((route.path, method))
    return found


def request_for(template: str, method: str) -> tuple[str, dict[str, Any]]:
    if (template, method) in REQUESTS:
        return REQUESTS[(template, method)]
    path = template.replace("{name}", "ghost" if method != "GET" else "churn")
    path = re.sub(r"\{version(:int)?\}", "1", path)
    path = re.sub(r"\{[^}]+\}", "x", path)
    return path, ({"json": {}} if method != "GET" else {})


def expected_need(template: str, method: str) -> str:
    if (template, method) in EXPECTED:
        return EXPECTED[(template, method)]
    # A route added after this test: the product's table decides, the guard must apply it.
    need = ROUTE_PERMISSIONS.get((template, method), ADMIN)
    return READ if need == "metrics" else need


def test_every_route_has_a_permission_in_one_table() -> None:
    missing = [key for key in routes() if key not in ROUTE_PERMISSIONS]
    assert missing == [], f"routes without a permission (they would need admin): {missing}"
    assert set(EXPECTED) <= set(routes()), "the expectations name a route that is gone"
    wrong = {
        key: ROUTE_PERMISSIONS[key]
        for key, need in EXPECTED.items()
        if ROUTE_PERMISSIONS[key] != (need if key != ("/metrics", "GET") else "metrics")
    }
    assert wrong == {}


def _secure_project(folder: Path, churn_files: tuple[Path, Path], auth: str) -> Path:
    make_churn_project(folder, churn_files)
    config = folder / "modelport.toml"
    text = config.read_text().replace("[auth]\nadmin_tokens = []\nclient_tokens = []\n", auth)
    assert auth in text
    config.write_text(text)
    return folder


FOUR_ROLES = f"""[auth]
tokens_file = "tokens.toml"

[auth.tokens.ops]
role = "admin"
token = "admin-secret"

[auth.tokens.deploy-bot]
role = "deployer"
sha256 = "{hashlib.sha256(b"deployer-secret").hexdigest()}"

[auth.tokens.dashboard]
role = "reader"
env = "MATRIX_READER_TOKEN"
"""
TOKENS_FILE = '[tokens.shop]\nrole = "client"\ntoken = "client-secret"\n'


@pytest.fixture(scope="module")
def four_roles(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """Named tokens of every role, from every source: plain, sha256, environment, file."""
    folder = _secure_project(tmp_path_factory.mktemp("matrix4"), churn_files, FOUR_ROLES)
    (folder / "tokens.toml").write_text(TOKENS_FILE)
    live = LiveServer(folder, env={"MATRIX_READER_TOKEN": "reader-secret"}).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def clients_only(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """The older form with client tokens only: admin routes become unreachable."""
    auth = '[auth]\nadmin_tokens = []\nclient_tokens = ["client-secret"]\n'
    folder = _secure_project(tmp_path_factory.mktemp("matrix1"), churn_files, auth)
    live = LiveServer(folder).start()
    try:
        yield live
    finally:
        live.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _outcome(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return f"5xx {response.status_code}"
    if response.status_code in (401, 403):
        return str(response.status_code)
    return "allowed"


def _run_matrix(server: LiveServer, callers: dict[str, tuple[dict[str, Any], str | None]]) -> None:
    """``callers``: label -> (headers, role or None for a caller who must get 401)."""
    wrong: list[str] = []
    allowed_seen = 0
    with server.client() as client:
        for template, method in routes():
            need = expected_need(template, method)
            path, kwargs = request_for(template, method)
            for label, (headers, role) in callers.items():
                response = client.request(method, path, headers=headers, **kwargs)
                if need == PUBLIC:
                    expected = "allowed"
                elif role is None:
                    expected = "401"
                else:
                    expected = "allowed" if need in GRANTS[role] else "403"
                got = _outcome(response)
                allowed_seen += got == "allowed"
                if got != expected:
                    wrong.append(
                        f"{method} {path} as {label}: {response.status_code} "
                        f"(want {expected}) {response.text[:120]}"
                    )
                elif expected == "401":
                    assert response.json()["code"] == "unauthorized"
                    assert response.headers["www-authenticate"] == "Bearer"
                elif expected == "403":
                    assert response.json()["code"] == "forbidden"
    assert wrong == [], "\n".join(wrong)
    assert allowed_seen > 0  # some callers did reach handlers


def test_matrix_with_all_four_roles(four_roles: LiveServer) -> None:
    _run_matrix(
        four_roles,
        {
            "no token": ({}, None),
            "malformed (two spaces before a valid token)": (
                {"Authorization": "Bearer  admin-secret"},
                None,
            ),
            "wrong token": (_bearer("not-a-token"), None),
            "admin": (_bearer("admin-secret"), "admin"),
            "deployer": (_bearer("deployer-secret"), "deployer"),
            "reader": (_bearer("reader-secret"), "reader"),
            "client": (_bearer("client-secret"), "client"),
        },
    )


def test_matrix_with_client_tokens_only(clients_only: LiveServer) -> None:
    _run_matrix(
        clients_only,
        {
            "no token": ({}, None),
            "malformed (basic scheme)": ({"Authorization": "Basic Y2xpZW50LXNlY3JldA=="}, None),
            "wrong token": (_bearer("admin-secret"), None),
            "client": (_bearer("client-secret"), "client"),
        },
    )
