"""Runs a standard Open Inference Protocol client (Triton's) against a modelport server.

Executed in its own process by test_v2_client.py, because the client brings gevent.
Prints one JSON object with what the client saw.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.http as triton


def main(url: str) -> None:
    client = triton.InferenceServerClient(url=url)
    tenure = triton.InferInput("tenure", [2, 1], "INT64")
    tenure.set_data_from_numpy(np.array([[3], [60]], dtype=np.int64))
    charges = triton.InferInput("charges", [2, 1], "FP64")
    charges.set_data_from_numpy(np.array([[50.0], [90.0]], dtype=np.float64))
    plan = triton.InferInput("plan", [2, 1], "BYTES")
    plan.set_data_from_numpy(np.array([["basic"], ["pro"]], dtype=object), binary_data=False)
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    result = client.infer("churn", [tenure, charges, plan], outputs=outputs, request_id="triton-1")
    print(
        json.dumps(
            {
                "live": client.is_server_live(),
                "ready": client.is_server_ready(),
                "model_ready": client.is_model_ready("churn"),
                "metadata": client.get_model_metadata("churn"),
                "predict": result.as_numpy("predict").tolist(),
                "proba": result.as_numpy("predict_proba").tolist(),
                "id": result.get_response().get("id"),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
