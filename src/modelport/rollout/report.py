"""The shadow report: candidate against primary on the very same requests.

Candidate rows (``shadow``, ``canary``) join the primary's answer to the same request
(``primary`` under shadow, ``baseline`` under canary) on ``(request_id, row)``
(:func:`~modelport.rollout.evidence.pairs`). The report gives agreement and the
confusion between the two (classification), mean absolute / relative difference and
correlation (regression), the distance between the two prediction distributions
(Jensen-Shannon for classes, Kolmogorov-Smirnov and Wasserstein for numbers), latency
and error deltas, and all of it per slice of a chosen feature.

``wasserstein`` is monitoring's statistic: W1 between the candidate's and the primary's
answers divided by the standard deviation of the primary's (``ddof=0``), so ``0.1``
means the answers moved a tenth of their usual spread on average; when the primary's
answers do not vary it is the raw W1, in the prediction's own units.
``wasserstein_units`` says which (``"primary_std"`` or ``"prediction"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import ValidationFailed
from modelport.monitoring.stats.wasserstein import wasserstein_distance
from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog
from modelport.registry.records import ModelVersion
from modelport.rollout.evidence import (
    CANDIDATE,
    OUTPUT_COLUMNS,
    REFERENCE,
    REGRESSION_TOLERANCE,
    Side,
    pairs,
)
from modelport.rollout.state import Rollout
from modelport.serving.dataplane import MIRROR_BATCH_WAIT_MS
from modelport.vocabulary import Role

CANDIDATE_ROLES = (Role.SHADOW, Role.CANARY, Role.PRIMARY)
REFERENCE_ROLES = (Role.PRIMARY, Role.BASELINE)
COLUMNS = [
    col.REQUEST_ID,
    col.ROW,
    col.ROLE,
    col.VERSION,
    col.LATENCY_MS,
    col.STATUS,
    col.ERROR,
    *OUTPUT_COLUMNS,
]
MAX_SLICES = 20


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def shadow_report(
    log: PredictionLog, rollout: Rollout, candidate: ModelVersion, slice_by: str | None
) -> dict[str, Any]:
    if slice_by is not None and candidate.input_schema.get(slice_by) is None:
        raise ValidationFailed(
            f"cannot slice by {slice_by!r}: not an input feature "
            f"(features: {', '.join(candidate.input_schema.names)})",
            field="slice",
        )
    sliced = [] if slice_by is None else [col.feature(slice_by)]
    frame = log.read(
        rollout.endpoint,
        since=rollout.created_at,
        until=rollout.finished_at,
        columns=[*COLUMNS, *sliced],
    ).to_pandas()
    mine_side = Side(CANDIDATE_ROLES, rollout.candidate)
    theirs_side = Side(REFERENCE_ROLES, rollout.baseline)
    mine = frame[frame[col.ROLE].isin(mine_side.roles) & (frame[col.VERSION] == mine_side.version)]
    theirs = frame[
        frame[col.ROLE].isin(theirs_side.roles) & (frame[col.VERSION] == theirs_side.version)
    ]
    kind = candidate.output.kind
    report: dict[str, Any] = {
        "rollout": rollout.id,
        "endpoint": rollout.endpoint,
        "candidate": rollout.candidate,
        "primary": rollout.baseline,
        "strategy": rollout.strategy,
        "status": rollout.status,
        "kind": kind,
        "since": rollout.created_at.isoformat(),
        "until": rollout.finished_at.isoformat() if rollout.finished_at else None,
    }
    paired = pairs(frame, mine_side, theirs_side, keep=sliced)
    report["requests"] = _coverage(mine, theirs, paired)
    # The primary's live requests only: its background copies under canary ("baseline")
    # run off the request path and would blur its latency.
    live = theirs[theirs[col.ROLE] == Role.PRIMARY]
    report["errors"] = {"primary": _errors(live), "candidate": _errors(mine)}
    report["latency_ms"] = _latency(live, mine)
    if (mine[col.ROLE] == Role.SHADOW).any():
        report["latency_ms"]["note"] = (
            "shadow copies run in the background, batched for up to "
            f"{MIRROR_BATCH_WAIT_MS:g} ms: their latency is not what callers would see"
        )
    report["comparison"] = _compare(paired, kind)
    if slice_by is not None:
        report["slices"] = _slices(paired, mine, theirs, slice_by, kind)
    return report


def _requests(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows[col.ROW] == 0]


def _coverage(mine: pd.DataFrame, theirs: pd.DataFrame, paired: pd.DataFrame) -> dict[str, Any]:
    primary_requests = _requests(theirs[theirs[col.ROLE] == Role.PRIMARY])
    shadowed = set(_requests(mine[mine[col.ROLE] == Role.SHADOW])[col.REQUEST_ID])
    return {
        "primary": int(len(primary_requests)),
        "candidate": int(len(_requests(mine))),
        "paired_rows": int(len(paired)),
        # Primary requests without a shadow copy: not sampled, or dropped because the
        # shadow fell behind (the server counts drops in its status and metrics).
        "shadow_missing": int(len(set(primary_requests[col.REQUEST_ID]) - shadowed))
        if shadowed
        else None,
    }


def _errors(rows: pd.DataFrame) -> dict[str, Any]:
    requests = _requests(rows)
    failed = requests[requests[col.STATUS] != col.STATUS_OK]
    top = failed[col.ERROR].fillna("").str.slice(0, 200).value_counts().head(5)
    return {
        "requests": int(len(requests)),
        "count": int(len(failed)),
        "rate": _round(len(failed) / len(requests)) if len(requests) else None,
        "top": [{"error": str(error), "count": int(count)} for error, count in top.items()],
    }


def _latency(theirs: pd.DataFrame, mine: pd.DataFrame) -> dict[str, Any]:
    def summary(rows: pd.DataFrame) -> dict[str, float | None]:
        values = _requests(rows)[col.LATENCY_MS].to_numpy(dtype=np.float64)
        if values.size == 0:
            return {"p50": None, "p99": None, "mean": None}
        return {
            "p50": _round(float(np.quantile(values, 0.5)), 3),
            "p99": _round(float(np.quantile(values, 0.99)), 3),
            "mean": _round(float(values.mean()), 3),
        }

    primary, candidate = summary(theirs), summary(mine)
    delta = {
        key: _round(candidate[key] - primary[key], 3)  # type: ignore[operator]
        if candidate[key] is not None and primary[key] is not None
        else None
        for key in ("p50", "p99")
    }
    return {"primary": primary, "candidate": candidate, "delta": delta}


def _compare(paired: pd.DataFrame, kind: str) -> dict[str, Any]:
    # Imported here: only a shadow report needs scipy, not every process that builds the
    # rollout service (the CLI, a server).
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp

    if paired.empty:
        return {"rows": 0}
    if kind == "classification":
        mine = paired[col.PREDICTION + CANDIDATE].astype(str)
        theirs = paired[col.PREDICTION + REFERENCE].astype(str)
        labels = sorted(set(mine) | set(theirs))
        confusion = pd.crosstab(theirs, mine).reindex(index=labels, columns=labels, fill_value=0)
        share_c = mine.value_counts(normalize=True).reindex(labels, fill_value=0.0)
        share_r = theirs.value_counts(normalize=True).reindex(labels, fill_value=0.0)
        return {
            "rows": int(len(paired)),
            "agreement": _round(float((mine == theirs).mean())),
            # Rows: what the primary said; columns: what the candidate said.
            "confusion": {"labels": labels, "matrix": confusion.to_numpy().tolist()},
            "distribution": {
                "primary": {k: _round(v) for k, v in share_r.items()},
                "candidate": {k: _round(v) for k, v in share_c.items()},
                "jensen_shannon": _round(float(jensenshannon(share_r, share_c, base=2))),
            },
        }
    c = paired[col.PREDICTION_VALUE + CANDIDATE].to_numpy(dtype=np.float64)
    r = paired[col.PREDICTION_VALUE + REFERENCE].to_numpy(dtype=np.float64)
    difference = np.abs(c - r)
    relative = difference / np.maximum(np.abs(r), 1e-12)
    correlation = float(np.corrcoef(c, r)[0, 1]) if len(c) > 1 and c.std() and r.std() else None
    wasserstein, units = _wasserstein(r, c)
    return {
        "rows": int(len(paired)),
        "agreement": _round(float(np.mean(relative <= REGRESSION_TOLERANCE))),
        "mean_abs_diff": _round(float(difference.mean())),
        "mean_rel_diff": _round(float(relative.mean())),
        "correlation": _round(correlation),
        "distribution": {
            "ks": _round(float(ks_2samp(c, r).statistic)),
            "wasserstein": _round(wasserstein),
            "wasserstein_units": units,
        },
    }


def _wasserstein(
    primary: np.ndarray[Any, Any], candidate: np.ndarray[Any, Any]
) -> tuple[float, str]:
    """Monitoring's Wasserstein: W1 in units of the primary's standard deviation, or
    raw (in the prediction's units) when the primary's answers do not vary."""
    raw = wasserstein_distance(primary, candidate)
    spread = float(np.std(primary))
    if spread > 0:
        return raw / spread, "primary_std"
    return raw, "prediction"


def _slices(
    paired: pd.DataFrame, mine: pd.DataFrame, theirs: pd.DataFrame, feature: str, kind: str
) -> dict[str, Any]:
    column = col.feature(feature)

    def labels(rows: pd.DataFrame, edges: np.ndarray[Any, Any] | None) -> pd.Series:
        values = rows[column]
        if edges is None:
            return values.astype(str)
        bins = pd.cut(values, list(edges.tolist()), include_lowest=True, duplicates="drop")
        binned: pd.Series = bins.astype(str)
        return binned

    edges = None
    if column in theirs and pd.api.types.is_numeric_dtype(theirs[column]):
        known = pd.concat([theirs[column], mine[column]]).dropna()
        if not known.empty:
            edges = np.unique(np.quantile(known, np.linspace(0, 1, 6)))
            if edges.size < 2:
                edges = np.array([known.min() - 0.5, known.max() + 0.5])
    rows: list[dict[str, Any]] = []
    mine_requests = _requests(mine)
    theirs_requests = _requests(theirs)
    by_pair = paired.assign(_slice=labels(paired, edges)) if not paired.empty else paired
    mine_slices = labels(mine_requests, edges)
    theirs_slices = labels(theirs_requests, edges)
    names = pd.concat([theirs_slices, mine_slices]).value_counts().head(MAX_SLICES).index
    for name in names:
        chosen = by_pair[by_pair["_slice"] == name] if not by_pair.empty else by_pair
        compared = _compare(chosen.drop(columns=["_slice"]) if not chosen.empty else chosen, kind)
        compared.pop("distribution", None)
        compared.pop("confusion", None)
        mine_here = mine_requests[mine_slices == name]
        theirs_here = theirs_requests[theirs_slices == name]
        rows.append(
            {
                "slice": str(name),
                **compared,
                "candidate_error_rate": _rate(mine_here),
                "primary_error_rate": _rate(theirs_here),
            }
        )
    return {"feature": feature, "rows": rows}


def _rate(requests: pd.DataFrame) -> float | None:
    if requests.empty:
        return None
    return _round(float((requests[col.STATUS] != col.STATUS_OK).mean()))
