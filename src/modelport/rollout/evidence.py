"""What the prediction log says about a candidate and its primary over a time window.

The candidate's rows (role ``shadow`` or ``canary``) are paired with the primary's
answer to the *same* request (role ``primary`` under shadow, ``baseline`` under canary)
on ``(request_id, row)`` by :func:`pairs`, which the shadow report uses too; labels from
feedback join on the same key (:func:`~modelport.predlog.reader.join_labels`). Error
rate and latency compare the candidate's requests with the primary's own live requests
of the same window, so both arms are concurrent; a failed or timed-out request counts
as the worst latency (+inf), never as a missing one. When the primary answers no caller
(a canary at 100 %), its background answers to the candidate's requests (role
``baseline``) stand in for error rates, and latency is marked as not caller-facing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelport.predlog import columns as col
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.reader import LABEL_COLUMNS, join_labels
from modelport.vocabulary import Phase, Role

if TYPE_CHECKING:
    import pandas as pd

BASE_COLUMNS = [col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION, col.LATENCY_MS, col.STATUS]
OUTPUT_COLUMNS = [col.PREDICTION, col.PREDICTION_VALUE]
# Regression answers "agree" when within this relative tolerance of the primary's.
REGRESSION_TOLERANCE = 0.05
CANDIDATE, REFERENCE = "_c", "_r"
_EMPTY: np.ndarray[Any, Any] = np.empty(0)


def step_columns(classes: Iterable[str]) -> list[str]:
    """The log columns analysis reads: request, answer and one probability per class."""
    return [*BASE_COLUMNS, *OUTPUT_COLUMNS, *[col.proba(c) for c in sorted(set(classes))]]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: rows of these roles answered by this version."""

    roles: tuple[str, ...]
    version: int


@dataclass
class Arm:
    """Requests one variant answered (one entry per request, not per row).

    ``latencies_ms`` has one entry per request: +inf for a failed one (a timeout is the
    slowest answer there is; leaving it out would make a failing version look fast)."""

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
    # Where the primary arm comes from: its live requests of this window ("step") or,
    # with none possible, its background answers to the candidate's requests
    # ("baseline copies"), whose latency is not what callers see.
    primary_window: str = "step"
    primary_caller_facing: bool = True
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
    rows = frame[frame[col.ROLE].isin(roles) & (frame[col.VERSION] == version)]
    # A request's rows share latency and status; count it once.
    requests = rows[rows[col.ROW] == 0]
    if requests.empty:
        return Arm()
    ok = (requests[col.STATUS] == col.STATUS_OK).to_numpy()
    latencies = requests[col.LATENCY_MS].to_numpy(dtype=np.float64, copy=True)
    latencies[~ok] = np.inf
    return Arm(requests=len(requests), errors=int((~ok).sum()), latencies_ms=latencies)


def answered(frame: pd.DataFrame, side: Side) -> pd.DataFrame:
    """The rows of one side that were answered successfully."""
    return frame[
        frame[col.ROLE].isin(side.roles)
        & (frame[col.VERSION] == side.version)
        & (frame[col.STATUS] == col.STATUS_OK)
    ]


def pairs(
    frame: pd.DataFrame, candidate: Side, reference: Side, keep: Sequence[str] = ()
) -> pd.DataFrame:
    """Rows both sides answered successfully, side by side on ``(request_id, row)``:
    each side's outputs (prediction, value, probabilities) with the suffix ``_c`` or
    ``_r``, and the candidate's ``keep`` columns as they are."""
    outputs = [c for c in frame.columns if col.is_output(c)]
    mine = answered(frame, candidate)[[*col.KEY, *keep, *outputs]]
    theirs = answered(frame, reference)[[*col.KEY, *outputs]]
    return mine.merge(theirs, on=col.KEY, suffixes=(CANDIDATE, REFERENCE))


def labels_for(feedback: FeedbackStore, endpoint: str, since: datetime) -> pa.Table:
    """Labels received since the window opened (minus slack)."""
    # Labels arrive after their predictions; a minute of slack covers clock skew.
    table: pa.Table = feedback.labels(since=since - timedelta(minutes=1), endpoint=endpoint)
    return table.filter(pc.invert(pc.is_null(table[col.LABEL])))


def scores(rows: pd.DataFrame, suffix: str, kind: str) -> tuple[np.ndarray[Any, Any], ...]:
    """Per-row (correct, loss) of one side of labelled rows."""
    if kind == "regression":
        predicted = rows[col.PREDICTION_VALUE + suffix].to_numpy(dtype=np.float64)
        truth = rows[col.LABEL_VALUE].to_numpy(dtype=np.float64)
        return np.full(len(rows), np.nan), np.abs(predicted - truth)
    predicted_labels = rows[col.PREDICTION + suffix].astype(str).to_numpy()
    truth_labels = rows[col.LABEL].astype(str).to_numpy()
    correct = (predicted_labels == truth_labels).astype(np.float64)
    loss = 1.0 - correct
    # Log loss where the log has the probability of the true class; 0/1 loss otherwise.
    for label in np.unique(truth_labels):
        column = col.proba(label) + suffix
        if column not in rows:
            continue
        where = np.flatnonzero(truth_labels == label)
        probability = rows[column].to_numpy(dtype=np.float64)[where]
        known = ~np.isnan(probability)
        loss[where[known]] = -np.log(np.clip(probability[known], 1e-15, 1.0))
    return correct, loss


def agreement(paired: pd.DataFrame, kind: str) -> tuple[np.ndarray[Any, Any], ...]:
    if paired.empty:
        return _EMPTY, _EMPTY
    if kind == "regression":
        c = paired[col.PREDICTION_VALUE + CANDIDATE].to_numpy(dtype=np.float64)
        r = paired[col.PREDICTION_VALUE + REFERENCE].to_numpy(dtype=np.float64)
        close = np.isclose(c, r, rtol=REGRESSION_TOLERANCE, atol=1e-9)
        return close.astype(np.float64), np.abs(c - r)
    same = (
        paired[col.PREDICTION + CANDIDATE].astype(str).to_numpy()
        == paired[col.PREDICTION + REFERENCE].astype(str).to_numpy()
    )
    return same.astype(np.float64), _EMPTY


def collect(
    rows: pa.Table,
    labels: pa.Table | None,
    *,
    kind: str,
    candidate: int,
    baseline: int,
    phase: str,
    primary_live: bool = True,
) -> Evidence:
    """Everything the gates need from a window of log rows (a cursor's ``rows()`` of
    :func:`step_columns`) and the labels received meanwhile (None: none needed).

    ``primary_live`` False: no caller is routed to the primary (a canary at 100 %); its
    background answers to the candidate's requests are then the primary arm."""
    labelled = labels is not None and labels.num_rows > 0
    if labels is not None and labelled:
        rows = join_labels(rows, labels, keep_unlabelled=True)
    frame = rows.to_pandas()
    mine = Side((Role.SHADOW if phase == Phase.SHADOW else Role.CANARY,), candidate)
    theirs = Side((Role.PRIMARY if phase == Phase.SHADOW else Role.BASELINE,), baseline)
    live = frame[frame[col.ROLE].isin((Role.PRIMARY, Role.CANARY))]
    evidence = Evidence(
        kind=kind,
        candidate=arm(frame, mine.roles, candidate),
        primary=arm(frame, Role.PRIMARY, baseline),
        requests=int(live[col.REQUEST_ID].nunique()),
    )
    if not primary_live and phase != Phase.SHADOW:
        # Never borrow older traffic: the primary's answers to the very same requests,
        # in the same window, are the concurrent yardstick.
        evidence.primary = arm(frame, Role.BASELINE, baseline)
        evidence.primary_window = "baseline copies"
        evidence.primary_caller_facing = False
    paired = pairs(frame, mine, theirs, keep=LABEL_COLUMNS if labelled else ())
    evidence.agree, evidence.abs_diff = agreement(paired, kind)
    if not labelled:
        return evidence
    both = paired[paired[col.LABEL].notna()]
    if not both.empty:
        correct_c, loss_c = scores(both, CANDIDATE, kind)
        correct_r, loss_r = scores(both, REFERENCE, kind)
        evidence.correct, evidence.loss = (correct_c, correct_r), (loss_c, loss_r)
    alone = answered(frame, mine)
    alone = alone[alone[col.LABEL].notna()]
    if not alone.empty:
        outputs = {c: c + CANDIDATE for c in alone.columns if col.is_output(c)}
        scored = scores(alone.rename(columns=outputs), CANDIDATE, kind)
        evidence.candidate_correct, evidence.candidate_loss = scored
    return evidence
