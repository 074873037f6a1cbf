"""The report's opt-in ``multivariate`` section: can a classifier tell the baseline's rows
from the window's?

Per-feature statistics miss a change in how features go together (a flipped
correlation, a new combination of plan and region). The section runs the classifier
two-sample test of :mod:`~modelport.monitoring.stats.multivariate` (Lopez-Paz & Oquab
2017) on up to 5,000 rows of each side: half train a logistic regression and
gradient-boosted trees, the other half is held out. It reports the held-out ROC AUC
(about 0.5 when the two are indistinguishable, towards 1 the more the joint distribution
moved) as the effect size, the one-sided Mann–Whitney p-value (Bonferroni over the two
classifiers) that decides (drift at ``p_value < alpha``, 0.05), which criterion decided,
and the features the classifier leaned on most. It needs the baseline's raw rows (a
reference sample or logged traffic); a baseline known only by its profile says so
instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.monitoring.reports.baseline import Baseline
from modelport.predlog import columns as col
from modelport.predlog.reader import LogWindow
from modelport.schema import InputSchema

METHOD = (
    "classifier two-sample test: held-out ROC AUC of a classifier telling baseline rows "
    "from window rows, one-sided Mann-Whitney p-value (Lopez-Paz & Oquab 2017)"
)


def multivariate_section(
    baseline: Baseline, window: LogWindow, schema: InputSchema, alpha: float = 0.05
) -> dict[str, Any]:
    reference = baseline.columns
    if reference is not None:
        schema = InputSchema(features=[f for f in schema.features if f.name in reference])
    section: dict[str, Any] = {"method": METHOD, "features": schema.names}
    if reference is None:
        section.update(
            status="not_applicable",
            drifted=None,
            auc=None,
            p_value=None,
            alpha=alpha,
            message="needs the baseline's raw rows (a reference sample or logged traffic); "
            "this baseline has only its profile",
        )
        return section
    # scikit-learn takes a while to import: only reports that ask for this section pay.
    from modelport.monitoring.stats.multivariate import DomainClassifierDrift

    current: dict[str, np.ndarray[Any, Any]] = {}
    for feature in schema.features:
        name = col.feature(feature.name)
        if feature.numeric:
            current[feature.name] = window.numeric(name)
        else:
            text = window.text(name).to_numpy(zero_copy_only=False)
            current[feature.name] = np.asarray(text, dtype=object)
    detector = DomainClassifierDrift(alpha=alpha)
    detector.fit({n: reference[n] for n in schema.names}, schema)
    section.update(detector.score(current).to_dict())
    return section
