"""Fixtures for retraining-policy tests: a real control plane (SQLite or PostgreSQL) with
an endpoint and an alert rule, a clock the test moves, and a stand-in job runner.

The job runner stands in for the worker processes (another component, tested on its own
and end to end in ``test_policy_e2e.py``); the policy code under test is all real."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelport.alerts.lifecycle import Alert, AlertState
from modelport.alerts.store import AlertStore
from modelport.errors import ModelportError
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registration, Registry
from modelport.retraining.jobs import OnFinished, RetrainJob
from modelport.retraining.policy import PolicyStore
from modelport.retraining.request import RetrainOutcome, RetrainRequest
from modelport.retraining.service import PolicyService
from modelport.rollout.service import RolloutService
from modelport.rollout.state import RolloutStore
from modelport.store.db import Database
from modelport.store.tables import FeedbackRow

RULE = "churn-drift"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALLOWED = ["mytrainers:*"]


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class StandInJobs:
    """Starts nothing: remembers each request and lets the test end the job."""

    started: list[tuple[RetrainJob, OnFinished | None]] = field(default_factory=list)
    # Raised by the next start, as the real jobs do (a job started elsewhere, say).
    refuse: ModelportError | None = None

    def start(self, request: RetrainRequest, on_finished: OnFinished | None = None) -> RetrainJob:
        if self.refuse is not None:
            raise self.refuse
        job = RetrainJob(
            job=f"{len(self.started) + 1:032x}",
            request=request,
            state="running",
            stage=None,
            started_at=START.isoformat(),
        )
        self.started.append((job, on_finished))
        return job

    def running(self, endpoint: str) -> RetrainJob | None:
        for job, _ in self.started:
            if job.request.endpoint == endpoint and job.state == "running":
                return job
        return None

    def finish(
        self, version: int | None, *, error: str = "", rollout_id: int | None = None
    ) -> None:
        """End the last job: trained ``version`` (and started ``rollout_id``), or failed
        with ``error``."""
        job, on_finished = self.started[-1]
        if version is None:
            job.state, job.error = "failed", error
        else:
            job.state = "done"
            job.outcome = RetrainOutcome(
                endpoint=job.request.endpoint,
                model="churn",
                version=version,
                parent=1,
                lineage={},
                rollout_id=rollout_id,
                seconds=1.0,
            )
        assert on_finished is not None
        on_finished(job)


@dataclass
class World:
    db: Database
    clock: Clock
    jobs: StandInJobs
    service: PolicyService
    rollouts: RolloutService
    registry: Registry
    churn_files: tuple[Path, Path]

    def fire(self, since: datetime | None = None, *, endpoint: str = "churn") -> None:
        alert = Alert(
            rule=RULE,
            labels={"endpoint": endpoint, "feature": "tenure"},
            state=AlertState.FIRING,
            since=since or self.clock.now,
        )
        AlertStore(self.db).save_alerts([alert])

    def resolve(self) -> None:
        store = AlertStore(self.db)
        store.save_alerts(
            [
                Alert(rule=a.rule, labels=a.labels, state=AlertState.RESOLVED, since=self.clock.now)
                for a in store.alerts(RULE)
            ]
        )

    def label(self, count: int) -> None:
        with self.db.session() as session:
            base = len(session.query(FeedbackRow).all())
            for n in range(count):
                session.add(
                    FeedbackRow(
                        request_id=f"r{base + n}",
                        row=0,
                        label="1",
                        label_value=1.0,
                        endpoint="churn",
                        received_at=self.clock.now,
                    )
                )

    def history(self) -> list[dict[str, Any]]:
        return [event.to_dict() for event in self.service.history("churn")]

    def decisions(self) -> list[str]:
        return [
            event["decision"] + (f":{event['cause']}" if event["cause"] else "")
            for event in reversed(self.history())
        ]


def registration(churn_files: tuple[Path, Path]) -> Registration:
    model, reference = churn_files
    return Registration(
        name="churn", source=str(model), flavor="sklearn", reference=reference, target="churned"
    )


@pytest.fixture(
    name="world", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def policy_world(
    request: pytest.FixtureRequest, tmp_path: Path, churn_files: tuple[Path, Path]
) -> Iterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control' / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    (tmp_path / "mytrainers.py").write_text("def fit(features, labels, context):\n    ...\n")
    request.getfixturevalue("monkeypatch").chdir(tmp_path)
    db = Database(url)
    try:
        registry = Registry(db, ArtifactStore(tmp_path / "artifacts"))
        version = registry.register(registration(churn_files))
        endpoints = EndpointStore(db, registry)
        endpoints.create("churn", "churn", version.version)
        AlertStore(db).put_rule(
            RULE,
            {"name": RULE, "endpoint": "churn", "metric": "drift.psi", "above": 0.2},
            source="api",
            by="test",
            replace=False,
        )
        clock = Clock()
        jobs = StandInJobs()
        store = PolicyStore(db, endpoints, trainers=ALLOWED)
        log = ParquetPredictionLog(tmp_path / "log")
        rollouts = RolloutService(
            registry, endpoints, log, FeedbackStore(db, log), store=RolloutStore(db, endpoints)
        )
        service = PolicyService(store, jobs, rollouts.store, clock=clock)
        yield World(db, clock, jobs, service, rollouts, registry, churn_files)
    finally:
        db.dispose()


POLICY: dict[str, Any] = {
    "trainer": "mytrainers:fit",
    "on_alert": RULE,
    "cooldown": "24h",
    "min_labels": 100,
    "max_attempts": 2,
}


# -- projects for CLI and server tests ---------------------------------------------------

TRAINER_MODULE = '''"""Trainers for retraining-policy tests."""
from sklearn.dummy import DummyClassifier


def fit(features, labels, context):
    return DummyClassifier(strategy="most_frequent").fit(features, labels)
'''
ALLOW_TRAINERS = {"MODELPORT_RETRAIN__TRAINERS": '["mytrainers:*"]'}


def make_policy_project(folder: Path, churn_files: tuple[Path, Path], auth: str = "") -> Path:
    """A project serving churn:1 with a trainer module and the alert rule ``RULE``."""
    from modelport.config import DEFAULT_TOML, Settings
    from support import register_churn

    text = DEFAULT_TOML
    if auth:
        text = text.replace("[auth]\nadmin_tokens = []\nclient_tokens = []\n", auth)
        assert auth in text
    (folder / "modelport.toml").write_text(text)
    (folder / "mytrainers.py").write_text(TRAINER_MODULE)
    register_churn(folder, churn_files)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    AlertStore(db).put_rule(
        RULE,
        {"name": RULE, "endpoint": "churn", "metric": "drift.psi", "above": 0.2},
        source="api",
        by="test",
        replace=False,
    )
    db.dispose()
    return folder
