"""Evidence read from a real prediction log, and the verdicts gates give on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from modelport.rollout.analysis import evaluate
from modelport.rollout.evidence import (
    BASE_COLUMNS,
    Evidence,
    collect,
    labels_for,
    step_columns,
)
from modelport.rollout.gates import parse_gates
from rollout.logdata import LogWriter

SINCE = datetime.now(UTC) - timedelta(minutes=5)


def _collect(writer: LogWriter, phase: str = "canary", kind: str = "classification") -> Evidence:
    return collect(
        writer.log.follow("churn", SINCE, step_columns(["0", "1"])).rows(),
        labels_for(writer.feedback, "churn", SINCE),
        kind=kind,
        candidate=2,
        baseline=1,
        phase=phase,
    )


def _canary_traffic(writer: LogWriter, n: int, *, disagree_every: int = 0) -> None:
    for i in range(n):
        if i % 2:  # primary request
            writer.add(f"p{i}", "primary", 1, "0", latency_ms=4.0)
        else:  # canary request, and the primary's answer to it in the background
            answer = "1" if disagree_every and i % disagree_every == 0 else "0"
            writer.add(f"c{i}", "canary", 2, answer, latency_ms=6.0)
            writer.add(f"c{i}", "baseline", 1, "0", latency_ms=3.0)
    writer.flush()


def test_canary_evidence_pairs_the_same_requests(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    _canary_traffic(writer, 400, disagree_every=20)
    evidence = _collect(writer)
    assert evidence.candidate.requests == 200 and evidence.primary.requests == 200
    assert evidence.requests == 400
    assert evidence.agree.size == 200 and abs(evidence.agree.mean() - 0.9) < 1e-9
    verdicts = evaluate(parse_gates(["agreement>=0.8", "agreement>=0.99"]), evidence, 50, 0.05)
    assert [v.verdict for v in verdicts] == ["pass", "fail"]
    assert verdicts[1].candidate is not None and abs(verdicts[1].candidate - 0.9) < 1e-9


def test_errors_and_latency_against_the_primary(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    for i in range(300):
        writer.add(f"p{i}", "primary", 1, "0", latency_ms=4.0 + (i % 10))
        writer.add(f"c{i}", "canary", 2, None if i % 4 == 0 else "0", latency_ms=30.0)
    writer.flush()
    evidence = _collect(writer)
    assert evidence.candidate.errors == 75 and evidence.primary.errors == 0
    gates = parse_gates(["error_rate<=primary+0.01", "p95_ms<=primary*1.5+5", "p50_ms<=100"])
    verdicts = {v.gate: v for v in evaluate(gates, evidence, 50, 0.05)}
    assert verdicts["error_rate<=primary+0.01"].verdict == "fail"
    assert verdicts["error_rate<=primary+0.01"].candidate == 0.25
    latency = verdicts["p95_ms<=primary*1.5+5"]
    assert latency.verdict == "fail" and latency.primary == 13.0 and latency.threshold == 24.5
    assert verdicts["p50_ms<=100"].verdict == "pass"


def test_labels_compare_accuracy_on_the_same_rows(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    _canary_traffic(writer, 400, disagree_every=4)  # candidate wrong on half its rows
    for i in range(0, 400, 2):
        writer.label(f"c{i}", 0)
    evidence = _collect(writer)
    assert evidence.correct[0].size == 200
    assert evidence.correct[0].mean() == 0.5 and evidence.correct[1].mean() == 1.0
    gates = parse_gates(["accuracy>=primary-0.02", "accuracy>=0.3", "loss<=primary+0.1"])
    verdicts = [v.verdict for v in evaluate(gates, evidence, 50, 0.05)]
    assert verdicts == ["fail", "pass", "fail"]


def test_too_few_observations_are_inconclusive_whatever_they_say(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    _canary_traffic(writer, 20, disagree_every=2)  # every canary answer disagrees
    verdict = evaluate(parse_gates(["agreement>=0.9"]), _collect(writer), 50, 0.05)[0]
    assert verdict.verdict == "inconclusive" and verdict.n == 10
    assert verdict.reason == "10 of 50 paired rows needed"


def test_shadow_evidence_and_regression_divergence(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path, kind="regression")
    for i in range(200):
        writer.add(f"r{i}", "primary", 1, 100.0)
        writer.add(f"r{i}", "shadow", 2, 102.0 if i % 2 else 120.0)
    writer.flush()
    evidence = _collect(writer, phase="shadow", kind="regression")
    assert evidence.agree.mean() == 0.5  # within 5 % on half the rows
    assert abs(evidence.abs_diff.mean() - 11.0) < 1e-9
    gates = parse_gates(["mean_abs_diff<=5", "mean_abs_diff<=50"])
    assert [v.verdict for v in evaluate(gates, evidence, 50, 0.05)] == ["fail", "pass"]


def test_the_window_reads_each_segment_once_and_keeps_earlier_rows(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    window = writer.log.follow("churn", SINCE, BASE_COLUMNS)
    assert window.rows().num_rows == 0
    _canary_traffic(writer, 10)
    assert len(window.rows()) == 15
    _canary_traffic(writer, 10)  # a second segment
    assert len(window.rows()) == 30
    assert len(window.rows()) == 30  # nothing new: nothing read twice


def test_latency_is_not_judged_on_shadow_copies(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path)
    for i in range(200):
        writer.add(f"r{i}", "primary", 1, "0", latency_ms=2.0)
        writer.add(f"r{i}", "shadow", 2, "0", latency_ms=25.0)  # batched in the background
    writer.flush()
    gates = parse_gates(["p95_ms<=primary*1.5+5", "agreement>=0.9"])
    verdicts = evaluate(gates, _collect(writer, phase="shadow"), 50, 0.05, phase="shadow")
    assert [v.verdict for v in verdicts] == ["skipped", "pass"]
    assert verdicts[0].candidate == 25.0 and "canary" in verdicts[0].reason
