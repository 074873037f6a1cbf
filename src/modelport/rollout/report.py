"""The shadow report: candidate against primary on the very same requests.

Candidate rows (``shadow``, ``canary``) join the primary's answer to the same request
(``primary`` under shadow, ``baseline`` under canary) on ``(request_id, row)``. The
report gives agreement and the confusion between the two (classification), mean
absolute / relative difference and correlation (regression), the distance between the
two prediction distributions (Jensen-Shannon for classes, Kolmogorov-Smirnov and
Wasserstein for numbers), latency and error deltas, and all of it per slice of a chosen
feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from modelport.errors import ValidationFailed
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.records import FEATURE_PREFIX
from modelport.registry.records import ModelVersion
from modelport.rollout.evidence import REGRESSION_TOLERANCE
from modelport.rollout.state import Rollout
from modelport.serving.dataplane import MIRROR_BATCH_WAIT_MS

CANDIDATE_ROLES = ("shadow", "canary", "primary")
REFERENCE_ROLES = ("primary", "baseline")
COLUMNS = ["request_id", "row", "role", "version", "latency_ms", "status", "error"]
MAX_SLICES = 20


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def shadow_report(
    log: ParquetPredictionLog, rollout: Rollout, candidate: ModelVersion, slice_by: str | None
) -> dict[str, Any]:
    if slice_by is not None and candidate.input_schema.get(slice_by) is None:
        raise ValidationFailed(
            f"cannot slice by {slice_by!r}: not an input feature "
            f"(features: {', '.join(candidate.input_schema.names)})",
            field="slice",
        )
    columns = [*COLUMNS, "prediction", "prediction_value"]
    if slice_by is not None:
        columns.append(FEATURE_PREFIX + slice_by)
    table = log.read(
        rollout.endpoint, since=rollout.created_at, until=rollout.finished_at, columns=columns
    )
    frame = table.to_pandas() if table.num_rows else pd.DataFrame(columns=columns)
    mine = frame[frame["role"].isin(CANDIDATE_ROLES) & (frame["version"] == rollout.candidate)]
    theirs = frame[frame["role"].isin(REFERENCE_ROLES) & (frame["version"] == rollout.baseline)]
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
    paired = _pairs(mine, theirs, slice_by)
    report["requests"] = _coverage(frame, mine, theirs, paired, rollout)
    # The primary's live requests only: its background copies under canary ("baseline")
    # run off the request path and would blur its latency.
    live = theirs[theirs["role"] == "primary"]
    report["errors"] = {"primary": _errors(live), "candidate": _errors(mine)}
    report["latency_ms"] = _latency(live, mine)
    if (mine["role"] == "shadow").any():
        report["latency_ms"]["note"] = (
            "shadow copies run in the background, batched for up to "
            f"{MIRROR_BATCH_WAIT_MS:g} ms: their latency is not what callers would see"
        )
    report["comparison"] = _compare(paired, kind)
    if slice_by is not None:
        report["slices"] = _slices(paired, mine, theirs, slice_by, kind)
    return report


def _pairs(mine: pd.DataFrame, theirs: pd.DataFrame, slice_by: str | None) -> pd.DataFrame:
    keep = ["request_id", "row", "prediction", "prediction_value"]
    if slice_by is not None:
        keep.append(FEATURE_PREFIX + slice_by)
    left = mine[mine["status"] == "ok"][keep]
    right = theirs[theirs["status"] == "ok"][keep[:4]]
    return left.merge(right, on=["request_id", "row"], suffixes=("_c", "_r"))


def _requests(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["row"] == 0]


def _coverage(
    frame: pd.DataFrame,
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    paired: pd.DataFrame,
    rollout: Rollout,
) -> dict[str, Any]:
    primary_requests = _requests(theirs[theirs["role"] == "primary"])
    shadowed = set(_requests(mine[mine["role"] == "shadow"])["request_id"])
    return {
        "primary": int(len(primary_requests)),
        "candidate": int(len(_requests(mine))),
        "paired_rows": int(len(paired)),
        # Primary requests without a shadow copy: not sampled, or dropped because the
        # shadow fell behind (the server counts drops in its status and metrics).
        "shadow_missing": int(len(set(primary_requests["request_id"]) - shadowed))
        if shadowed
        else None,
    }


def _errors(rows: pd.DataFrame) -> dict[str, Any]:
    requests = _requests(rows)
    failed = requests[requests["status"] != "ok"]
    top = failed["error"].fillna("").str.slice(0, 200).value_counts().head(5)
    return {
        "requests": int(len(requests)),
        "count": int(len(failed)),
        "rate": _round(len(failed) / len(requests)) if len(requests) else None,
        "top": [{"error": str(error), "count": int(count)} for error, count in top.items()],
    }


def _latency(theirs: pd.DataFrame, mine: pd.DataFrame) -> dict[str, Any]:
    def summary(rows: pd.DataFrame) -> dict[str, float | None]:
        values = _requests(rows)["latency_ms"].to_numpy(dtype=np.float64)
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
    if paired.empty:
        return {"rows": 0}
    if kind == "classification":
        mine = paired["prediction_c"].astype(str)
        theirs = paired["prediction_r"].astype(str)
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
    c = paired["prediction_value_c"].to_numpy(dtype=np.float64)
    r = paired["prediction_value_r"].to_numpy(dtype=np.float64)
    difference = np.abs(c - r)
    relative = difference / np.maximum(np.abs(r), 1e-12)
    correlation = float(np.corrcoef(c, r)[0, 1]) if len(c) > 1 and c.std() and r.std() else None
    return {
        "rows": int(len(paired)),
        "agreement": _round(float(np.mean(relative <= REGRESSION_TOLERANCE))),
        "mean_abs_diff": _round(float(difference.mean())),
        "mean_rel_diff": _round(float(relative.mean())),
        "correlation": _round(correlation),
        "distribution": {
            "ks": _round(float(ks_2samp(c, r).statistic)),
            "wasserstein": _round(float(wasserstein_distance(c, r))),
        },
    }


def _slices(
    paired: pd.DataFrame, mine: pd.DataFrame, theirs: pd.DataFrame, feature: str, kind: str
) -> dict[str, Any]:
    column = FEATURE_PREFIX + feature

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
        pairs = by_pair[by_pair["_slice"] == name] if not by_pair.empty else by_pair
        compared = _compare(pairs.drop(columns=["_slice"]) if not pairs.empty else pairs, kind)
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
    return _round(float((requests["status"] != "ok").mean()))
