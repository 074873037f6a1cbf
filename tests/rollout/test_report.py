"""The shadow report from a real prediction log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelport.errors import ValidationFailed
from modelport.rollout.report import shadow_report
from rollout.logdata import LogWriter, shadow_rollout, version_of_kind


def test_classification_report_with_slices(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    for i in range(100):
        plan = "basic" if i < 50 else "pro"
        writer.add(f"r{i}", "primary", 1, "0", latency_ms=4.0, plan=plan, tenure=float(i))
        if i >= 90:
            continue  # the shadow fell behind: no copy
        # The candidate says 1 on every "pro" request and fails on every 10th "basic" one.
        answer = None if plan == "basic" and i % 10 == 0 else ("1" if plan == "pro" else "0")
        writer.add(f"r{i}", "shadow", 2, answer, latency_ms=9.0, plan=plan, tenure=float(i))
    writer.flush()

    report = shadow_report(writer.log, shadow_rollout(), version_of_kind("classification"), "plan")

    assert report["requests"] == {
        "primary": 100, "candidate": 90, "paired_rows": 85, "shadow_missing": 10,
    }  # fmt: skip
    assert report["errors"]["candidate"]["count"] == 5
    assert "boom" in report["errors"]["candidate"]["top"][0]["error"]
    assert report["latency_ms"]["delta"]["p50"] == 5.0
    comparison = report["comparison"]
    assert comparison["agreement"] == round(45 / 85, 4)
    assert comparison["confusion"] == {"labels": ["0", "1"], "matrix": [[45, 40], [0, 0]]}
    assert comparison["distribution"]["jensen_shannon"] > 0.3
    slices = {row["slice"]: row for row in report["slices"]["rows"]}
    assert slices["basic"]["agreement"] == 1.0 and slices["pro"]["agreement"] == 0.0
    assert slices["basic"]["candidate_error_rate"] == 0.1
    numeric = shadow_report(
        writer.log, shadow_rollout(), version_of_kind("classification"), "tenure"
    )
    assert len(numeric["slices"]["rows"]) == 5


def test_regression_report(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path, kind="regression")
    for i in range(50):
        writer.add(f"r{i}", "primary", 1, float(i))
        writer.add(f"r{i}", "shadow", 2, float(i) + 1.0)
    writer.flush()
    comparison = shadow_report(writer.log, shadow_rollout(), version_of_kind("regression"), None)[
        "comparison"
    ]
    assert comparison["mean_abs_diff"] == 1.0 and comparison["correlation"] == 1.0
    # As monitoring measures it: the answers moved by 1, the primary's spread is std(0..49).
    assert comparison["distribution"]["wasserstein"] == round(1.0 / np.std(np.arange(50.0)), 4)
    assert comparison["distribution"]["wasserstein_units"] == "primary_std"


def test_regression_report_against_a_constant_primary_gives_the_raw_distance(
    tmp_path: Path,
) -> None:
    writer = LogWriter(tmp_path, kind="regression")
    for i in range(50):
        writer.add(f"r{i}", "primary", 1, 10.0)
        writer.add(f"r{i}", "shadow", 2, 12.0 if i % 2 else 10.0)
    writer.flush()

    report = shadow_report(writer.log, shadow_rollout(), version_of_kind("regression"), None)

    distribution = report["comparison"]["distribution"]
    assert distribution == {"ks": 0.5, "wasserstein": 1.0, "wasserstein_units": "prediction"}


def test_slicing_by_an_unknown_feature_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="not an input feature"):
        shadow_report(
            LogWriter(tmp_path).log, shadow_rollout(), version_of_kind("regression"), "color"
        )
