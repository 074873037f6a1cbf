"""Feedback latency against the size of the prediction log.

    python bench/feedback.py [--rows 10000,10000000] [--labels 2000] [--days 100]

For each log size, in a temporary project: register a churn-like classifier
(LogisticRegression on tenure, charges, plan) as ``churn``:1 with endpoint ``churn``,
then write the log *directly*, as the server would have: ``rows`` one-row requests with
random 128-bit request ids, one Parquet segment per day spread over ``days`` days that
end three days ago, and their rows in the ``request_index`` table (the rows the
server's indexer would insert; SQLite only). Then start
``modelport serve`` on 127.0.0.1 and time, one at a time from one client:

* **logged**: ``POST /v1/feedback`` for ``labels`` request ids drawn at random from the
  whole generated log (each once) — the lookup goes to the index table;
* **fresh**: ``POST /v1/endpoints/churn/predict`` then at once the label of its answer
  (``labels / 4`` pairs; only the label is timed) — matched from memory, before any
  flush.

Reports p50/p99 per size and the ratio of the largest size's p99 to the smallest's
(target: within 2x), plus the CPU other processes took meanwhile (noise). Live
monitoring is off in the server (``monitoring.enabled = false``) so only the feedback
path is measured. Writes ``bench/results/feedback.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from machine import busy_cpu_seconds, machine_info
from servers import Server, free_port

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
console = Console()
INSTANCE = {"tenure": 7, "charges": 70.5, "plan": "basic"}


def train(folder: Path) -> tuple[Path, Path]:
    import skops.io as sio
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "charges": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    frame["churned"] = ((frame.tenure < 12) & (frame.plan == "basic")).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            (StandardScaler(), ["tenure", "charges"]),
        ),
        LogisticRegression(),
    ).fit(frame.drop(columns=["churned"]), frame["churned"])
    model_path, reference_path = folder / "churn.skops", folder / "train.parquet"
    sio.dump(model, model_path)
    frame.to_parquet(reference_path)
    return model_path, reference_path


def project(folder: Path, model_path: Path, reference_path: Path) -> None:
    from modelport.config import DEFAULT_TOML, Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    toml = DEFAULT_TOML.replace("[monitoring]\n", "[monitoring]\nenabled = false\n")
    (folder / "modelport.toml").write_text(toml)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
        version = registry.register(
            Registration(
                name="churn",
                source=str(model_path),
                flavor="sklearn",
                reference=reference_path,
                target="churned",
            )
        )
        EndpointStore(db, registry).create("churn", "churn", version.version)
    finally:
        db.dispose()


def generate_log(folder: Path, rows: int, days: int, sample: int) -> tuple[list[str], float]:
    """Write ``rows`` logged one-row requests and their index rows; returns ``sample``
    request ids drawn from all of them, and the seconds it took."""
    started = time.perf_counter()
    home = folder / ".modelport"
    index = sqlite3.connect(home / "modelport.db")
    # Bulk load: no journal, and the whole index B-tree in cache (random keys).
    index.execute("PRAGMA journal_mode=DELETE")
    index.execute("PRAGMA journal_mode=OFF")
    index.execute("PRAGMA synchronous=OFF")
    index.execute("PRAGMA cache_size=-1000000")
    rng = np.random.default_rng(1)
    days = max(1, min(days, rows))
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    per_day = np.full(days, rows // days)
    per_day[: rows % days] += 1
    chosen: list[str] = []
    keep = sample / rows
    try:
        for day_index, count in enumerate(per_day):
            count = int(count)
            day = end - timedelta(days=days - day_index)
            start_s = day.timestamp()
            ts = np.sort(start_s + rng.random(count) * 86_000)
            ids = [secrets.token_hex(16) for _ in range(count)]
            p1 = rng.random(count)
            table = pa.table(
                {
                    "request_id": pa.array(ids, pa.string()),
                    "row": pa.array(np.zeros(count, np.int32)),
                    "endpoint": pa.array(["churn"] * count, pa.string()),
                    "model": pa.array(["churn"] * count, pa.string()),
                    "version": pa.array(np.ones(count, np.int32)),
                    "role": pa.array(["primary"] * count, pa.string()),
                    "ts": pa.array((ts * 1e6).astype("datetime64[us]"), pa.timestamp("us", "UTC")),
                    "latency_ms": pa.array(rng.random(count) + 0.5),
                    "status": pa.array(["ok"] * count, pa.string()),
                    "error": pa.nulls(count, pa.string()),
                    "feature.tenure": pa.array(rng.integers(0, 72, count).astype(np.float64)),
                    "feature.charges": pa.array(rng.normal(70, 20, count)),
                    "feature.plan": pa.array(
                        rng.choice(["basic", "plus", "pro"], count), pa.string()
                    ),
                    "prediction": pa.array(np.where(p1 > 0.5, "1", "0"), pa.string()),
                    "prediction_value": pa.nulls(count, pa.float64()),
                    "proba.0": pa.array(1 - p1),
                    "proba.1": pa.array(p1),
                }
            )
            target = home / "logs" / "churn" / day.strftime("%Y-%m-%d")
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                table, target / f"{int(ts[0] * 1000):013d}-1-{day_index:06d}.parquet",
                compression="zstd",
            )  # fmt: skip
            # The rows the indexer would insert, in SQLAlchemy's SQLite spelling of a
            # UTC datetime (sqlite3 directly: ten times faster than through the ORM).
            stamps = pd.to_datetime(ts, unit="s", utc=True).strftime("%Y-%m-%d %H:%M:%S.%f")
            index.executemany(
                "INSERT OR IGNORE INTO request_index "
                "(request_id, endpoint, model, version, rows, logged_at) "
                "VALUES (?, 'churn', 'churn', 1, 1, ?)",
                sorted(zip(ids, stamps, strict=True)),
            )
            picked = rng.random(count) < keep * 1.2
            chosen.extend(ids[i] for i in np.flatnonzero(picked))
        index.commit()
        index.execute("PRAGMA journal_mode=WAL")
    finally:
        index.close()
    random.Random(2).shuffle(chosen)
    return chosen[:sample], time.perf_counter() - started


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50_ms": round(at(0.50) * 1000, 3),
        "p99_ms": round(at(0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def measure(server: Server, logged: list[str], fresh: int, warmup: int) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:

        def label(request_id: str) -> float:
            body = {"request_id": request_id, "label": random.choice([0, 1])}
            began = time.perf_counter()
            answer = client.post("/v1/feedback", json=body)
            took = time.perf_counter() - began
            if answer.status_code != 200 or answer.json()["matched"] != 1:
                raise RuntimeError(f"label for {request_id} not matched: {answer.text}")
            return took

        def predict() -> str:
            answer = client.post("/v1/endpoints/churn/predict", json={"instances": [INSTANCE]})
            answer.raise_for_status()
            return str(answer.headers["x-request-id"])

        # The index catches up with the newest days at start; wait until it answers.
        deadline = time.monotonic() + 120
        while True:
            answer = client.post("/v1/feedback", json={"request_id": logged[0], "label": 1})
            if answer.status_code == 200 and answer.json()["matched"] == 1:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the logged ids never matched: {answer.text}")
            time.sleep(0.5)
        for request_id in logged[1 : 1 + warmup]:
            label(request_id)
        busy = busy_cpu_seconds()
        began = time.perf_counter()
        logged_times = [label(r) for r in logged[1 + warmup :]]
        fresh_times = [label(predict()) for _ in range(fresh)]
        wall = time.perf_counter() - began
        other = busy_cpu_seconds() - busy
    cores = os.cpu_count() or 1
    return {
        "logged": percentiles(logged_times),
        "fresh": percentiles(fresh_times),
        # Whole machine's busy CPU during the run (server and client included).
        "machine_busy_percent": round(100 * other / (wall * cores), 1),
    }


def run_size(rows: int, args: argparse.Namespace, model: tuple[Path, Path]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"modelport-feedback-{rows}-"))
    try:
        project(folder, *model)
        sample = args.labels + args.warmup + 1
        logged, took = generate_log(folder, rows, args.days, sample)
        console.print(f"[dim]{rows:,} rows logged and indexed in {took:.0f} s[/dim]")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "src"), env.get("PYTHONPATH")])
        )
        server = Server(
            "modelport",
            [sys.executable, "-m", "modelport.cli.main", "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            port,
            folder / "server.log",
            cwd=folder,
            env=env,
        )  # fmt: skip
        server.start()
        try:
            server.wait_ready(
                "/v1/endpoints/churn/predict", json.dumps({"instances": [INSTANCE]}).encode()
            )
            result = measure(server, logged, args.labels // 4, args.warmup)
        finally:
            server.stop()
        segments = len(list((folder / ".modelport" / "logs").rglob("*.parquet")))
        return {"rows": rows, "generate_s": round(took, 1), "segments": segments, **result}
    finally:
        if args.keep:
            console.print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="10000,10000000", help="log sizes, comma-separated")
    parser.add_argument("--labels", type=int, default=2000, help="timed labels per size")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--days", type=int, default=100, help="days the generated log spans")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    sizes = [int(s) for s in args.rows.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        model = train(Path(scratch))
        results = [run_size(rows, args, model) for rows in sizes]
    smallest = min(results, key=lambda r: r["rows"])
    largest = max(results, key=lambda r: r["rows"])
    ratio = largest["logged"]["p99_ms"] / smallest["logged"]["p99_ms"]
    report = {
        "machine": machine_info(),
        "settings": vars(args),
        "results": results,
        "p99_ratio_largest_vs_smallest": round(ratio, 2),
    }
    table = Table(title="POST /v1/feedback latency vs log size")
    for column in ("logged rows", "logged p50", "logged p99", "fresh p50", "fresh p99", "busy %"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r['rows']:,}",
            f"{r['logged']['p50_ms']:.2f} ms",
            f"{r['logged']['p99_ms']:.2f} ms",
            f"{r['fresh']['p50_ms']:.2f} ms",
            f"{r['fresh']['p99_ms']:.2f} ms",
            f"{r['machine_busy_percent']}",
        )
    console.print(table)
    console.print(f"p99 ratio, {largest['rows']:,} vs {smallest['rows']:,} rows: {ratio:.2f}x")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / "feedback.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
