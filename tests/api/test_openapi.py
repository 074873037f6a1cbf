"""/openapi.json describes every route, from the code's own routes and models; /docs renders
it as one offline HTML page. (schemathesis checks the answers: tests/security.)"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
from starlette.responses import Response
from starlette.routing import Route

from modelport.api.app import ROUTES
from modelport.api.openapi import OPERATIONS, build_document, openapi_path, undescribed
from support import LiveServer, churn_instance

MUTATIONS = {"post", "put", "patch", "delete"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, entry)
        for path, methods in document["paths"].items()
        for method, entry in methods.items()
    ]


def _validator(document: dict[str, Any], name: str) -> Any:
    """A JSON Schema validator for ``components.schemas[name]``, resolving its $refs."""
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    with server.client() as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_every_route_and_method_is_in_the_served_document(document: dict[str, Any]) -> None:
    routes = [
        (method.lower(), openapi_path(route.path))
        for route in ROUTES
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    ]
    assert len(routes) > 30
    for method, path in routes:
        assert method in document["paths"].get(path, {}), f"{method.upper()} {path} missing"
    assert {(m, p) for m, p, _ in _operations(document)} == set(routes)


def test_every_route_has_a_description() -> None:
    """A route added without an entry in modelport.api.openapi.OPERATIONS fails here."""
    assert undescribed(ROUTES) == []
    assert {key for key in OPERATIONS} <= {
        (m, r.path) for r in ROUTES if isinstance(r, Route) for m in r.methods or ()
    }, "OPERATIONS describes a route the app does not have"


def test_a_route_without_a_description_is_marked_and_reported() -> None:
    async def extra(request: Any) -> Response:
        return Response()

    routes = [*ROUTES, Route("/v1/extra/{thing:int}", extra, methods=["POST"])]
    assert undescribed(routes) == ["POST /v1/extra/{thing:int}"]
    entry = build_document(routes)["paths"]["/v1/extra/{thing}"]["post"]
    assert entry["x-undescribed"] is True
    assert entry["parameters"] == [
        {
            "name": "thing",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    ]


def test_the_served_document_is_generated_from_the_code(document: dict[str, Any]) -> None:
    assert document == build_document(ROUTES)
    assert document["openapi"].startswith("3.1")
    names = set(document["components"]["schemas"])
    # Models the API reuses from the planes appear as themselves.
    assert {"InputSchema", "FeatureSpec", "OutputSpec", "ErrorBody"} <= names


def test_every_schema_is_valid_json_schema_and_every_ref_resolves(
    document: dict[str, Any],
) -> None:
    for name in document["components"]["schemas"]:
        _validator(document, name)  # raises on an invalid schema or a dangling $ref
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs <= set(document["components"]["schemas"])


def test_bodies_responses_and_refusals_are_described(document: dict[str, Any]) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, entry in _operations(document):
        where = f"{method.upper()} {path}"
        responses = entry["responses"]
        assert any(s.startswith("2") for s in responses), where
        refusals = [int(s) for s in responses if s.startswith("4")]
        for status in refusals:
            assert responses[str(status)]["content"]["application/json"]["schema"] == error
        if path.startswith("/v2/health/"):
            assert entry["security"] == [] and 401 not in refusals, where
        else:
            assert {401, 403} <= set(refusals), where
            assert "security" not in entry, where  # the document-wide bearer requirement
        if method in MUTATIONS:
            assert {400, 413, 415, 422} <= set(refusals), where
        if "{" in path:
            assert 404 in refusals, where
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    ("method", "path", "media", "schema"),
    [
        ("post", "/v1/endpoints/{name}/predict", "application/json", "PredictRequest"),
        ("post", "/v2/models/{name}/infer", "application/json", "InferRequest"),
        ("post", "/v1/feedback", "application/json", "FeedbackRequest"),
        ("post", "/v1/endpoints", "application/json", "EndpointCreate"),
        ("patch", "/v1/endpoints/{name}", "application/json", "EndpointUpdate"),
        ("post", "/v1/endpoints/{name}/rollout", "application/json", "RolloutStart"),
        ("post", "/v1/models/{name}/versions", "multipart/form-data", "RegistrationForm"),
    ],
)
def test_request_bodies(
    document: dict[str, Any], method: str, path: str, media: str, schema: str
) -> None:
    body = document["paths"][path][method]["requestBody"]
    assert body["content"][media]["schema"] == {"$ref": f"#/components/schemas/{schema}"}


def test_the_upload_form_carries_the_artifact_as_a_file(document: dict[str, Any]) -> None:
    form = document["components"]["schemas"]["RegistrationForm"]
    assert form["required"] == ["artifact"]
    assert form["properties"]["artifact"]["format"] == "binary"
    assert {"flavor", "reference", "schema", "trust_types", "tags"} <= set(form["properties"])


def test_the_documented_examples_work_against_the_server(
    document: dict[str, Any], server: LiveServer
) -> None:
    schemas = document["components"]["schemas"]
    [simple] = schemas["PredictInstances"]["examples"]
    [infer] = schemas["InferRequest"]["examples"]
    assert _validator(document, "PredictRequest").is_valid(simple)
    assert _validator(document, "InferRequest").is_valid(infer)
    with server.client() as client:
        predicted = client.post("/v1/endpoints/churn/predict", json=simple)
        inferred = client.post("/v2/models/churn/infer", json=infer)
    assert predicted.status_code == 200, predicted.text
    assert inferred.status_code == 200, inferred.text
    _validator(document, "PredictResponse").validate(predicted.json())
    _validator(document, "InferResponse").validate(inferred.json())


def test_answers_and_refusals_match_their_schemas(
    document: dict[str, Any], server: LiveServer
) -> None:
    with server.client() as client:
        listed = client.get("/v1/endpoints")
        missing = client.get("/v1/endpoints/no-such-endpoint")
        wrong = client.post("/v1/endpoints/churn/predict", json={"instances": [{"x": 1}]})
        v2_missing = client.get("/v2/models/no-such-endpoint")
        shown = client.get("/v1/models/churn/versions/1")
    _validator(document, "EndpointList").validate(listed.json())
    _validator(document, "ModelVersionInfo").validate(shown.json())
    refusals = (
        (missing, "/v1/endpoints/{name}", 404),
        (wrong, "/v1/endpoints/{name}/predict", 422),
        (v2_missing, "/v2/models/{name}", 404),
    )
    for refused, path, status in refusals:
        assert refused.status_code == status
        method = refused.request.method.lower()
        assert str(status) in document["paths"][path][method]["responses"]
        _validator(document, "ErrorBody").validate(refused.json())
    # The validator does refuse what the schema does not allow.
    assert not _validator(document, "ErrorBody").is_valid({"message": "no code"})
    assert not _validator(document, "PredictRequest").is_valid({"instances": [], "extra": 1})
    assert not _validator(document, "PredictRequest").is_valid(
        {"instances": [churn_instance()], "inputs": [[1, 2, "basic"]]}
    )


def test_docs_is_one_offline_page_of_every_route(
    document: dict[str, Any], server: LiveServer
) -> None:
    with server.client() as client:
        response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for method, path, entry in _operations(document):
        assert f'id="{entry["operationId"]}"' in page, f"{method} {path}"
        assert path in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    # Nothing runs and nothing is fetched: no script, no external URL of any kind.
    lowered = page.lower()
    assert "<script" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", lowered)
    assert "http://" not in lowered and "https://" not in lowered
    assert "@import" not in lowered


def test_openapi_and_docs_answer_head_and_refuse_other_methods(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.head("/openapi.json").status_code == 200
        refused = client.post("/openapi.json", json={})
    assert refused.status_code == 405


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "field"),
    [
        # Starlette refuses the form itself; the answer is still ours, not a bare 500.
        (
            "post",
            "/v1/models/{name}/versions",
            {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
            400,
            "body",
        ),
        ("post", "/v1/endpoints/{name}/rollout", {"json": {"steps": False}}, 422, "steps"),
        # A JSON number past 64 bits reaches the handler as a float.
        (
            "post",
            "/v1/endpoints/{name}/rollout",
            {"content": b'{"step_after": 100000000000000000000}'},
            422,
            "step_after",
        ),
        ("post", "/v1/endpoints/{name}/rollout", {"json": {"step_every": [1]}}, 422, "step_every"),
    ],
)
def test_refusals_found_by_schemathesis_are_documented_answers(
    document: dict[str, Any],
    server: LiveServer,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    kwargs = dict(request_kwargs)
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    with server.client() as client:
        response = client.request(
            method.upper(), path.replace("{name}", "churn"), headers=headers, **kwargs
        )
    assert response.status_code == status, response.text
    assert str(status) in document["paths"][path][method]["responses"]
    _validator(document, "ErrorBody").validate(response.json())
    assert response.json().get("field") == field
