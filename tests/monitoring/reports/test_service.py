"""Reports read from a real prediction log: drift where it was injected and nowhere else,
clear answers for bad input, baselines for versions without reference data."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from modelport.batch import Batch
from modelport.errors import ValidationFailed
from modelport.monitoring.reports.options import report_request
from modelport.monitoring.reports.render.html import render_html
from modelport.monitoring.reports.service import ReportRequest
from modelport.predlog import columns as col
from modelport.predlog.compaction import compact_day
from modelport.predlog.reader import WindowSpec
from modelport.predlog.records import PredictionRecord
from modelport.registry.service import Registration

from ..conftest import NOON, SCHEMA, World, by_feature, comparable, shop_frame

DAY = WindowSpec(NOON - timedelta(hours=12), NOON + timedelta(hours=12), label="day")


def report(world: World, **options: object) -> dict:
    request = options.pop("request", None) or ReportRequest(window=DAY, **options)  # type: ignore[arg-type]
    body = world.service().report("shop", request)
    json.dumps(body, allow_nan=False)  # strict JSON: never a NaN
    return body


def test_injected_drift_is_found_in_exactly_those_features(world: World) -> None:
    current = shop_frame(4_000, seed=2)
    current["a"] += 2.0  # mean shift of one reference std
    current["b"] = current["b"].mean() + (current["b"] - current["b"].mean()) * 2.5  # variance
    rng = np.random.default_rng(3)
    current.loc[rng.random(len(current)) < 0.2, "plan"] = "enterprise"  # a new category
    current.loc[rng.random(len(current)) < 0.25, "region"] = None  # values went missing
    world.log_frame(current)

    body = report(world)

    drifted = {e["feature"] for e in body["features"] if e["drifted"]}
    assert drifted == {"a", "b", "plan", "region"}
    assert body["summary"]["share_drifted"] == pytest.approx(0.8)
    assert body["summary"]["dataset_drifted"] is True
    # Sorted by severity: every drifted feature before the one that did not move.
    assert body["features"][-1]["feature"] == "c"
    assert body["baseline"]["kind"] == "reference" and body["baseline"]["exact"] is True
    issues = " ".join(body["quality"]["issues"])
    assert "plan" in issues and "enterprise" in issues and "region: missing rate" in issues
    quality = {q["feature"]: q for q in body["quality"]["features"]}
    assert quality["c"]["bounds_source"] == "declared" and quality["c"]["out_of_range"] == 0
    assert quality["plan"]["unseen_values"] == {"enterprise": pytest.approx(800, abs=100)}


def test_fresh_samples_of_the_reference_distribution_do_not_drift(world: World) -> None:
    world.log_frame(shop_frame(3_000, seed=7))

    body = report(world)

    assert [e["feature"] for e in body["features"] if e["drifted"]] == []
    assert [e["feature"] for e in body["prediction"] if e["drifted"]] == []
    assert body["summary"]["judged"] == 5 and body["quality"]["issues"] == []


def test_exact_statistics_equal_scipy_on_the_logged_values(world: World) -> None:
    current = shop_frame(3_000, seed=4)
    world.log_frame(current)
    reference = world.registry.reference_frame(world.version)
    assert reference is not None

    entry = by_feature(report(world)["features"])["a"]

    expected = stats.ks_2samp(reference["a"], current["a"])
    assert entry["results"]["ks"]["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert entry["results"]["ks"]["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)
    raw = stats.wasserstein_distance(reference["a"], current["a"])
    assert entry["results"]["wasserstein"]["details"]["raw"] == pytest.approx(raw, rel=1e-9)


def test_too_few_rows_and_empty_windows_say_not_enough_data(world: World) -> None:
    world.log_frame(shop_frame(30, seed=5))

    small = report(world)
    empty = report(
        world,
        request=ReportRequest(
            window=WindowSpec(NOON - timedelta(days=3), NOON - timedelta(days=2))
        ),
    )

    entry = by_feature(small["features"])["a"]
    assert entry["status"] == "not_enough_data"
    # PSI needs 25 rows per populated bin: 20 quantile bins plus 4 tail bins.
    assert entry["message"] == "not enough data (n=30, need 600)"
    # Cramér's V needs 5 rows per category only (its calibrated test keeps small samples
    # quiet), so the categorical feature is judged, and not flagged, at 30 rows.
    assert "a" in small["summary"]["not_enough_data"]
    assert small["summary"]["drifted"] == 0
    assert empty["window"]["rows"] == 0
    assert by_feature(empty["features"])["plan"]["message"].startswith("not enough data (n=0")
    assert empty["performance"]["message"] == "no labelled predictions in the window (n=0, need 1)"
    assert empty["concept_drift"]["status"] == "not_enough_data"


def test_a_logged_feature_missing_from_the_reference_is_reported(world: World) -> None:
    frame = shop_frame(600, seed=6)
    frame["d"] = 1.0
    world.log_frame(frame)
    # The logged batch holds the schema's features; add a segment with an extra one.
    extra = Batch.from_frame(frame, world.version.input_schema)
    extra = Batch({**extra.columns, "d": frame["d"].to_numpy()}, extra.n_rows)
    prediction = world.registry.load(world.version).predict(extra)
    world.log.write(
        [
            PredictionRecord(
                "extra",
                "shop",
                "shop",
                1,
                "primary",
                NOON.timestamp(),
                1.0,
                extra,
                prediction,
                ("no", "yes"),
            )
        ]
    )

    entry = by_feature(report(world)["features"])["d"]

    assert entry["status"] == "not_in_reference" and entry["drifted"] is None
    assert "d is logged but not in shop:1's reference profile" == entry["message"]


def test_a_version_without_reference_data_is_compared_with_its_own_traffic(world: World) -> None:
    bare = world.register(reference=None)
    assert bare.profile is None
    world.log_frame(
        shop_frame(2_000, seed=8),
        version=bare,
        at=NOON - timedelta(minutes=30),
        prefix="early",
        spacing_s=0.001,
    )
    shifted = shop_frame(2_000, seed=9)
    shifted["a"] += 3.0
    world.log_frame(shifted, version=bare, at=NOON, prefix="late", spacing_s=0.001)
    half_hour = ReportRequest(
        window=WindowSpec(NOON, NOON + timedelta(minutes=30), label="30m"), version=bare.version
    )

    auto = world.service().report("shop", half_hour)
    earlier = f"{(NOON - timedelta(hours=1)).isoformat()}..{NOON.isoformat()}"
    chosen = world.service().report(
        "shop",
        report_request(
            since=NOON.isoformat(),
            until=(NOON + timedelta(minutes=30)).isoformat(),
            version=bare.version,
            baseline=earlier,
        ),
    )

    assert auto["baseline"]["kind"] == "previous"
    assert "shop:2 has no reference data" in auto["baseline"]["description"]
    assert auto["baseline"]["rows"] == 2_000
    assert [e["feature"] for e in auto["features"] if e["drifted"]] == ["a"]
    assert chosen["baseline"]["kind"] == "window" and chosen["baseline"]["rows"] == 2_000
    assert [e["feature"] for e in chosen["features"] if e["drifted"]] == ["a"]
    with pytest.raises(ValidationFailed) as refused:
        world.service().report(
            "shop", ReportRequest(window=DAY, version=bare.version, baseline="reference")
        )
    assert refused.value.field == "baseline" and "without reference data" in refused.value.message


def test_the_newest_rows_and_the_rows_before_them(world: World) -> None:
    world.log_frame(shop_frame(1_000, seed=10), prefix="old")
    newer = shop_frame(1_000, seed=11)
    newer["a"] += 3.0
    world.log_frame(newer, at=NOON + timedelta(minutes=1), prefix="new")

    body = world.service().report("shop", report_request(last=1_000, baseline="previous"))

    assert body["window"]["rows"] == 1_000 and body["baseline"]["rows"] == 1_000
    assert "1000 rows before" in body["baseline"]["description"]
    assert [e["feature"] for e in body["features"] if e["drifted"]] == ["a"]


def test_a_compacted_log_gives_the_same_report(world: World) -> None:
    for hour in range(3):
        world.log_frame(
            shop_frame(700, seed=20 + hour),
            at=NOON + timedelta(hours=hour),
            prefix=f"h{hour}",
            rows_per_request=25,
        )
    before = report(world)

    compact_day(world.log.root / "shop" / NOON.strftime("%Y-%m-%d"))

    assert comparable(report(world)) == comparable(before)


def test_the_html_report_is_self_contained(world: World) -> None:
    world.log_frame(shop_frame(1_000, seed=12))

    page = render_html(report(world))

    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 6
    assert "<script" not in page and "<link" not in page
    outside = page.replace("http://www.w3.org/2000/svg", "")
    assert "http://" not in outside and "https://" not in outside
    assert "reference sample of shop:1" in page


def test_unknown_options_are_refused_naming_the_field() -> None:
    for options, field in (
        ({"window": "soon"}, "window"),
        ({"window": "1h", "since": "2h"}, "window"),
        ({"last": 0}, "last"),
        ({"thresholds": ["psi"]}, "threshold"),
        ({"thresholds": ["nosuch=1"]}, "threshold"),
        ({"sections": "drift,weather"}, "sections"),
        ({"roles": ["boss"]}, "role"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            report_request(**options)  # type: ignore[arg-type]
        assert refused.value.field == field, options


def test_labels_give_performance_overall_per_version_and_per_slice(world: World) -> None:
    from sklearn import metrics

    frame = shop_frame(1_000, seed=13)
    ids = world.log_frame(frame, rows_per_request=10)
    predicted = world.registry.load(world.version).predict(
        Batch.from_frame(frame, world.version.input_schema)
    )
    rng = np.random.default_rng(14)
    truth = np.where(rng.random(1_000) < 0.8, predicted.outputs, "yes")
    labelled = rng.random(1_000) < 0.6
    world.label([(ids[i // 10], i % 10, truth[i]) for i in range(1_000) if labelled[i]])

    body = report(world, slice="plan")
    performance = body["performance"]

    keep = labelled
    assert performance["labelled_rows"] == int(keep.sum())
    assert performance["labelled_fraction"] == pytest.approx(keep.mean())
    m = performance["metrics"]
    accuracy = metrics.accuracy_score(truth[keep], predicted.outputs[keep])
    assert m["accuracy"] == pytest.approx(accuracy)
    positive = predicted.probabilities[keep][:, 1]
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth[keep] == "yes", positive))
    assert m["log_loss"] == pytest.approx(
        metrics.log_loss(truth[keep], predicted.probabilities[keep], labels=["no", "yes"])
    )
    assert m["f1"] == pytest.approx(
        metrics.f1_score(truth[keep], predicted.outputs[keep], pos_label="yes")
    )
    assert set(performance["by_version"]) == {"1"}
    slices = {s["slice"]: s["labelled_rows"] for s in performance["slices"]["slices"]}
    assert slices == pd.Series(frame["plan"][keep]).value_counts().to_dict()
    assert performance["label_delay_s"]["median"] > 0


def test_mass_moved_far_into_a_tail_shows_in_quality_and_in_wasserstein(world: World) -> None:
    current = shop_frame(4_000, seed=15)
    outliers = np.random.default_rng(16).random(len(current)) < 0.05
    current.loc[outliers, "a"] = 26.0 + current.loc[outliers, "a"] - 10.0  # 8 std above

    world.log_frame(current)
    default = report(world)
    by_wasserstein = world.service().report(
        "shop",
        report_request(
            since=DAY.since.isoformat(),  # type: ignore[union-attr]
            until=DAY.until.isoformat(),  # type: ignore[union-attr]
            decision=["numeric=wasserstein"],
        ),
    )

    # The profile's tail bins give mass beyond the reference maximum a bucket of its own,
    # so the default decision (PSI) sees it ...
    entry = by_feature(default["features"])["a"]
    assert entry["drifted"] is True
    assert entry["statistic"] >= entry["critical_value"] and entry["p_value"] <= entry["level"]
    quality = by_feature(default["quality"]["features"])["a"]
    assert quality["out_of_range_rate"] == pytest.approx(outliers.mean(), abs=0.002)
    assert any(i.startswith("a: ") and "out of range" in i for i in default["quality"]["issues"])
    # ... and so does the exact Wasserstein distance, which sees how far the mass moved.
    assert by_feature(by_wasserstein["features"])["a"]["drifted"] is True
    assert by_wasserstein["settings"]["decision"]["numeric"] == "wasserstein"
    with pytest.raises(ValidationFailed) as refused:
        report_request(decision=["categorical=ks"])
    assert refused.value.field == "decision"
    assert "cannot decide categorical" in refused.value.message


def test_values_of_the_wrong_type_in_the_log_are_counted(world: World) -> None:
    frame = shop_frame(600, seed=17)
    world.log_frame(frame)
    # Another version logged feature ``a`` as text: some numbers, some words.
    text = Batch.from_frame(frame.iloc[:40], world.version.input_schema)
    words = np.array(["high"] * 10 + [str(v) for v in frame["a"].iloc[10:40]], dtype=object)
    text = Batch({**text.columns, "a": words}, 40)
    prediction = world.registry.load(world.version).predict(
        Batch.from_frame(frame.iloc[:40], world.version.input_schema)
    )
    world.log.write(
        [
            PredictionRecord(
                "text",
                "shop",
                "shop",
                1,
                "primary",
                NOON.timestamp(),
                1.0,
                text,
                prediction,
                ("no", "yes"),
            )
        ]
    )

    body = report(world)

    quality = by_feature(body["quality"]["features"])["a"]
    assert quality["type_violations"] == 10 and quality["rows"] == 640
    assert "a: 10 values of the wrong type" in body["quality"]["issues"]


REGRESSOR = """
import numpy as np


class Price:
    output_kind = "regression"

    def predict(self, frame):
        return frame["a"].to_numpy(dtype=float) * 2.0 + frame["b"].to_numpy(dtype=float)
"""


def test_a_regressor_gets_numeric_prediction_drift_and_error_metrics(world: World) -> None:
    from sklearn import metrics

    (world.folder / "price.py").write_text(REGRESSOR)
    reference = world.folder / "price.parquet"
    shop_frame(3_000, seed=18).to_parquet(reference)
    version = world.registry.register(
        Registration(
            name="price",
            source=f"{world.folder / 'price.py'}:Price",
            flavor="python",
            trust_code=True,
            reference=reference,
            schema=SCHEMA,
        )
    )
    world.endpoints.create("price", "price", version.version)
    current = shop_frame(2_000, seed=19)
    current["a"] += 2.0
    ids = world.log_frame(current, version=version, endpoint="price", rows_per_request=20)
    predicted = current["a"].to_numpy() * 2.0 + current["b"].to_numpy()
    truth = predicted + np.random.default_rng(20).normal(0.0, 1.0, len(current))
    world.label(
        [(ids[i // 20], i % 20, float(truth[i])) for i in range(len(current))], endpoint="price"
    )

    body = world.service().report("price", ReportRequest(window=DAY))

    output = by_feature(body["prediction"])["__prediction__"]
    assert output["kind"] == "numeric" and output["drifted"] is True
    assert output["missing_rate_current"] == 0.0  # read from prediction_value
    found = body["performance"]["metrics"]
    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert found["r2"] == pytest.approx(metrics.r2_score(truth, predicted))
    detectors = {d["name"]: d for d in body["concept_drift"]["detectors"]}
    assert body["concept_drift"]["error"] == "absolute error"
    assert detectors["ddm"]["status"] == "not_applicable"


def test_the_multivariate_section_is_asked_for_and_tells_moved_rows_apart(world: World) -> None:
    world.log_frame(shop_frame(2_000, seed=40), prefix="same")
    default = report(world)
    same = report(world, sections=("multivariate",))
    moved = shop_frame(2_000, seed=41)
    moved["a"] += 2.0
    world.log_frame(moved, at=NOON + timedelta(hours=1), prefix="moved")
    later = WindowSpec(NOON + timedelta(minutes=30), NOON + timedelta(hours=2), label="later")

    shifted = world.service().report(
        "shop", ReportRequest(window=later, sections=("multivariate",))
    )

    assert "multivariate" not in default
    assert set(same) >= {"multivariate", "baseline"} and "features" not in same
    for body in (same, shifted):
        section = body["multivariate"]
        assert section["status"] == "ok" and section["features"] == SCHEMA.names
        assert (section["n_reference"], section["n_current"]) == (5_000, 2_000)
    assert same["multivariate"]["auc"] < 0.55 and same["multivariate"]["drifted"] is False
    assert same["multivariate"]["p_value"] >= 0.05 and same["multivariate"]["alpha"] == 0.05
    moved_section = shifted["multivariate"]
    assert moved_section["auc"] > 0.7 and moved_section["drifted"] is True
    assert moved_section["p_value"] < 1e-10 and moved_section["decided_by"] == "p_value"
    assert moved_section["top_features"][0]["feature"] == "a"
    assert moved_section["top_features"][0]["share"] > 0.5


def test_the_multivariate_alpha_is_the_requests_and_shown_with_what_decided(world: World) -> None:
    moved = shop_frame(2_000, seed=44)
    moved["a"] += 0.5  # a quarter of its standard deviation
    world.log_frame(moved)

    default = report(world, sections=("multivariate",))
    strict = report(world, sections=("multivariate",), multivariate_alpha=1e-30)
    page = render_html(default)

    section = default["multivariate"]
    assert section["drifted"] is True and section["p_value"] < 0.05
    assert strict["multivariate"]["drifted"] is False
    assert strict["multivariate"]["alpha"] == 1e-30
    assert strict["multivariate"]["p_value"] == section["p_value"]
    assert "no drift" in strict["multivariate"]["message"]
    assert "decided by p-value" in page and "the classifier leaned on" in page
    with pytest.raises(ValidationFailed) as refused:
        ReportRequest(window=DAY, sections=("multivariate",), multivariate_alpha=1.5)
    assert refused.value.field == "multivariate_alpha"


def test_the_multivariate_section_needs_raw_baseline_rows(world: World) -> None:
    world.log_frame(shop_frame(1_000, seed=42))
    sample = world.registry.reference_sample(world.version)
    assert sample is not None
    sample.unlink()  # the profile alone is left: binned statistics, no rows to tell apart

    body = report(world, sections=("drift", "multivariate"))

    assert body["baseline"]["kind"] == "profile"
    assert body["multivariate"]["status"] == "not_applicable"
    assert "raw rows" in body["multivariate"]["message"]


def test_a_reference_sample_stored_under_the_earlier_names_gives_the_same_report(
    world: World,
) -> None:
    current = shop_frame(3_000, seed=43)
    current["b"] *= 1.5
    world.log_frame(current)
    request = ReportRequest(window=DAY, sections=("drift", "prediction", "quality", "multivariate"))
    sample = world.registry.reference_sample(world.version)
    assert sample is not None
    stored = pq.read_table(sample)
    assert stored.column_names == [
        "feature.a",
        "feature.b",
        "feature.c",
        "feature.plan",
        "feature.region",
        "prediction",
        "proba.no",
        "proba.yes",
    ]
    before = world.service().report("shop", request)
    frame_before = world.registry.reference_frame(world.version)

    # As samples were stored before they were named like the log.
    earlier = [col.series_name(name) for name in stored.column_names]
    pq.write_table(stored.rename_columns(earlier), sample)
    after = world.service().report("shop", request)

    assert comparable(after) == comparable(before)
    assert after["baseline"]["kind"] == "reference" and after["baseline"]["exact"] is True
    pd.testing.assert_frame_equal(world.registry.reference_frame(world.version), frame_before)
