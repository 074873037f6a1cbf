"""Fast-path micro-benchmark: one model call on scikit-learn vs onnxruntime, same model.

    python bench/fast_path.py [--rows 1,8,64] [--seconds 1.0] [--rounds 5] [--memory]

The model is the serving benchmark's LogisticRegression (20 features, fitted on a
DataFrame; ``bench/workload.py``). Both predictors are the ones the server would build:
``SklearnPredictor`` (the registry's scikit-learn flavor) and ``FastPathPredictor`` (the
converted model that passed its agreement check on the 5000-row reference). Each is
called with a matrix-backed batch of 1, 8 and 64 rows, as the request decoder builds them,
for ``--seconds`` per round; a round's figure is its mean time per call, and the median of
``--rounds`` rounds is reported (rounds alternate the two predictors, so a change in the
machine's load hits both alike). Also reports how long the conversion and check took and
how far the two models' probabilities are apart. ``--memory`` also starts the real server
(``modelport serve``) on the same model twice, fast path on, then off (``models fast-path
--off``), and reports each one's peak RSS after 200 requests. Writes
``bench/results/fast_path.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import modelport_cli
from machine import machine_info
from modelport.batch import Batch
from modelport.registry.fast_path import FastPathPredictor, check
from modelport.registry.fast_path_state import PASSED
from modelport.registry.flavors.sklearn import SklearnFlavor
from modelport.registry.reference import infer_schema
from servers import Server, free_port
from workload import FEATURES, prepare_workload

BENCH = Path(__file__).resolve().parent


def per_call_us(predict: Any, batch: Batch, seconds: float) -> float:
    """Mean microseconds per call over about ``seconds``."""
    calls, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            predict(batch)
        calls += 50
        now = time.perf_counter()
        if now >= deadline:
            return (now - started) / calls * 1e6


def server_memory(model_path: Path, reference_path: Path, body: str) -> dict[str, Any]:
    """Peak RSS (MiB) of ``modelport serve`` with one endpoint, per runtime."""
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        modelport_cli.setup(workdir, model_path, reference_path)
        for runtime in ("onnx", "sklearn"):
            if runtime == "sklearn":
                modelport_cli._run(workdir, "models", "fast-path", "bench:1", "--off")
            port = free_port()
            server = Server(
                f"modelport-{runtime}",
                modelport_cli.serve_command(port),
                port,
                workdir / f"{runtime}.log",
                cwd=workdir,
                env=modelport_cli.clean_env(),
            )
            with server:
                server.wait_ready(modelport_cli.PREDICT_PATH, body.encode())
                with httpx.Client(base_url=server.base_url, trust_env=False) as client:
                    for _ in range(200):
                        client.post(
                            modelport_cli.PREDICT_PATH,
                            content=body,
                            headers={"content-type": "application/json"},
                        ).raise_for_status()
                    shown = client.get(f"/v1/endpoints/{modelport_cli.ENDPOINT}").json()
                found[runtime] = {
                    "peak_rss_mib": server.peak_rss_mib(),
                    "serving": shown["runtime"],
                }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="also measure server RSS")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]

    with tempfile.TemporaryDirectory() as folder:
        workload = prepare_workload(Path(folder))
        flavor = SklearnFlavor()
        inspection = flavor.inspect(workload.model_path, {})
        reference = pd.read_parquet(workload.reference_path)
        schema = infer_schema(reference, FEATURES)
        assert inspection.output is not None
        output = inspection.output
        sklearn = flavor.load(workload.model_path, inspection.loader, schema, output)
        memory = (
            server_memory(workload.model_path, workload.reference_path, workload.bodies[0])
            if args.memory
            else None
        )

    sample = Batch.from_frame(reference, schema)
    started = time.perf_counter()
    outcome = check(sklearn, schema, output, sample)  # type: ignore[arg-type]
    check_s = time.perf_counter() - started
    if outcome.state["status"] != PASSED or outcome.onnx is None:
        raise SystemExit(f"the fast path's check did not pass: {outcome.state}")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(outcome.onnx, options, providers=["CPUExecutionProvider"])
    onnx = FastPathPredictor(session, output, outcome.state)

    rng = np.random.default_rng(0)
    results: list[dict[str, Any]] = []
    for rows in sizes:
        batch = Batch.from_matrix(FEATURES, rng.normal(size=(rows, len(FEATURES))))
        for predictor in (sklearn, onnx):  # warm both up
            for _ in range(200):
                predictor.predict(batch)
        rounds: dict[str, list[float]] = {"sklearn": [], "onnx": []}
        for _ in range(args.rounds):
            rounds["sklearn"].append(per_call_us(sklearn.predict, batch, args.seconds))
            rounds["onnx"].append(per_call_us(onnx.predict, batch, args.seconds))
        sk, ox = statistics.median(rounds["sklearn"]), statistics.median(rounds["onnx"])
        results.append(
            {
                "rows": rows,
                "sklearn_us": round(sk, 1),
                "onnx_us": round(ox, 1),
                "speedup": round(sk / ox, 2),
                "rounds": rounds,
            }
        )

    report = {
        "machine": machine_info(),
        "model": "LogisticRegression, 20 features (bench/workload.py)",
        "check": {
            "seconds": round(check_s, 2),
            "rows": outcome.state["rows"],
            "max_abs_diff": outcome.state["max_abs_diff"],
            "input_type": outcome.state["input_type"],
            "versions": outcome.state["versions"],
        },
        "calls": results,
        "server_memory": memory,
    }
    out = BENCH / "results" / "fast_path.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"check: {check_s:.2f} s for {outcome.state['rows']} rows "
        f"(conversion included), max |Δp| {outcome.state['max_abs_diff']:.2g}, "
        f"{outcome.state['input_type']} inputs"
    )
    print(f"{'rows':>5} {'sklearn µs/call':>16} {'onnx µs/call':>13} {'speed-up':>9}")
    for entry in results:
        print(
            f"{entry['rows']:>5} {entry['sklearn_us']:>16.1f} {entry['onnx_us']:>13.1f} "
            f"{entry['speedup']:>8.2f}×"
        )
    if memory is not None:
        for runtime, figures in memory.items():
            print(
                f"server peak RSS, fast path {'on' if runtime == 'onnx' else 'off'}: "
                f"{figures['peak_rss_mib']} MiB (serving with {figures['serving']})"
            )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
