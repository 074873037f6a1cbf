"""The ``pipeline`` section of a step's rollout report: the pipeline's final outputs by
the arm that served the rolled-out step.

A step's rollout changes what the steps after it read, so its own comparison does not
say what callers of the pipeline got. The final step's log rows of the rollout's window
are joined on ``(request_id, row)`` to the rows the rolled-out step *served* (roles
``primary`` and ``canary``: background copies never reach the next step), and each arm
(the candidate's version, the primary's) gets its rows, the final answers' distribution
(share per class, or the mean for a regressor) and, where the final step has labels,
its accuracy (or MAE), with the candidate's difference from the primary.

Rows the final step skipped (its ``when``) are not in its log: an arm's ``step_rows``
minus its ``rows`` counts them (with rows that failed). Under shadow the candidate's
answers go nowhere, so only the step-level comparison means anything; when the step is
the pipeline's last, that comparison already is of the final outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from modelport.predlog import columns as col
from modelport.predlog.reader import PredictionLog, join_labels
from modelport.rollout.evidence import scores
from modelport.rollout.state import Rollout
from modelport.vocabulary import SERVED_ROLES, Phase, RolloutStrategy

if TYPE_CHECKING:
    import pandas as pd

# Only what the join and the summaries need: the step's log may be wide.
STEP_COLUMNS = [col.REQUEST_ID, col.ROW, col.ROLE, col.VERSION, col.STATUS]
FINAL_COLUMNS = [col.REQUEST_ID, col.ROW, col.ROLE, col.STATUS]
ARM = "_arm"
SHADOW_NOTE = (
    "primary only in shadow: the candidate's answers never reach the next step, "
    "so compare the step's outputs above"
)
LAST_NOTE = "this step is the pipeline's last: the comparison above is of its final outputs"


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def pipeline_section(
    log: PredictionLog,
    rollout: Rollout,
    *,
    pipeline: str,
    step: str,
    final_step: str,
    final_kind: str,
    labels: pa.Table | None,
) -> dict[str, Any]:
    """The section for ``rollout`` on step ``step`` of ``pipeline`` whose last step is
    ``final_step`` (a ``final_kind`` model); ``labels`` are the final step's feedback
    labels of the window (None or empty: no accuracy)."""
    final_endpoint = f"{pipeline}.{final_step}"
    section: dict[str, Any] = {
        "pipeline": pipeline,
        "step": step,
        "final_step": final_step,
        "final_endpoint": final_endpoint,
    }
    if step == final_step:
        section["final_outputs"] = LAST_NOTE
        return section
    if _shadow(rollout):
        section["final_outputs"] = SHADOW_NOTE
        return section
    output = col.output_column(final_kind)
    since, until = rollout.created_at, rollout.finished_at
    step_log = log.read(rollout.endpoint, columns=STEP_COLUMNS, since=since, until=until)
    served = step_log.to_pandas()
    served = served[
        served[col.ROLE].isin(SERVED_ROLES)
        & (served[col.STATUS] == col.STATUS_OK)
        & served[col.VERSION].isin((rollout.candidate, rollout.baseline))
    ]
    arms = served[col.KEY].assign(
        **{ARM: np.where(served[col.VERSION] == rollout.candidate, "candidate", "primary")}
    )
    final_table = log.read(
        final_endpoint, columns=[*FINAL_COLUMNS, output], since=since, until=until
    )
    labelled = labels is not None and labels.num_rows > 0
    if labels is not None and labelled:
        final_table = join_labels(final_table, labels, keep_unlabelled=True)
    final = final_table.to_pandas()
    # What the caller got: the final step's own background copies answered no one.
    final = final[final[col.ROLE].isin(SERVED_ROLES) & (final[col.STATUS] == col.STATUS_OK)]
    joined = final.merge(arms, on=col.KEY, how="inner")
    section["final_outputs"] = "joined on (request_id, row) to the rows this step served"
    summaries = {
        name: _arm(
            joined[joined[ARM] == name],
            step_rows=int((arms[ARM] == name).sum()),
            output=output,
            kind=final_kind,
            labelled=labelled,
        )
        for name in ("primary", "candidate")
    }
    section.update(summaries)
    section["difference"] = _difference(summaries["primary"], summaries["candidate"], final_kind)
    return section


def _shadow(rollout: Rollout) -> bool:
    if rollout.strategy == RolloutStrategy.SHADOW:
        return True
    return rollout.strategy == RolloutStrategy.SHADOW_THEN_CANARY and rollout.phase == Phase.SHADOW


def _arm(
    rows: pd.DataFrame, *, step_rows: int, output: str, kind: str, labelled: bool
) -> dict[str, Any]:
    summary: dict[str, Any] = {"step_rows": step_rows, "rows": int(len(rows))}
    if kind == "regression":
        values = rows[output].to_numpy(dtype=np.float64)
        summary["mean"] = _round(float(values.mean())) if values.size else None
    else:
        shares = rows[output].astype(str).value_counts(normalize=True).sort_index()
        summary["share"] = {str(k): _round(float(v)) for k, v in shares.items()}
    if not labelled:
        return summary
    known = rows[rows[col.LABEL].notna()] if col.LABEL in rows else rows.iloc[0:0]
    summary["labelled_rows"] = int(len(known))
    if known.empty:
        summary["accuracy" if kind != "regression" else "mae"] = None
        return summary
    correct, loss = scores(known, "", kind)
    if kind == "regression":
        summary["mae"] = _round(float(loss.mean()))
    else:
        summary["accuracy"] = _round(float(correct.mean()))
    return summary


def _difference(primary: dict[str, Any], candidate: dict[str, Any], kind: str) -> dict[str, Any]:
    """Candidate minus primary, for every number both arms have."""
    difference: dict[str, Any] = {}
    for key in ("mean", "accuracy", "mae"):
        if primary.get(key) is not None and candidate.get(key) is not None:
            difference[key] = _round(candidate[key] - primary[key])
    if kind != "regression":
        classes = sorted(set(primary["share"]) | set(candidate["share"]))
        difference["share"] = {
            label: _round(candidate["share"].get(label, 0.0) - primary["share"].get(label, 0.0))
            for label in classes
        }
    return difference
