from __future__ import annotations

from support import LiveServer, churn_instance


def test_predict_round_trip(churn_server: LiveServer) -> None:
    with churn_server.client() as client:
        response = client.post(
            "/v1/endpoints/churn/predict", json={"instances": [churn_instance()]}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "churn" and body["version"] == 1
    assert body["predictions"][0] in (0, 1)
    assert abs(sum(body["probabilities"][0]) - 1.0) < 1e-9
