"""Performance metrics agree with scikit-learn; the mergeable counts agree with both."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from modelport.monitoring.metrics.counts import AUC_BINS, PerformanceCounts
from modelport.monitoring.metrics.exact import classification_metrics, regression_metrics


def classified(n: int, classes: list[str], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(len(classes)), n)
    truth = np.array([classes[rng.choice(len(classes), p=p)] for p in proba], dtype=object)
    predicted = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    return truth, predicted, proba


@pytest.mark.parametrize("classes", [["0", "1"], ["a", "b", "c"]])
def test_classification_metrics_match_sklearn(classes: list[str]) -> None:
    truth, predicted, proba = classified(2_000, classes, seed=len(classes))

    found = classification_metrics(truth, predicted, classes, proba)

    assert found["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert found["macro_f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))
    assert found["macro_precision"] == pytest.approx(
        metrics.precision_score(truth, predicted, average="macro")
    )
    assert found["log_loss"] == pytest.approx(metrics.log_loss(truth, proba, labels=classes))
    if len(classes) == 2:
        expected_auc = metrics.roc_auc_score(truth == "1", proba[:, 1])
        recall = metrics.recall_score(truth, predicted, pos_label="1")
        assert found["recall"] == pytest.approx(recall)
    else:
        expected_auc = metrics.roc_auc_score(truth, proba, multi_class="ovr", labels=classes)
    assert found["roc_auc"] == pytest.approx(expected_auc)


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    truth = rng.normal(size=500)
    guess = truth + rng.normal(0.1, 0.5, size=500)

    found = regression_metrics(truth, guess)

    assert found["mae"] == pytest.approx(metrics.mean_absolute_error(truth, guess))
    assert found["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, guess)))
    assert found["r2"] == pytest.approx(metrics.r2_score(truth, guess))
    assert regression_metrics(truth[:1], guess[:1])["r2"] is None


def test_what_cannot_be_computed_says_why() -> None:
    one_class = np.array(["1", "1"], dtype=object)
    found = classification_metrics(one_class, one_class, ["0", "1"], np.array([[0.2, 0.8]] * 2))
    assert found["roc_auc"] is None and any("both classes" in n for n in found["notes"])
    assert classification_metrics(
        np.array([], dtype=object), np.array([], dtype=object), ["0", "1"], None
    ) == {"n": 0, "notes": []}


@pytest.mark.parametrize("classes", [["0", "1"], ["a", "b", "c"]])
def test_merged_counts_equal_the_exact_metrics(classes: list[str]) -> None:
    truth, predicted, proba = classified(3_000, classes, seed=7)
    first, second = (
        PerformanceCounts("classification", classes),
        PerformanceCounts("classification", classes),
    )
    first.update(truth[:1_000], predicted[:1_000], proba[:1_000])
    second.update(truth[1_000:], predicted[1_000:], proba[1_000:])

    merged = PerformanceCounts.from_dict(first.merge(second).to_dict()).metrics()
    exact = classification_metrics(truth, predicted, classes, proba)

    for name in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "log_loss"):
        assert merged[name] == pytest.approx(exact[name]), name
    # AUC from binned scores: ties within a bin count one half.
    assert merged["roc_auc"] == pytest.approx(exact["roc_auc"], abs=1 / AUC_BINS)


def test_regression_counts_merge() -> None:
    rng = np.random.default_rng(2)
    truth, guess = rng.normal(size=400), rng.normal(size=400)
    counts = PerformanceCounts("regression", [])
    counts.update(truth[:100], guess[:100])
    other = PerformanceCounts("regression", [])
    other.update(truth[100:], guess[100:], delays=[3.0, 5.0])

    merged = counts.merge(other).metrics()
    exact = regression_metrics(truth, guess)

    for name in ("mae", "rmse", "r2", "mean_error"):
        assert merged[name] == pytest.approx(exact[name]), name
    assert merged["label_delay_s"] == {"mean": 4.0, "max": 5.0}


def test_a_class_never_predicted_counts_zero_in_the_macro_average() -> None:
    truth = np.array(["0", "0", "1", "1"], dtype=object)
    predicted = np.array(["0", "0", "0", "0"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])

    found = classification_metrics(truth, predicted, ["0", "1"], proba)
    counts = PerformanceCounts("classification", ["0", "1"])
    counts.update(truth, predicted, proba)

    expected = metrics.f1_score(truth, predicted, average="macro", zero_division=0)
    assert found["macro_f1"] == pytest.approx(expected)
    assert counts.metrics()["macro_f1"] == pytest.approx(expected)
    assert found["precision"] is None and found["recall"] == 0.0
