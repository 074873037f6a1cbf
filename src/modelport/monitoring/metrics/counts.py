"""Mergeable sums of labelled predictions: the live window's performance (the formulas
are :mod:`.formulas`, the same as the report's exact metrics).

Everything here adds up, so the counts of two server processes (or of two stretches of
one window) merge by addition and round-trip through JSON:

* classification: the confusion matrix, the log-loss sum, and per class histograms of
  the predicted probability (``AUC_BINS`` equal bins on [0, 1]) for positives and
  negatives, from which ROC AUC is computed with ties inside a bin counted one half
  (within ``1 / AUC_BINS`` of the exact value);
* regression: count, sums of errors, absolute and squared errors, labels and squared
  labels (MAE, RMSE, R² follow);
* label delay: count, sum and maximum.

>>> counts = PerformanceCounts("classification", ["0", "1"])
>>> counts.update(["0", "1", "1"], ["0", "1", "0"], np.array([[.9, .1], [.2, .8], [.6, .4]]),
...               delays=[1.0, 2.0, 3.0])
>>> m = counts.metrics()
>>> round(m["accuracy"], 3), m["roc_auc"], m["label_delay_s"]["mean"]
(0.667, 1.0, 2.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelport.monitoring.metrics.formulas import (
    METRICS,
    PROBABILITY_FLOOR,
    macro,
    of_class,
    per_class,
    ratio,
    regression_scores,
)

AUC_BINS = 200


class PerformanceCounts:
    def __init__(self, kind: str, classes: Sequence[str]) -> None:
        self.kind = kind
        self.classes = [str(c) for c in classes]
        size = len(self.classes)
        self.confusion = np.zeros((size, size), dtype=np.int64)
        self.other_labels = 0  # labels outside the model's classes
        self.log_loss_sum, self.log_loss_n = 0.0, 0
        self.scores = np.zeros((size, 2, AUC_BINS), dtype=np.int64)
        self.sums = np.zeros(6, dtype=np.float64)  # n, err, |err|, err², y, y²
        self.delay = np.zeros(3, dtype=np.float64)  # n, sum, max

    @property
    def n(self) -> int:
        if self.kind == "regression":
            return int(self.sums[0])
        return int(self.confusion.sum()) + self.other_labels

    def update(
        self,
        labels: Sequence[Any] | np.ndarray[Any, Any],
        predictions: Sequence[Any] | np.ndarray[Any, Any],
        probabilities: np.ndarray[Any, Any] | None = None,
        delays: Sequence[float] = (),
    ) -> None:
        if len(delays):
            self.delay[0] += len(delays)
            self.delay[1] += float(np.sum(delays))
            self.delay[2] = max(self.delay[2], float(np.max(delays)))
        if self.kind == "regression":
            truth = np.asarray(labels, dtype=np.float64)
            guess = np.asarray(predictions, dtype=np.float64)
            keep = np.isfinite(truth) & np.isfinite(guess)
            truth, error = truth[keep], guess[keep] - truth[keep]
            self.sums += [
                len(truth),
                error.sum(),
                np.abs(error).sum(),
                (error**2).sum(),
                truth.sum(),
                (truth**2).sum(),
            ]
            return
        index = {label: i for i, label in enumerate(self.classes)}
        for row, (label, guess) in enumerate(zip(labels, predictions, strict=True)):
            true_index = index.get(str(label))
            if true_index is None:
                self.other_labels += 1
                continue
            guess_index = index.get(str(guess))
            if guess_index is not None:
                self.confusion[true_index, guess_index] += 1
            if probabilities is not None and np.all(np.isfinite(probabilities[row])):
                chosen = max(float(probabilities[row, true_index]), PROBABILITY_FLOOR)
                self.log_loss_sum -= float(np.log(chosen))
                self.log_loss_n += 1
                bins = np.minimum((probabilities[row] * AUC_BINS).astype(int), AUC_BINS - 1)
                for class_index, score_bin in enumerate(bins):
                    self.scores[class_index, int(class_index == true_index), score_bin] += 1

    def merge(self, other: PerformanceCounts) -> PerformanceCounts:
        merged = PerformanceCounts.from_dict(self.to_dict())
        merged.confusion += other.confusion
        merged.other_labels += other.other_labels
        merged.log_loss_sum += other.log_loss_sum
        merged.log_loss_n += other.log_loss_n
        merged.scores += other.scores
        merged.sums += other.sums
        merged.delay[:2] += other.delay[:2]
        merged.delay[2] = max(self.delay[2], other.delay[2])
        return merged

    def metrics(self) -> dict[str, Any]:
        result: dict[str, Any] = {"n": self.n}
        if self.delay[0]:
            result["label_delay_s"] = {
                "mean": float(self.delay[1] / self.delay[0]),
                "max": float(self.delay[2]),
            }
        if self.n == 0:
            return result
        if self.kind == "regression":
            n, error, absolute, squared, total, total_sq = (float(v) for v in self.sums)
            result.update(
                regression_scores(n, error, absolute, squared, total_sq - total * total / n)
            )
            return result
        judged = int(self.confusion.sum())
        result["accuracy"] = ratio(np.trace(self.confusion), judged)
        predicted, actual = self.confusion.sum(axis=0), self.confusion.sum(axis=1)
        scores = per_class(np.diag(self.confusion), predicted, actual)
        averages = macro(scores, predicted, actual)
        positive = of_class(scores, 1) if len(self.classes) == 2 else {}
        for name in METRICS:
            result[f"macro_{name}"] = averages[f"macro_{name}"]
            if positive:
                result[name] = positive[name]
        result["log_loss"] = float(self.log_loss_sum / self.log_loss_n) if self.log_loss_n else None
        result["roc_auc"] = self._auc()
        return result

    def _auc(self) -> float | None:
        aucs = []
        classes = [1] if len(self.classes) == 2 else range(len(self.classes))
        for index in classes:
            negatives, positives = self.scores[index, 0], self.scores[index, 1]
            n_pos, n_neg = positives.sum(), negatives.sum()
            if n_pos == 0 or n_neg == 0:
                continue
            below = np.cumsum(negatives) - negatives
            aucs.append(float((positives * (below + 0.5 * negatives)).sum() / (n_pos * n_neg)))
        return float(np.mean(aucs)) if aucs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "classes": self.classes,
            "confusion": self.confusion.tolist(),
            "other_labels": self.other_labels,
            "log_loss": [self.log_loss_sum, self.log_loss_n],
            "scores": {str(i): s.tolist() for i, s in enumerate(self.scores) if s.any()},
            "sums": self.sums.tolist(),
            "delay": self.delay.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerformanceCounts:
        counts = cls(data["kind"], data["classes"])
        if counts.classes:
            counts.confusion = np.asarray(data["confusion"], dtype=np.int64).reshape(
                counts.confusion.shape
            )
        counts.other_labels = int(data["other_labels"])
        counts.log_loss_sum = float(data["log_loss"][0])
        counts.log_loss_n = int(data["log_loss"][1])
        for index, histogram in data["scores"].items():
            counts.scores[int(index)] = np.asarray(histogram, dtype=np.int64)
        counts.sums = np.asarray(data["sums"], dtype=np.float64)
        counts.delay = np.asarray(data["delay"], dtype=np.float64)
        return counts
