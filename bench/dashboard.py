"""How fast the dashboard's endpoint page renders a month of hourly series for 50 features.

    python bench/dashboard.py [--features 50] [--days 30] [--rows-per-hour 700] [--loads 5]
                              [--json] [--keep DIR] [--reuse DIR]

In a temporary project: train a classifier on ``features`` inputs (numeric and a few
categorical), register it as ``wide``:1 with endpoint ``wide`` and hourly live windows,
then write ``days`` days of its prediction log *directly*, as the server would have
(``rows-per-hour`` one-row requests per hour with the model's real answers, one Parquet
segment per day, the last week drifted on a handful of features), and store the hourly
monitoring series with the real ``modelport monitor backfill wide --every 1h`` (the same
states and points a server stores live). Then start ``modelport serve`` on 127.0.0.1
with a reader token and, in headless system Chromium at 1280x800, open
``/dashboard/endpoints/wide?range=30d`` ``loads`` times:

* **cold**: a new browser context each time (empty cache, fresh sign-in state);
* **warm**: reloads in one context (static files revalidated from the HTTP cache).

Each load is timed from navigation start to ``<body data-ready="1">`` (set by the
dashboard core once the page's first render finished), read in the page from
``performance.now()`` when the attribute appears. For every API call the page made we
report its response size and time (Playwright's request timing: request start to
response end). Goal: under 1 s. Writes ``bench/results/dashboard.json`` and a screenshot
of the page, ``bench/results/dashboard.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from machine import machine_info, wait_until_quiet
from servers import Server, free_port

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
console = Console(stderr=True)
ENDPOINT = "wide"
TOKEN = "bench-reader-token-0123456789"
CATEGORIES = ["north", "south", "east", "west"]
# Records the moment <body data-ready="1"> appears, relative to navigation start.
READY_PROBE = """
new MutationObserver((changes, observer) => {
  if (document.body && document.body.dataset.ready === "1") {
    window.__readyAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-ready"]});
"""
TOKEN_SCRIPT = f"sessionStorage.setItem('modelport.token', {json.dumps(TOKEN)});"
CONFIG = f"""\
[store]
home = ".modelport"

[monitoring]
window = "1h"
compact_log = false

[alerts]
enabled = false

[auth.tokens.bench-reader]
role = "reader"
token = "{TOKEN}"
"""


# -- the project ---------------------------------------------------------------------------
def feature_names(count: int) -> tuple[list[str], list[str]]:
    """Numeric and categorical input names: one categorical in ten."""
    categorical = [f"region_{i:02d}" for i in range(max(1, count // 10))]
    numeric = [f"x_{i:02d}" for i in range(count - len(categorical))]
    return numeric, categorical


def inputs(
    rows: int, numeric: list[str], categorical: list[str], rng: np.random.Generator, shift: float
) -> pd.DataFrame:
    """Inputs like the training data; ``shift`` moves the first five numeric features (in
    standard deviations) and skews the first categorical one."""
    columns: dict[str, Any] = {}
    for index, name in enumerate(numeric):
        mean, scale = 10.0 * (index % 7), 1.0 + index % 3
        moved = shift if index < 5 else 0.0
        columns[name] = rng.normal(mean + moved * scale, scale, rows)
    for index, name in enumerate(categorical):
        weights = np.array([0.4, 0.3, 0.2, 0.1])
        if index == 0 and shift:
            weights = weights[::-1]
        columns[name] = rng.choice(CATEGORIES, rows, p=weights)
    return pd.DataFrame(columns)


def train(folder: Path, numeric: list[str], categorical: list[str]) -> tuple[Any, Path, Path]:
    import skops.io as sio
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = inputs(5000, numeric, categorical, rng, shift=0.0)
    score = (frame[numeric[0]] - frame[numeric[0]].mean()) + (frame[categorical[0]] == "north")
    frame["churned"] = (score + rng.normal(0, 1, len(frame)) > 0.5).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (StandardScaler(), numeric),
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame.drop(columns=["churned"]), frame["churned"])
    model_path, reference_path = folder / "wide.skops", folder / "wide.parquet"
    sio.dump(model, model_path)
    frame.to_parquet(reference_path)
    return model, model_path, reference_path


def register(folder: Path, model_path: Path, reference_path: Path) -> None:
    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    (folder / "modelport.toml").write_text(CONFIG)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
        version = registry.register(
            Registration(
                name=ENDPOINT,
                source=str(model_path),
                flavor="sklearn",
                reference=reference_path,
                target="churned",
            )
        )
        EndpointStore(db, registry).create(ENDPOINT, ENDPOINT, version.version)
    finally:
        db.dispose()


def write_log(
    folder: Path,
    model: Any,
    numeric: list[str],
    categorical: list[str],
    days: int,
    rows_per_hour: int,
) -> tuple[int, datetime, datetime]:
    """One segment per day of one-row requests, ending at the last full hour; the last
    week drifted. Returns the rows written and the span."""
    rng = np.random.default_rng(1)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    drift_from = end - timedelta(days=7)
    written = 0
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        hours = [day + timedelta(hours=h) for h in range(24)]
        shift = [1.5 if hour >= drift_from else 0.0 for hour in hours]
        frames = [inputs(rows_per_hour, numeric, categorical, rng, s) for s in shift]
        frame = pd.concat(frames, ignore_index=True)
        count = len(frame)
        ts = np.concatenate(
            [np.sort(h.timestamp() + rng.random(rows_per_hour) * 3600) for h in hours]
        )
        proba = model.predict_proba(frame)
        columns: dict[str, Any] = {
            "request_id": pa.array([f"r{day_index:03d}-{i:07d}" for i in range(count)]),
            "row": pa.array(np.zeros(count, np.int32)),
            "endpoint": pa.array([ENDPOINT] * count, pa.string()),
            "model": pa.array([ENDPOINT] * count, pa.string()),
            "version": pa.array(np.ones(count, np.int32)),
            "role": pa.array(["primary"] * count, pa.string()),
            "ts": pa.array((ts * 1e6).astype("datetime64[us]"), pa.timestamp("us", "UTC")),
            "latency_ms": pa.array(rng.gamma(4.0, 1.5, count) + 1.0),
            "status": pa.array(["ok"] * count, pa.string()),
            "error": pa.nulls(count, pa.string()),
        }
        for name in numeric:
            columns[f"feature.{name}"] = pa.array(frame[name].to_numpy(np.float64))
        for name in categorical:
            columns[f"feature.{name}"] = pa.array(frame[name].astype(str), pa.string())
        columns["prediction"] = pa.array(np.where(proba[:, 1] > 0.5, "1", "0"), pa.string())
        columns["prediction_value"] = pa.nulls(count, pa.float64())
        columns["proba.0"] = pa.array(proba[:, 0])
        columns["proba.1"] = pa.array(proba[:, 1])
        target = folder / ".modelport" / "logs" / ENDPOINT / day.strftime("%Y-%m-%d")
        target.mkdir(parents=True, exist_ok=True)
        name = f"{int(ts[0] * 1000):013d}-1-{day_index:06d}.parquet"
        pq.write_table(pa.table(columns), target / name, compression="zstd")
        written += count
    return written, start, end


def seed(folder: Path, features: int, days: int, rows_per_hour: int) -> dict[str, Any]:
    numeric, categorical = feature_names(features)
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    model, model_path, reference_path = train(folder, numeric, categorical)
    register(folder, model_path, reference_path)
    timings["register_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    rows, start, end = write_log(folder, model, numeric, categorical, days, rows_per_hour)
    timings["log_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    since = start.isoformat().replace("+00:00", "Z")
    until = end.isoformat().replace("+00:00", "Z")
    backfill = [
        sys.executable, "-m", "modelport.cli.main", "monitor", "backfill", ENDPOINT,
        "--every", "1h", "--since", since, "--until", until,
    ]  # fmt: skip
    subprocess.run(backfill, cwd=folder, env=cli_env(), check=True, capture_output=True)
    timings["backfill_s"] = round(time.perf_counter() - started, 1)
    return {
        "features": features,
        "numeric": len(numeric),
        "categorical": len(categorical),
        "days": days,
        "rows_per_hour": rows_per_hour,
        "log_rows": rows,
        "windows": days * 24,
        "series_points": count_points(folder),
        "seconds": timings,
    }


def count_points(folder: Path) -> int:
    import sqlite3

    with sqlite3.connect(folder / ".modelport" / "modelport.db") as db:
        return int(db.execute("SELECT count(*) FROM monitoring_points").fetchone()[0])


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


def wait_live(server: Server, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise SystemExit(f"the server exited:\n{server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/v2/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not start:\n{server.log_path.read_text()[-3000:]}")


# -- the browser ---------------------------------------------------------------------------
def chromium() -> str:
    found = os.environ.get("MODELPORT_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise SystemExit("Chromium is needed: apt-get install chromium (or MODELPORT_CHROMIUM)")
    return found


def load(context: Any, url: str, screenshot: Path | None = None) -> dict[str, Any]:
    """Open ``url`` in a new page of ``context``; time to ready and the API calls made."""
    page = context.new_page()
    calls: list[Any] = []
    page.on("requestfinished", lambda request: calls.append(request))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.locator("body[data-ready='1']").wait_for(state="attached", timeout=120_000)
    ready_ms = page.evaluate("window.__readyAt")
    # When the page's last API answer arrived: ready_ms minus this is drawing time.
    data_ms = page.evaluate(
        "Math.max(0, ...performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/v1/')).map(e => e.responseEnd))"
    )
    states = page.locator("#content [data-state]").evaluate_all(
        "boxes => boxes.map(b => b.dataset.state + ': ' + b.textContent.trim().slice(0, 80))"
    )
    api = []
    for request in calls:
        path = urlsplit(request.url)
        if not path.path.startswith("/v1/"):
            continue
        timing = request.timing
        sizes = request.sizes()
        api.append(
            {
                "path": path.path + (f"?{path.query}" if path.query else ""),
                "bytes": sizes["responseBodySize"],
                "ms": round(timing["responseEnd"] - timing["requestStart"], 1)
                if timing["requestStart"] >= 0
                else round(timing["responseEnd"], 1),
            }
        )
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return {
        "ready_ms": round(ready_ms, 1),
        "data_ms": round(data_ms, 1),
        "api": api,
        "errors": errors,
        "states": states,
    }


def measure(base_url: str, path: str, loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    url = base_url + path
    viewport = {"width": 1280, "height": 800}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            # One load nobody counts: the server's and the OS's caches warm up.
            context = browser.new_context(viewport=viewport)
            context.add_init_script(TOKEN_SCRIPT + READY_PROBE)
            RESULTS.mkdir(exist_ok=True)
            load(context, url, screenshot=RESULTS / "dashboard.png")
            context.close()
            cold = []
            for _ in range(loads):
                context = browser.new_context(viewport=viewport)
                context.add_init_script(TOKEN_SCRIPT + READY_PROBE)
                cold.append(load(context, url))
                context.close()
            context = browser.new_context(viewport=viewport)
            context.add_init_script(TOKEN_SCRIPT + READY_PROBE)
            load(context, url)
            warm = [load(context, url) for _ in range(loads)]
            context.close()
        finally:
            browser.close()
    return {"url": path, "cold": cold, "warm": warm}


def summary(loads: list[dict[str, Any]]) -> dict[str, float]:
    times = [entry["ready_ms"] for entry in loads]
    data = [entry["data_ms"] for entry in loads]
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "data_median_ms": round(statistics.median(data), 1),
    }


def call_name(path: str) -> str:
    """A call's path and query with the moments left out (they move with the clock)."""
    split = urlsplit(path)
    query = [part for part in split.query.split("&") if part]
    kept = [p if p.split("=")[0] not in ("since", "until") else p.split("=")[0] for p in query]
    return split.path + (f"?{'&'.join(kept)}" if kept else "")


def api_table(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per API call (path and query, moments left out): response size and median time."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for entry in loads:
        for call in entry["api"]:
            by_path.setdefault(call_name(call["path"]), []).append(call)
    return [
        {
            "path": path,
            "calls_per_load": round(len(calls) / len(loads), 1),
            "bytes": int(statistics.median(c["bytes"] for c in calls)),
            "median_ms": round(statistics.median(c["ms"] for c in calls), 1),
        }
        for path, calls in by_path.items()
    ]


def replay(base_url: str, load: dict[str, Any], repeat: int = 3) -> dict[str, float]:
    """Each API call of one load again, one at a time (no other call competing): the
    server's own time per call, median of ``repeat``."""
    serial: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=300) as client:
        for call in load["api"]:
            name = call_name(call["path"])
            if name in serial:
                continue
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                client.get(call["path"]).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            serial[name] = round(statistics.median(times), 1)
    return serial


def report(result: dict[str, Any]) -> None:
    figures = Table(title=f"{result['measured']['url']} (navigation start -> data-ready)")
    for column in ("loads", "n", "median ms", "max ms", "last answer (median ms)"):
        figures.add_column(column, justify="right" if column != "loads" else "left")
    for kind in ("cold", "warm"):
        figures.add_row(
            kind,
            str(len(result["measured"][kind])),
            f"{result[kind]['median_ms']:.0f}",
            f"{result[kind]['max_ms']:.0f}",
            f"{result[kind]['data_median_ms']:.0f}",
        )
    console.print(figures)
    calls = Table(
        title="API calls of one load (cold; 'alone': the same call again with nothing else)"
    )
    calls.add_column("path", overflow="fold")
    for column in ("calls", "bytes", "median ms", "alone ms"):
        calls.add_column(column, justify="right")
    for row in result["api"]:
        calls.add_row(
            row["path"],
            str(row["calls_per_load"]),
            f"{row['bytes']:,}",
            f"{row['median_ms']}",
            f"{row['alone_ms']}",
        )
    console.print(calls)
    data = result["data"]
    console.print(
        f"data: {data['features']} features ({data['categorical']} categorical), "
        f"{data['days']} days of hourly windows ({data['windows']}), {data['log_rows']:,} "
        f"logged rows, {data['series_points']:,} series points; seeding {data['seconds']}"
    )
    machine = result["machine"]
    console.print(
        f"machine: {machine['cpu']}, {machine['nproc']} cores, {machine['memory_gib']} GiB, "
        f"{machine['busy_percent_before']}% busy before measuring"
    )
    states = result["measured"]["cold"][0]["states"]
    if states:
        console.print(f"state boxes on the page: {states}")
    errors = {e for entry in result["measured"]["cold"] for e in entry["errors"]}
    if errors:
        console.print(f"[red]page errors: {sorted(errors)}[/red]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-hour", type=int, default=700)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--range", default="30d", help="the page's ?range=")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="seconds to wait for an idle machine"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", type=Path, help="seed into this folder and keep it")
    parser.add_argument("--reuse", type=Path, help="a folder seeded earlier with --keep")
    args = parser.parse_args()

    scratch = None
    if args.reuse:
        folder = args.reuse.resolve()
        data = json.loads((folder / "seed.json").read_text())
    else:
        if args.keep:
            folder = args.keep.resolve()
            folder.mkdir(parents=True)
        else:
            scratch = tempfile.mkdtemp(prefix="bench-dashboard-")
            folder = Path(scratch)
        console.print(f"seeding {folder} ...")
        data = seed(folder, args.features, args.days, args.rows_per_hour)
        (folder / "seed.json").write_text(json.dumps(data))
    port = free_port()
    command = [sys.executable, "-m", "modelport.cli.main", "serve", "--host", "127.0.0.1"]
    server = Server(
        "modelport",
        [*command, "--port", str(port)],
        port,
        folder / "server.log",
        cwd=folder,
        env=cli_env(),
    )
    try:
        server.start()
        wait_live(server)
        # Other work on a shared machine skews every figure: wait for a quiet moment.
        busy_before = wait_until_quiet(args.quiet_wait)
        path = f"/dashboard/endpoints/{ENDPOINT}?range={args.range}"
        measured = measure(server.base_url, path, args.loads)
        serial = replay(server.base_url, measured["cold"][0])
    finally:
        server.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "machine": {**machine_info(), "busy_percent_before": round(busy_before, 1)},
        "data": data,
        "cold": summary(measured["cold"]),
        "warm": summary(measured["warm"]),
        "api": [
            {**row, "alone_ms": serial.get(row["path"])} for row in api_table(measured["cold"])
        ],
        "measured": measured,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "measured"}, indent=2))
    report(result)


if __name__ == "__main__":
    main()
