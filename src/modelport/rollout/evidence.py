"""What the prediction log says about a candidate and its primary over a time window.

The candidate's rows (role ``shadow`` or ``canary``) are paired with the primary's
answer to the *same* request (role ``primary`` under shadow, ``baseline`` under canary)
on ``(request_id, row)``; labels from feedback join on the same key. Error rate and
latency compare the candidate's requests with the primary's own live requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelport.predlog.feedback import FeedbackStore

BASE_COLUMNS = ["request_id", "row", "role", "version", "latency_ms", "status"]
OUTPUT_COLUMNS = ["prediction", "prediction_value"]
# Regression answers "agree" when within this relative tolerance of the primary's.
REGRESSION_TOLERANCE = 0.05
_EMPTY: np.ndarray[Any, Any] = np.empty(0)
DROPPED = ["role", "version", "latency_ms", "status", "error"]


@dataclass
class Arm:
    """Requests one variant answered (one entry per request, not per row)."""

    requests: int = 0
    errors: int = 0
    latencies_ms: np.ndarray[Any, Any] = field(default_factory=lambda: _EMPTY)


@dataclass
class Evidence:
    kind: str
    candidate: Arm
    primary: Arm
    # Requests the endpoint answered in the window (what "--step-after 2000req" counts).
    requests: int = 0
    primary_window: str = "step"
    # Paired rows: same request answered by both.
    agree: np.ndarray[Any, Any] = field(default_factory=lambda: _EMPTY)
    abs_diff: np.ndarray[Any, Any] = field(default_factory=lambda: _EMPTY)
    # Labelled paired rows: per-row correctness (0/1) and loss of candidate and primary.
    correct: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] = (_EMPTY, _EMPTY)
    loss: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] = (_EMPTY, _EMPTY)
    # Every labelled candidate row, paired or not (absolute accuracy/loss gates).
    candidate_correct: np.ndarray[Any, Any] = field(default_factory=lambda: _EMPTY)
    candidate_loss: np.ndarray[Any, Any] = field(default_factory=lambda: _EMPTY)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "candidate_requests": self.candidate.requests,
            "candidate_errors": self.candidate.errors,
            "primary_requests": self.primary.requests,
            "primary_errors": self.primary.errors,
            "primary_window": self.primary_window,
            "paired_rows": int(self.agree.size),
            "labelled_rows": int(self.candidate_correct.size or self.candidate_loss.size),
        }


def arm(frame: pd.DataFrame, role: str | tuple[str, ...], version: int) -> Arm:
    roles = (role,) if isinstance(role, str) else role
    if frame.empty:
        return Arm()
    rows = frame[frame["role"].isin(roles) & (frame["version"] == version)]
    # A request's rows share latency and status; count it once.
    requests = rows[rows["row"] == 0]
    if requests.empty:
        return Arm()
    ok = requests["status"] == "ok"
    return Arm(
        requests=len(requests),
        errors=int((~ok).sum()),
        latencies_ms=requests.loc[ok, "latency_ms"].to_numpy(dtype=np.float64),
    )


def pairs(
    frame: pd.DataFrame, candidate: tuple[str, int], reference: tuple[str, int]
) -> pd.DataFrame:
    """Rows both answered successfully, side by side (suffixes ``_c`` and ``_r``)."""
    if "prediction" not in frame:
        return pd.DataFrame()

    def side(role: str, version: int) -> pd.DataFrame:
        picked = frame[
            (frame["role"] == role) & (frame["version"] == version) & (frame["status"] == "ok")
        ]
        return picked.drop(columns=[c for c in DROPPED if c in picked])

    return side(*candidate).merge(side(*reference), on=["request_id", "row"], suffixes=("_c", "_r"))


def labels_for(feedback: FeedbackStore, endpoint: str, since: datetime) -> pd.DataFrame:
    """Labels received since the window opened (minus slack), as a frame."""
    # Labels arrive after their predictions; a minute of slack covers clock skew.
    table: pa.Table = feedback.labels(since=since - timedelta(minutes=1), endpoint=endpoint)
    if table.num_rows == 0:
        return pd.DataFrame(columns=["request_id", "row", "label", "label_value"])
    table = table.filter(pc.invert(pc.is_null(table["label"])))
    frame: pd.DataFrame = table.select(["request_id", "row", "label", "label_value"]).to_pandas()
    return frame


def scores(rows: pd.DataFrame, suffix: str, kind: str) -> tuple[np.ndarray[Any, Any], ...]:
    """Per-row (correct, loss) of one side of labelled rows."""
    if kind == "regression":
        predicted = rows[f"prediction_value{suffix}"].to_numpy(dtype=np.float64)
        truth = rows["label_value"].to_numpy(dtype=np.float64)
        return np.full(len(rows), np.nan), np.abs(predicted - truth)
    predicted_labels = rows[f"prediction{suffix}"].astype(str).to_numpy()
    truth_labels = rows["label"].astype(str).to_numpy()
    correct = (predicted_labels == truth_labels).astype(np.float64)
    loss = 1.0 - correct
    # Log loss where the log has the probability of the true class; 0/1 loss otherwise.
    for label in np.unique(truth_labels):
        column = f"proba.{label}{suffix}"
        if column not in rows:
            continue
        where = np.flatnonzero(truth_labels == label)
        probability = rows[column].to_numpy(dtype=np.float64)[where]
        known = ~np.isnan(probability)
        loss[where[known]] = -np.log(np.clip(probability[known], 1e-15, 1.0))
    return correct, loss


def _suffixed(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    renamed = {c: f"{c}{suffix}" for c in frame.columns if c not in ("request_id", "row")}
    return frame.rename(columns=renamed)


def agreement(paired: pd.DataFrame, kind: str) -> tuple[np.ndarray[Any, Any], ...]:
    if paired.empty:
        return _EMPTY, _EMPTY
    if kind == "regression":
        c = paired["prediction_value_c"].to_numpy(dtype=np.float64)
        r = paired["prediction_value_r"].to_numpy(dtype=np.float64)
        close = np.isclose(c, r, rtol=REGRESSION_TOLERANCE, atol=1e-9)
        return close.astype(np.float64), np.abs(c - r)
    same = (
        paired["prediction_c"].astype(str).to_numpy()
        == paired["prediction_r"].astype(str).to_numpy()
    )
    return same.astype(np.float64), _EMPTY


def collect(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    kind: str,
    candidate: int,
    baseline: int,
    phase: str,
    min_primary: int,
    wider_primary: Callable[[], Arm] | None = None,
) -> Evidence:
    """Everything the gates need from a window of log rows (``LogWindow.rows()``)."""
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series(dtype=object) for name in BASE_COLUMNS})
    candidate_role = "shadow" if phase == "shadow" else "canary"
    reference_role = "primary" if phase == "shadow" else "baseline"
    answered = frame[frame["role"].isin(("primary", "canary"))]
    evidence = Evidence(
        kind=kind,
        candidate=arm(frame, candidate_role, candidate),
        primary=arm(frame, "primary", baseline),
        requests=int(answered["request_id"].nunique()) if not answered.empty else 0,
    )
    if evidence.primary.requests < min_primary and wider_primary is not None:
        # At high canary weights the step sees few primary requests; the primary's
        # behaviour over the whole rollout is the better yardstick then.
        wider = wider_primary()
        if wider.requests > evidence.primary.requests:
            evidence.primary = wider
            evidence.primary_window = "rollout"
    paired = pairs(frame, (candidate_role, candidate), (reference_role, baseline))
    evidence.agree, evidence.abs_diff = agreement(paired, kind)
    if labels.empty:
        return evidence
    labelled = paired.merge(labels, on=["request_id", "row"]) if not paired.empty else paired
    if not labelled.empty:
        correct_c, loss_c = scores(labelled, "_c", kind)
        correct_r, loss_r = scores(labelled, "_r", kind)
        evidence.correct, evidence.loss = (correct_c, correct_r), (loss_c, loss_r)
    mine = frame[
        (frame["role"] == candidate_role)
        & (frame["version"] == candidate)
        & (frame["status"] == "ok")
    ]
    mine = _suffixed(mine.drop(columns=[c for c in DROPPED if c in mine]), "_c")
    mine = mine.merge(labels, on=["request_id", "row"])
    if not mine.empty:
        evidence.candidate_correct, evidence.candidate_loss = scores(mine, "_c", kind)
    return evidence
