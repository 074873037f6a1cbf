"""A report read from a real prediction log shows both bars of the drift decision (the
calibrated critical value and the materiality threshold) and which one decided, with
materiality set per feature."""

from __future__ import annotations

import json
from datetime import timedelta

from modelport.config import MonitoringSettings
from modelport.monitoring.reports.options import report_request

from ..conftest import NOON, World, by_feature, shop_frame

SINCE = (NOON - timedelta(hours=12)).isoformat()
UNTIL = (NOON + timedelta(hours=12)).isoformat()


def test_entries_show_both_bars_and_which_decided(world: World) -> None:
    current = shop_frame(4_000, seed=40)
    current["a"] += 1.0  # half a reference std
    current["c"] += 0.2  # a tenth of the range of a uniform(-1, 1)
    world.log_frame(current)
    settings = MonitoringSettings(feature_thresholds={"c": {"psi": 5.0}})

    body = world.service().report(
        "shop",
        report_request(since=SINCE, until=UNTIL, thresholds=["b:psi=0.3"], settings=settings),
    )
    json.dumps(body, allow_nan=False)

    features = by_feature(body["features"])
    shifted, lenient, quiet = features["a"], features["c"], features["b"]
    assert shifted["drifted"] is True
    assert shifted["statistic"] >= max(shifted["materiality"], shifted["critical_value"])
    assert shifted["p_value"] <= shifted["level"]
    assert shifted["decided_by"] in ("calibration", "materiality")
    assert shifted["materiality"] == 0.04 and shifted["null_rows"] == 2_048
    # Moved materially, but its own materiality threshold (5.0) is out of reach.
    assert lenient["drifted"] is False and lenient["decided_by"] == "materiality"
    assert lenient["threshold"] == 5.0 and lenient["p_value"] <= lenient["level"]
    assert quiet["drifted"] is False and quiet["threshold"] == 0.3
    # Every compared column is judged together: the five features and the outputs.
    columns = len(body["features"]) + len(body["prediction"])
    assert columns == 8 and shifted["level"] == body["settings"]["alpha"] / columns
    assert body["settings"]["correction"] == "bonferroni"
    assert body["settings"]["feature_thresholds"] == {"c": {"psi": 5.0}, "b": {"psi": 0.3}}
    assert features["plan"]["stat"] == "cramers_v" and features["plan"]["drifted"] is False
