"""The full modelport loop on one laptop, through the real CLI and HTTP API.

Trains a model on scikit-learn's bundled breast-cancer data set (no download), registers
it with a drift alert and a retraining policy, serves it on 127.0.0.1 and sends live
traffic (simple JSON and Open Inference Protocol v2). Then the scanner is recalibrated
(every size reading comes out 50% larger) and v1 gets worse; the drift alert fires; the
labels arrive; the policy retrains v2 on the logged, labelled traffic in a worker
process; v2 goes shadow -> canary -> primary by itself, judged by the gates; accuracy on
new traffic recovers; the lineage shows where v2 came from. It reports drift and
performance, screenshots the dashboard, prints a summary, and stops the server cleanly.
Everything lives in ``.modelport/demo/``; each run starts that folder afresh.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
import pandas as pd
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / ".modelport" / "demo"
console = harness.console


def modelport(
    *args: str, check: bool = True, echo: bool = True
) -> subprocess.CompletedProcess[str]:
    return harness.modelport(WORKSPACE, *args, check=check, echo=echo)


def start_server(port: int) -> subprocess.Popen[bytes]:
    return harness.start_server(WORKSPACE, port)


def train(frame: pd.DataFrame, target: str, c: float, path: Path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(frame.drop(columns=[target]), frame[target])
    sio.dump(model, path)


def load_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame = frame.rename(columns={"target": "benign"})
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(len(shuffled) * 0.6)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


def send_traffic(client: httpx.Client, rows: pd.DataFrame, prefix: str) -> list[dict[str, Any]]:
    answers = []
    features = rows.drop(columns=["benign"])
    for index in track(range(len(features)), description=f"traffic: {prefix}", console=console):
        instance = {k: float(v) for k, v in features.iloc[index].items()}
        request_id = f"{prefix}-{index}"
        if index % 5 == 0:  # every fifth request through the Open Inference Protocol
            body = {
                "id": request_id,
                "inputs": [
                    {"name": k, "shape": [1], "datatype": "FP64", "data": [v]}
                    for k, v in instance.items()
                ],
            }
            response = client.post("/v2/models/cancer/infer", json=body)
            response.raise_for_status()
            label = response.json()["outputs"][0]["data"][0]
        else:
            response = client.post(
                "/v1/endpoints/cancer/predict",
                json={"instances": [instance]},
                headers={"X-Request-ID": request_id},
            )
            response.raise_for_status()
            label = response.json()["predictions"][0]
        answers.append(
            {
                "request_id": request_id,
                "prediction": int(label),
                "label": int(rows["benign"].iloc[index]),
            }
        )
    return answers


# Size readings of the recalibrated scanner: every size measurement comes out 50% larger.
SIZE_FEATURES = [
    "mean_radius", "mean_perimeter", "mean_area", "radius_error", "perimeter_error",
    "area_error", "worst_radius", "worst_perimeter", "worst_area",
]  # fmt: skip
TRAINER = "modelport.retraining.examples:logistic"
# The demo's settings over the defaults: a trainer policies may run, and quick rounds.
SETTINGS = {
    "trainers = []": f'trainers = ["{TRAINER}"]\ninterval_s = 2.0',
    "interval_s = 15.0": "interval_s = 2.0",
}


def recalibrated(rows: pd.DataFrame) -> pd.DataFrame:
    shifted = rows.copy()
    for name in SIZE_FEATURES:
        shifted[name] = shifted[name] * 1.5
    return shifted


def main() -> None:
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir(parents=True)
    reference, live = load_data()
    train(reference, "benign", 1.0, WORKSPACE / "model.skops")
    reference.to_parquet(WORKSPACE / "train.parquet")
    console.rule("1. set up and register v1, its drift alert and its retraining policy")
    modelport("init")
    config = WORKSPACE / "modelport.toml"
    text = config.read_text()
    for old, new in SETTINGS.items():
        text = text.replace(old, new, 1)
    config.write_text(text)
    modelport(
        "models",
        "register",
        "cancer",
        "model.skops",
        "--reference",
        "train.parquet",
        "--target",
        "benign",
        "--description",
        "logistic regression on breast cancer",
    )
    modelport("endpoints", "create", "cancer", "--model", "cancer:1")
    modelport(
        "alerts",
        "add",
        "cancer-drift",
        "--endpoint",
        "cancer",
        "--metric",
        "drift.decision",
        "--feature",
        "*",
        "--above",
        "0.5",
        "--severity",
        "warning",
    )
    modelport("notifiers", "add", "server-log", "--log")
    modelport(
        "retrain",
        "policy",
        "set",
        "cancer",
        "--trainer",
        TRAINER,
        "--on-alert",
        "cancer-drift",
        "--cooldown",
        "24h",
        "--min-labels",
        "500",
        "--max-attempts",
        "2",
        # A retrain that fixes a drift disagrees with v1 where v1 is wrong: it is
        # judged on accuracy against the labels, not on agreement.
        "--shadow-for",
        "150req",
        "--steps",
        "50,100",
        "--step-after",
        "150req",
        "--min-samples",
        "40",
        "--gate",
        "error_rate<=0.01",
        "--gate",
        "accuracy>=primary",
    )

    console.rule("2. serve v1 and send live traffic")
    port = harness.free_port()
    server = start_server(port)
    console.print(f"dashboard: [bold]http://127.0.0.1:{port}/dashboard[/]")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answers = send_traffic(client, live, "live")
            send_labels(client, answers)

            console.rule("3. the scanner is recalibrated: size readings come out 50% larger")
            drifted = recalibrated(live)
            for round_ in range(3):
                answers += send_traffic(client, drifted, f"drifted{round_}")
            shown = [a for a in answers if a["request_id"].startswith("drifted")]
            console.print(f"v1's accuracy on the recalibrated scanner: {_accuracy(shown):.3f}")

            console.rule("4. labels arrive later")
            send_labels(client, shown)

            console.rule("5. the drift alert fires")
            fired = wait_until(lambda: firing(client, "cancer-drift"), "the drift alert", 180)
            console.print(f"alert cancer-drift firing: {fired}")

            console.rule("6. the retraining policy trains v2 on logged, labelled traffic")
            version = wait_until(lambda: trained(client), "the retraining policy", 300)
            console.print(f"the policy registered cancer:{version}")
            modelport("models", "lineage", f"cancer:{version}")

            console.rule(f"7. v{version}: shadow -> canary -> primary, decided by the gates")
            outcome, rollout_requests = roll_out(client, drifted)
            modelport("rollout", "history", "cancer")
            console.print(f"rollout outcome: [bold]{outcome}[/] after {rollout_requests} requests")

            console.rule("8. new traffic from the recalibrated scanner")
            fresh = send_traffic(client, recalibrated(reference), "after")
            send_labels(client, fresh)
            answers += fresh
            console.print(f"accuracy now: {_accuracy(fresh):.3f}")
            modelport("retrain", "policy", "history", "cancer")
            metrics = client.get("/metrics").text
        modelport(
            "predict",
            "cancer",
            "@" + str(_write_example(live)),
            "--url",
            f"http://127.0.0.1:{port}",
        )
        console.rule("9. monitoring: drift, quality, performance")
        modelport(
            "monitor",
            "report",
            "cancer",
            "--window",
            "1h",
            "--sections",
            "drift,quality,performance",
        )
        modelport(
            "monitor", "report", "cancer", "--window", "1h", "--format", "html", "-o", "report.html"
        )
        console.rule("10. alerts: what fired while the scanner drifted")
        modelport("alerts", "list", check=False)
        modelport("alerts", "history", "cancer-drift", "--limit", "10", check=False)
        console.rule("11. the dashboard")
        screenshot_dashboard(port)
    finally:
        console.rule("12. stop cleanly (SIGTERM flushes the prediction log)")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    modelport("logs", "tail", "cancer", "-n", "5", "--table")
    modelport("logs", "export", "cancer", "-o", "predictions.parquet", "--with-labels")
    summarize(answers, metrics, outcome)


def send_labels(client: httpx.Client, answers: list[dict[str, Any]]) -> None:
    labels = [{"request_id": a["request_id"], "label": a["label"]} for a in answers]
    result = client.post("/v1/feedback", json=labels).json()
    console.print(f"labels: {result['accepted']} accepted, {result['matched']} matched")


def firing(client: httpx.Client, rule: str) -> str | None:
    active = client.get("/v1/alerts/active").json()
    for alert in active.get("alerts", []):
        if alert.get("rule") == rule and alert.get("state") == "firing":
            return str(alert.get("value"))
    return None


def trained(client: httpx.Client) -> int | None:
    """The version the policy trained, once registered (None before)."""
    history = client.get("/v1/endpoints/cancer/retrain/history").json()
    for event in history.get("history", []):
        if event.get("decision") == "failed":
            raise SystemExit(f"the retraining policy failed: {event.get('reason')}")
        if event.get("decision") == "trained":
            return int(event["version"])
    return None


def wait_until(probe: Any, what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    with console.status(f"waiting for {what} ..."):
        while time.monotonic() < deadline:
            found = probe()
            if found is not None:
                return found
            time.sleep(1.0)
    raise SystemExit(f"{what} did not happen within {timeout_s:.0f} s")


DASHBOARD_PAGES = {
    "overview": "/dashboard",
    "endpoint": "/dashboard/endpoints/cancer?range=1h",
    "rollout": "/dashboard/endpoints/cancer/rollout",
    "alerts": "/dashboard/alerts",
    "models": "/dashboard/models/cancer",
    "predictions": "/dashboard/endpoints/cancer/predictions",
}


def screenshot_dashboard(port: int) -> None:
    """Every dashboard page in headless Chromium (when the machine has it), as PNG files."""
    console.print(f"open [bold]http://127.0.0.1:{port}/dashboard[/] while a server runs")
    chromium = os.environ.get("MODELPORT_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        console.print("no Chromium here (apt-get install chromium): no screenshots taken")
        return
    folder = WORKSPACE / "dashboard"
    folder.mkdir(exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, path in DASHBOARD_PAGES.items():
            page.goto(f"http://127.0.0.1:{port}{path}")
            # A locator, not wait_for_function: the page's CSP forbids eval.
            page.locator("body[data-ready='1']").wait_for(state="attached", timeout=30_000)
            page.screenshot(path=folder / f"{name}.png", full_page=True)
        browser.close()
    shown = folder.relative_to(ROOT)
    console.print(f"screenshots of {len(DASHBOARD_PAGES)} pages in {shown}/")


def roll_out(client: httpx.Client, rows: pd.DataFrame, budget: int = 25000) -> tuple[str, int]:
    """Send traffic, and its labels soon after, until the rollout is decided (or the
    budget is spent)."""
    features = rows.drop(columns=["benign"])
    state = "active"
    labels: list[dict[str, Any]] = []
    for sent in track(range(budget), description="traffic during the rollout", console=console):
        instance = {k: float(v) for k, v in features.iloc[sent % len(features)].items()}
        request_id = f"rollout-{sent}"
        response = client.post(
            "/v1/endpoints/cancer/predict",
            json={"instances": [instance]},
            headers={"X-Request-ID": request_id, "X-Patient-Id": f"p{sent % 97}"},
        )
        response.raise_for_status()
        labels.append(
            {"request_id": request_id, "label": int(rows["benign"].iloc[sent % len(rows)])}
        )
        if sent % 50 == 49:
            client.post("/v1/feedback", json=labels).raise_for_status()
            labels = []
            rollout = client.get("/v1/endpoints/cancer/rollout").json()["rollout"] or {}
            state = str(rollout.get("status", "active"))
            if state not in ("active", "paused"):
                return state, sent + 1
    return state, budget


def _write_example(frame: pd.DataFrame) -> Path:
    import json

    path = WORKSPACE / "example.json"
    example = {k: float(v) for k, v in frame.drop(columns=["benign"]).iloc[0].items()}
    path.write_text(json.dumps(example))
    return path


def summarize(answers: list[dict[str, Any]], metrics: str, outcome: str) -> None:
    exported = pd.read_parquet(WORKSPACE / "predictions.parquet")
    table = Table(title="modelport demo summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    live = [a for a in answers if a["request_id"].startswith("live")]
    drifted = [a for a in answers if a["request_id"].startswith("drifted")]
    primary = exported[exported["role"].isin(["primary", "canary"])]
    table.add_row("requests answered", str(primary["request_id"].nunique()))
    table.add_row("rollout of the retrained cancer:2", outcome)
    table.add_row("rows in the prediction log", str(len(exported)))
    table.add_row("rows with a label joined", str(int(exported["label"].notna().sum())))
    after = [a for a in answers if a["request_id"].startswith("after")]
    table.add_row("accuracy of v1, live traffic", f"{_accuracy(live):.3f}")
    table.add_row("accuracy of v1, recalibrated scanner", f"{_accuracy(drifted):.3f}")
    table.add_row("accuracy after the retrain, recalibrated scanner", f"{_accuracy(after):.3f}")
    latency = exported["latency_ms"].to_numpy()
    table.add_row(
        "server latency p50 / p99 (ms)",
        f"{np.percentile(latency, 50):.2f} / {np.percentile(latency, 99):.2f}",
    )
    dropped = [
        line
        for line in metrics.splitlines()
        if line.startswith("modelport_log_dropped_records_total")
    ]
    table.add_row("log records dropped", dropped[0].split()[-1] if dropped else "?")
    console.print(table)
    if not set(a["request_id"] for a in answers) <= set(exported["request_id"]):
        raise SystemExit("the prediction log is missing acknowledged predictions")


def _accuracy(answers: list[dict[str, Any]]) -> float:
    return float(np.mean([a["prediction"] == a["label"] for a in answers])) if answers else 0.0


if __name__ == "__main__":
    main()
