"""A two-step pipeline on one laptop, through the real CLI and HTTP API.

Modelled on a voice-activity detector feeding a speech recogniser, with scikit-learn's
bundled 8x8 digits (no download) standing in for speech: the step ``detect`` says whether
an input is a digit at all (1) or noise (0); the step ``recognise`` reads the digit, from
the request's 64 pixels and the detector's confidence ``speech_p``, and runs only on rows
the detector passed (the others answer -1, "no digit"). Both steps are ordinary
endpoints (``digits.detect``, ``digits.recognise``) with their own logs, labels and
monitoring.

The story: clean traffic (digits and some noise) is served, noise skips the recogniser,
labels arrive for each step and give their accuracy. Then the "microphone" degrades
(gaussian noise on every pixel): the detector passes fewer rows and with less
confidence, so the recogniser's ``speech_p`` input drifts, and its monitoring says so
although nobody touched the recogniser. Last, a recogniser retrained for the noisier
microphone goes canary on its step alone (the detector keeps its version), is judged on
the recogniser's own labels and promoted, and its accuracy on new traffic is shown.
Everything lives in ``.modelport/demo-pipeline/``; each run starts that folder afresh.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
import pandas as pd
from rich.progress import track
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / ".modelport" / "demo-pipeline"
console = harness.console

ENDPOINT = "digits"
NO_DIGIT = -1  # the pipeline's answer where the detector heard no digit
# How noisy the degraded "microphone" is: the standard deviation of the gaussian noise
# added to every pixel (pixels run 0..16). At 8 the detector still passes most digits,
# but with a visibly lower confidence, which is the drift this demo is about.
SIGMA = 8.0
NOISE_ROWS = 150  # noise inputs sent among the digits of each traffic phase

PIPELINE = f"""\
[[step]]
name = "detect"
model = "detector:1"

[[step]]
name = "recognise"
model = "recogniser:1"
inputs = {{ speech_p = "detect.proba.1" }}   # unmapped features default to request.<same name>
when = "detect.prediction == 1"
default = {NO_DIGIT}
"""


def modelport(
    *args: str, check: bool = True, echo: bool = True
) -> subprocess.CompletedProcess[str]:
    return harness.modelport(WORKSPACE, *args, check=check, echo=echo)


def start_server(port: int) -> subprocess.Popen[bytes]:
    return harness.start_server(WORKSPACE, port)


def fit(frame: pd.DataFrame, target: str, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(frame.drop(columns=[target]), frame[target])
    return model


def noise(count: int, columns: list[str], seed: int) -> pd.DataFrame:
    """Inputs that are no digit: every pixel uniform in 0..16 (as the digits' pixels)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 17, size=(count, len(columns))).astype(float)
    return pd.DataFrame(values, columns=columns)


def load_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The digits in three parts: the detector's training rows, the recogniser's, and
    live traffic. The recogniser learns on rows the detector never saw, so the
    ``speech_p`` of its reference is what the detector says of unseen digits, as it
    will be in live traffic (on its own training rows it would be overconfident)."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.rename(columns={"target": "digit"})
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    # The recogniser's reference and each window judged against it need 600 rows: a
    # continuous input such as speech_p is binned at reference quantiles (24 bins), and
    # its drift statistic wants 25 rows a bin.
    return (
        shuffled.iloc[:500].reset_index(drop=True),
        shuffled.iloc[500:1100].reset_index(drop=True),
        shuffled.iloc[1100:].reset_index(drop=True),
    )


def train_models(detector_rows: pd.DataFrame, recogniser_rows: pd.DataFrame) -> None:
    """Fit both models, save them as skops files and their training sets as references."""
    import skops.io as sio

    pixels = [c for c in detector_rows.columns if c != "digit"]
    digits = detector_rows[pixels].assign(is_digit=1)
    detector_train = pd.concat(
        [digits, noise(len(digits), pixels, seed=1).assign(is_digit=0)], ignore_index=True
    )
    # Strongly regularised: a confidence that moves when inputs get noisy (an
    # unregularised one says 0.9999 of nearly anything digit-like).
    detector = fit(detector_train, "is_digit", 0.01)
    sio.dump(detector, WORKSPACE / "detector.skops")
    detector_train.to_parquet(WORKSPACE / "detector_train.parquet")

    def with_speech_p(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(speech_p=detector.predict_proba(rows[pixels])[:, 1])

    recogniser_train = with_speech_p(recogniser_rows)
    sio.dump(fit(recogniser_train, "digit", 0.1), WORKSPACE / "recogniser.skops")
    recogniser_train.to_parquet(WORKSPACE / "recogniser_train.parquet")
    # Version 2, for the worse microphone: the same digits once more as it hears them
    # (speech_p as the detector then says), besides the clean ones.
    retrain = pd.concat(
        [recogniser_train, with_speech_p(microphone(recogniser_rows, SIGMA, seed=5))],
        ignore_index=True,
    )
    sio.dump(fit(retrain, "digit", 0.01), WORKSPACE / "recogniser_v2.skops")
    retrain.to_parquet(WORKSPACE / "recogniser_v2_train.parquet")


def microphone(rows: pd.DataFrame, sigma: float, seed: int) -> pd.DataFrame:
    """``rows`` as a worse microphone hears them: gaussian noise of standard deviation
    ``sigma`` on every pixel, clipped to the pixels' range 0..16."""
    pixels = [c for c in rows.columns if c.startswith("pixel_")]
    noisy = rows.copy()
    rng = np.random.default_rng(seed)
    noisy[pixels] = (rows[pixels] + rng.normal(0.0, sigma, size=rows[pixels].shape)).clip(0, 16)
    return noisy


def traffic(digits: pd.DataFrame, seed: int, sigma: float = 0.0) -> pd.DataFrame:
    """Digits and noise inputs in a shuffled order, ``digit`` the truth (-1 for noise);
    with ``sigma``, gaussian noise on every pixel (clipped to 0..16) as a worse
    microphone would add."""
    pixels = [c for c in digits.columns if c != "digit"]
    rows = pd.concat(
        [digits, noise(NOISE_ROWS, pixels, seed=seed).assign(digit=NO_DIGIT)], ignore_index=True
    )
    rows = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return microphone(rows, sigma, seed) if sigma else rows


def send_traffic(client: httpx.Client, rows: pd.DataFrame, prefix: str) -> list[dict[str, Any]]:
    """One request per row (so a label names its request alone); every fifth through
    the Open Inference Protocol."""
    return [
        answer(client, rows, index, f"{prefix}-{index}")
        for index in track(range(len(rows)), description=f"traffic: {prefix}", console=console)
    ]


def answer(client: httpx.Client, rows: pd.DataFrame, index: int, request_id: str) -> dict[str, Any]:
    """The pipeline's answer to row ``index`` of ``rows``, beside the truth."""
    instance = {k: float(v) for k, v in rows.iloc[index].items() if k != "digit"}
    if index % 5 == 0:  # every fifth request through the Open Inference Protocol
        body = {
            "id": request_id,
            "inputs": [
                {"name": k, "shape": [1], "datatype": "FP64", "data": [v]}
                for k, v in instance.items()
            ],
        }
        response = client.post(f"/v2/models/{ENDPOINT}/infer", json=body)
        response.raise_for_status()
        prediction = response.json()["outputs"][0]["data"][0]
    else:
        response = client.post(
            f"/v1/endpoints/{ENDPOINT}/predict",
            json={"instances": [instance]},
            headers={"X-Request-ID": request_id},
        )
        response.raise_for_status()
        prediction = response.json()["predictions"][0]
    return {
        "request_id": request_id,
        "prediction": int(prediction),
        "label": int(rows["digit"].iloc[index]),
    }


def show_one_batch(client: httpx.Client, rows: pd.DataFrame) -> None:
    """A digit, a noise input and another digit in one request, with what each step said."""
    features = rows.drop(columns=["digit"])
    picked = [
        int(np.flatnonzero(rows["digit"] != NO_DIGIT)[0]),
        int(np.flatnonzero(rows["digit"] == NO_DIGIT)[0]),
        int(np.flatnonzero(rows["digit"] != NO_DIGIT)[1]),
    ]
    instances = [{k: float(v) for k, v in features.iloc[i].items()} for i in picked]
    console.print(
        f"[bold cyan]POST /v1/endpoints/{ENDPOINT}/predict?steps=1[/]  "
        f"(truth: {[int(rows['digit'].iloc[i]) for i in picked]})"
    )
    response = client.post(
        f"/v1/endpoints/{ENDPOINT}/predict",
        params={"steps": "1"},
        json={"instances": instances},
        headers={"X-Request-ID": "example-batch"},
    )
    response.raise_for_status()
    body = response.json()
    detect, recognise = body["steps"]["detect"], body["steps"]["recognise"]
    table = Table("row", "truth", "detect", "speech_p", "recognise", "answer")
    for row, index in enumerate(picked):
        speech_p = detect["probabilities"][row][detect["classes"].index("1")]
        table.add_row(
            str(row),
            str(int(rows["digit"].iloc[index])),
            str(detect["predictions"][row]),
            f"{speech_p:.3f}",
            "skipped" if row in recognise["skipped"] else str(recognise["predictions"][row]),
            str(body["predictions"][row]),
        )
    console.print(table)


def show_pipeline() -> None:
    """``modelport endpoints show`` of the pipeline, its steps as a table (the JSON
    lists each of the 64 pixels the request brings, twice)."""
    shown = json.loads(modelport("endpoints", "show", ENDPOINT, echo=False).stdout)
    table = Table("step", "endpoint", "serves", "inputs", "when", "default", "drifted inputs")
    for step in shown["pipeline"]["steps"]:
        inputs = step.get("inputs", {})
        mapped = [f"{k} = {v}" for k, v in inputs.items() if v != f"request.{k}"]
        passed = len(inputs) - len(mapped)
        table.add_row(
            step["name"],
            step["endpoint"],
            f"{step['model']}:{step['version']}",
            ", ".join([*mapped, f"{passed} from the request"] if passed else mapped),
            step.get("when") or "-",
            str(step.get("default", "-")),
            _drifted(step.get("health"), [k for k, v in inputs.items() if v != f"request.{k}"]),
        )
    console.print(table)
    console.print(f"the pipeline's request: {len(shown['pipeline']['request'])} features")


def _drifted(health: dict[str, Any] | None, named: list[str]) -> str:
    """The inputs the step's newest monitoring window found drifted: the mapped ones by
    name, the request's as a count."""
    if health is None:
        return "- (no window yet)"
    drifted = health["drifted_inputs"]
    shown = [name for name in named if name in drifted]
    others = len(drifted) - len(shown)
    return ", ".join([*shown, f"{others} from the request"] if others else shown) or "none"


def send_labels(client: httpx.Client, answers: list[dict[str, Any]]) -> None:
    """Each step's own labels: the detector's (was it a digit?) for every row, the
    recogniser's (which digit) for the digits it read."""
    detect = [step_label(a, "detect", int(a["label"] != NO_DIGIT)) for a in answers]
    for step, labels in (("detect", detect), ("recognise", recogniser_labels(answers))):
        if not labels:
            continue
        response = client.post("/v1/feedback", json=labels)
        response.raise_for_status()
        result = response.json()
        console.print(
            f"labels for {step}: {result['accepted']} accepted, {result['matched']} matched"
        )


def recogniser_labels(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The digits the recogniser read, labelled. A noise input the detector let through
    has no digit to label, and a row it held back never reached the recogniser."""
    return [
        step_label(a, "recognise", a["label"])
        for a in answers
        if a["label"] != NO_DIGIT and a["prediction"] != NO_DIGIT
    ]


def step_label(answer: dict[str, Any], step: str, label: int) -> dict[str, Any]:
    """A label of one step's answer to a pipeline request (the pipeline named too, so
    it joins even once the server no longer remembers the request)."""
    return {"request_id": answer["request_id"], "label": label, "endpoint": ENDPOINT, "step": step}


def speech_p_verdict(client: httpx.Client, since: str) -> bool:
    """Whether the recogniser's speech_p drifted since ``since``, from its monitoring
    report over HTTP (the server flushes its queued predictions to the log first, so a
    CLI report after this one sees them all)."""
    response = client.get(
        f"/v1/endpoints/{ENDPOINT}/monitoring",
        params={"step": "recognise", "since": since, "sections": "drift"},
    )
    response.raise_for_status()
    features = response.json()["features"]
    entry = next(f for f in features if f["feature"] == "speech_p")
    pixels = sum(1 for f in features if f["feature"] != "speech_p" and f.get("drifted"))
    verdict = {True: "[bold red]drifted[/]", False: "[green]no drift[/]"}.get(
        entry.get("drifted"), f"[yellow]{entry.get('message')}[/]"
    )
    console.print(
        f"the recogniser's speech_p: {verdict} ({entry.get('stat')} "
        f"{_num(entry.get('statistic'))}; materiality {_num(entry.get('materiality'))}, "
        f"critical value {_num(entry.get('critical_value'))}; {entry.get('n_current')} rows); "
        f"{pixels} of its 64 pixels drifted"
    )
    return bool(entry.get("drifted"))


def report(*options: str) -> None:
    """``modelport monitor report`` of the recogniser's step."""
    modelport("monitor", "report", ENDPOINT, "--step", "recognise", *options)


def show_skips(client: httpx.Client) -> None:
    """Each step's rows run and skipped so far, as the server counts them (the pipeline's
    view over HTTP; the CLI's ``endpoints show`` reads the control plane alone)."""
    response = client.get(f"/v1/endpoints/{ENDPOINT}")
    response.raise_for_status()
    for step in response.json()["pipeline"]["steps"]:
        rate = step.get("skip_rate")
        console.print(
            f"step {step['name']} ({step['endpoint']}, {step['model']}:{step['version']}): "
            f"{step['rows']['run']} rows run, {step['rows']['skipped']} skipped"
            + ("" if rate is None else f" (skip rate {rate:.1%})"),
            highlight=False,
        )


def summarize_phase(title: str, answers: list[dict[str, Any]]) -> dict[str, float]:
    digits = [a for a in answers if a["label"] != NO_DIGIT]
    noise_rows = [a for a in answers if a["label"] == NO_DIGIT]
    read = [a for a in digits if a["prediction"] != NO_DIGIT]
    figures = {
        "skipped": _share([a["prediction"] == NO_DIGIT for a in answers]),
        "digits passed": _share([a["prediction"] != NO_DIGIT for a in digits]),
        "noise held back": _share([a["prediction"] == NO_DIGIT for a in noise_rows]),
        "recogniser accuracy": _share([a["prediction"] == a["label"] for a in read]),
        "pipeline accuracy": _share([a["prediction"] == a["label"] for a in answers]),
    }
    console.print(
        f"{title}: {len(answers)} requests, {figures['skipped']:.1%} skipped the recogniser; "
        f"the detector passed {figures['digits passed']:.1%} of the digits and held back "
        f"{figures['noise held back']:.1%} of the noise; the recogniser read "
        f"{figures['recogniser accuracy']:.1%} of the digits it saw correctly"
    )
    return figures


def main() -> None:
    started = time.monotonic()
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir(parents=True)
    detector_rows, recogniser_rows, live = load_data()
    train_models(detector_rows, recogniser_rows)
    (WORKSPACE / "pipeline.toml").write_text(PIPELINE)

    console.rule("1. register the detector and the recogniser, and the pipeline over them")
    modelport("init")
    modelport(
        "models",
        "register",
        "detector",
        "detector.skops",
        "--reference",
        "detector_train.parquet",
        "--target",
        "is_digit",
        "--description",
        "digit (1) or noise (0): logistic regression on 8x8 digits and uniform noise",
    )
    modelport(
        "models",
        "register",
        "recogniser",
        "recogniser.skops",
        "--reference",
        "recogniser_train.parquet",
        "--target",
        "digit",
        "--description",
        "which digit: logistic regression on the pixels and the detector's speech_p",
    )
    console.print("[bold]pipeline.toml[/]")
    console.print(PIPELINE, markup=False, highlight=False)
    modelport("endpoints", "create", ENDPOINT, "--pipeline", "pipeline.toml")
    show_pipeline()

    console.rule("2. serve, and send clean traffic: digits, and some noise")
    port = harness.free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    console.print(f"dashboard: [bold]{url}/dashboard[/]")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            clean_since = datetime.now(UTC).isoformat()
            clean_rows = traffic(live, seed=2)
            show_one_batch(client, clean_rows)
            clean = send_traffic(client, clean_rows, "clean")
            clean_figures = summarize_phase("clean microphone", clean)
            show_skips(client)
            clean_drifted = speech_p_verdict(client, clean_since)

            console.rule("3. labels arrive, for each step")
            send_labels(client, clean)
        report("--since", clean_since, "--sections", "performance")

        console.rule(f"4. the microphone degrades: gaussian noise on every pixel (sigma {SIGMA:g})")
        degraded_since = datetime.now(UTC).isoformat()
        with httpx.Client(base_url=url, timeout=30) as client:
            # Twice the digits (with different noise): the recogniser must see 600 rows
            # although the detector now holds some back.
            degraded = send_traffic(client, traffic(live, seed=3, sigma=SIGMA), "degraded-a")
            degraded += send_traffic(client, traffic(live, seed=4, sigma=SIGMA), "degraded-b")
            degraded_figures = summarize_phase("degraded microphone", degraded)
            show_skips(client)
            send_labels(client, degraded)

            console.rule("5. the recogniser's input speech_p drifted, though nobody touched it")
            drifted = speech_p_verdict(client, degraded_since)
        report("--since", degraded_since, "--sections", "drift,performance")
        if not drifted:
            raise SystemExit("the recogniser's speech_p did not drift: the demo's point is lost")
        show_pipeline()  # the server's live monitoring has seen it too

        console.rule("6. the recogniser alone is retrained for the new microphone: a canary")
        modelport(
            "models",
            "register",
            "recogniser",
            "recogniser_v2.skops",
            "--reference",
            "recogniser_v2_train.parquet",
            "--target",
            "digit",
            "--parent",
            "recogniser:1",
            "--description",
            "recogniser:1's digits, and the same heard through the noisier microphone",
        )
        # The step is an endpoint: its rollout is any endpoint's, and the detector's
        # step goes on serving detector:1 throughout.
        modelport(
            "rollout",
            "start",
            ENDPOINT,
            "--step",
            "recognise",
            "--version",
            "2",
            "--strategy",
            "canary",
            "--steps",
            "50,100",
            "--step-after",
            "100req",
            "--min-samples",
            "40",
            # Judged on the step's own labels alone: it must read more digits right
            # than recogniser:1 does on the same noisier traffic.
            "--gate",
            "accuracy>=primary",
        )
        with httpx.Client(base_url=url, timeout=30) as client:
            outcome, sent = roll_out(client, live)
            console.print(f"rollout outcome: [bold]{outcome}[/] after {sent} pipeline requests")
        modelport("rollout", "history", ENDPOINT, "--step", "recognise")
        show_pipeline()

        console.rule("7. new traffic through the noisier microphone")
        with httpx.Client(base_url=url, timeout=30) as client:
            after = send_traffic(client, traffic(live, seed=6, sigma=SIGMA), "after")
            after_figures = summarize_phase("after the recogniser's retrain", after)
            send_labels(client, after)
    finally:
        console.rule("8. stop cleanly (SIGTERM flushes the prediction log)")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    modelport("logs", "tail", ENDPOINT, "--step", "detect", "-n", "5", "--table")
    clean_figures["speech_p drifted"] = clean_drifted
    degraded_figures["speech_p drifted"] = drifted
    summarize(
        {
            "clean microphone": clean_figures,
            "noisier microphone": degraded_figures,
            "recogniser:2 (canary: " + outcome + ")": after_figures,
        },
        time.monotonic() - started,
    )


def roll_out(client: httpx.Client, digits: pd.DataFrame, budget: int = 6000) -> tuple[str, int]:
    """Send noisier traffic, and the recogniser's labels soon after, until the rollout
    on its step is decided (or the budget is spent)."""
    rows = pd.concat(
        [traffic(digits, seed=100 + round_, sigma=SIGMA) for round_ in range(budget // 800 + 1)],
        ignore_index=True,
    )
    state = "active"
    answers: list[dict[str, Any]] = []
    for sent in track(range(budget), description="traffic during the rollout", console=console):
        answers.append(answer(client, rows, sent, f"rollout-{sent}"))
        if sent % 50 == 49:
            labels = recogniser_labels(answers)
            answers = []
            if labels:
                client.post("/v1/feedback", json=labels).raise_for_status()
            response = client.get(f"/v1/endpoints/{ENDPOINT}/rollout", params={"step": "recognise"})
            rollout = response.json()["rollout"] or {}
            state = str(rollout.get("status", "active"))
            if state not in ("active", "paused"):
                return state, sent + 1
    return state, budget


def summarize(phases: dict[str, dict[str, float]], seconds: float) -> None:
    table = Table(title="modelport pipeline demo summary")
    table.add_column("what")
    for phase in phases:
        table.add_column(phase, justify="right")
    for what in next(iter(phases.values())):
        table.add_row(what, *(_cell(figures.get(what)) for figures in phases.values()))
    console.print(table)
    console.print(f"the demo took {seconds:.0f} s")


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return ("yes" if value else "no") if isinstance(value, bool) else f"{value:.1%}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def _share(flags: list[bool]) -> float:
    return float(np.mean(flags)) if flags else 0.0


if __name__ == "__main__":
    main()
