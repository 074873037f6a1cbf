"""The baseline: the endpoint a competent engineer writes in ten minutes.

Starlette + uvicorn (httptools, uvloop), one worker, no access log, the model called
inline in an ``async def`` handler. No validation, no logging, no batching: whatever
modelport costs on top of this is what its features cost.

    python bench/bare_app.py --model model.skops --port 8001
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import skops.io
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

FEATURES = [f"f{i}" for i in range(20)]

# The model was fitted on a DataFrame; feeding it a plain array is deliberate and fine.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def create_app(model_path: Path) -> Starlette:
    model = skops.io.load(model_path, trusted=skops.io.get_untrusted_types(file=model_path))

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        rows = [[row[name] for name in FEATURES] for row in body["instances"]]
        probabilities = model.predict_proba(np.asarray(rows, dtype=np.float64))
        return JSONResponse({"predictions": probabilities.tolist()})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description="Bare Starlette endpoint for the benchmark.")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.model),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
