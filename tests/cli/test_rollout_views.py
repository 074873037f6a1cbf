"""How ``modelport rollout report`` prints a report: distances say what they are measured in."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.cli.rollout_views import show_report


def _report(distribution: dict[str, Any]) -> dict[str, Any]:
    side = {"p50": 1.0, "p99": 2.0, "mean": 1.5}
    errors = {"requests": 50, "count": 0, "rate": 0.0, "top": []}
    return {
        "rollout": 1, "endpoint": "churn", "candidate": 2, "primary": 1,
        "strategy": "shadow", "status": "active", "since": "2026-03-01T12:00:00+00:00",
        "requests": {"primary": 50, "candidate": 50, "paired_rows": 50, "shadow_missing": None},
        "errors": {"primary": errors, "candidate": errors},
        "latency_ms": {"primary": side, "candidate": side, "delta": {"p50": 0.0, "p99": 0.0}},
        "comparison": {"rows": 50, "agreement": 0.5, "distribution": distribution},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("units", "shown"),
    [
        ("primary_std", "wasserstein 0.0693 (in primary std)"),
        ("prediction", "(in prediction units)"),
    ],
)
def test_the_wasserstein_distance_is_printed_with_its_units(
    capsys: pytest.CaptureFixture[str], units: str, shown: str
) -> None:
    show_report(_report({"ks": 0.5, "wasserstein": 0.0693, "wasserstein_units": units}))

    (line,) = [x for x in capsys.readouterr().out.splitlines() if "distribution" in x]
    assert line.startswith("distribution distance: ks 0.5, wasserstein ")
    assert shown in line and "wasserstein_units" not in line
