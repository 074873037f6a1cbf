"""Admin API: models and endpoints over HTTP; routing changes apply without a restart."""

from __future__ import annotations

from pathlib import Path

from support import LiveServer, churn_instance


def test_list_and_show_models(server: LiveServer) -> None:
    with server.client() as client:
        models = client.get("/v1/models").json()["models"]
        detail = client.get("/v1/models/churn").json()
        version = client.get("/v1/models/churn/versions/1?profile=1").json()
        missing = client.get("/v1/models/nope")
        missing_version = client.get("/v1/models/churn/versions/9")
    assert any(m["name"] == "churn" for m in models)
    assert detail["versions"][0]["version"] == 1
    assert version["profile"] is not None and version["input_schema"]["features"]
    assert missing.status_code == 404 and missing.json()["code"] == "model_not_found"
    assert missing_version.status_code == 404
    assert missing_version.json()["code"] == "version_not_found"


def test_register_over_http_and_switch_endpoint_version(
    server: LiveServer, churn_files_v2: tuple[Path, Path]
) -> None:
    model, reference = churn_files_v2
    with server.client() as client:
        created = client.post(
            "/v1/models/churn/versions",
            files={
                "artifact": (model.name, model.read_bytes()),
                "reference": (reference.name, reference.read_bytes()),
            },
            data={"flavor": "sklearn", "target": "churned", "description": "retrained"},
        )
        assert created.status_code == 201, created.text
        new_version = created.json()["version"]
        assert new_version >= 2
        switched = client.patch("/v1/endpoints/churn", json={"model": f"churn:{new_version}"})
        assert switched.status_code == 200
        answer = client.post(
            "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
        ).json()
        assert answer["version"] == new_version
        back = client.patch("/v1/endpoints/churn", json={"model": "churn:1"})
        assert back.status_code == 200
        assert (
            client.post(
                "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
            ).json()["version"]
            == 1
        )
        history = client.get("/v1/endpoints/churn/history").json()["history"]
    assert [h["action"] for h in history[:2]] == ["set-version", "set-version"]


def test_register_over_http_refuses_bad_artifacts_and_keeps_versions(server: LiveServer) -> None:
    with server.client() as client:
        before = client.get("/v1/models/churn").json()["versions"]
        garbage = client.post(
            "/v1/models/churn/versions",
            files={"artifact": ("model.skops", b"not a model at all")},
            data={"flavor": "sklearn"},
        )
        no_file = client.post("/v1/models/churn/versions", files={"flavor": (None, "sklearn")})
        after = client.get("/v1/models/churn").json()["versions"]
    assert garbage.status_code == 422 and garbage.json()["code"] == "artifact_error"
    assert no_file.status_code == 422 and no_file.json()["field"] == "artifact"
    assert after == before


def test_endpoint_errors(server: LiveServer) -> None:
    with server.client() as client:
        duplicate = client.post("/v1/endpoints", json={"name": "churn", "model": "churn:1"})
        unknown_model = client.post("/v1/endpoints", json={"name": "x", "model": "nope:1"})
        bad_ref = client.post("/v1/endpoints", json={"name": "x", "model": "churn:zero"})
        wrong_model = client.patch("/v1/endpoints/churn", json={"model": "other:1"})
        stale = client.patch("/v1/endpoints/churn", json={"model": "churn:1", "revision": -1})
    assert duplicate.status_code == 409
    assert unknown_model.status_code == 404
    assert bad_ref.status_code == 400 and bad_ref.json()["field"] == "model"
    assert wrong_model.status_code == 422
    assert stale.status_code == 409


def test_a_deleted_endpoint_is_never_served_again_while_the_plane_polls(
    server: LiveServer,
) -> None:
    # The server re-reads endpoints every 0.25 s; a poll that read them before a delete
    # must not put the endpoint back after the delete's own refresh removed it.
    with server.client() as client:
        for round_ in range(15):
            name = f"churn-{round_}"
            created = client.post("/v1/endpoints", json={"name": name, "model": "churn:1"})
            assert created.status_code == 201, created.text
            assert client.delete(f"/v1/endpoints/{name}").status_code == 204
            for _ in range(3):
                gone = client.post(
                    f"/v1/endpoints/{name}/predict", json={"instances": [churn_instance()]}
                )
                assert gone.status_code == 404, (round_, gone.text)


def test_create_and_delete_endpoint_over_http(server: LiveServer) -> None:
    with server.client() as client:
        created = client.post("/v1/endpoints", json={"name": "temp", "model": "churn:1"})
        assert created.status_code == 201
        assert (
            client.post(
                "/v1/endpoints/temp/predict", json={"instances": [churn_instance()]}
            ).status_code
            == 200
        )
        listed = [e["name"] for e in client.get("/v1/endpoints").json()["endpoints"]]
        assert "temp" in listed
        assert client.delete("/v1/endpoints/temp").status_code == 204
        gone = client.post("/v1/endpoints/temp/predict", json={"instances": [churn_instance()]})
    assert gone.status_code == 404
