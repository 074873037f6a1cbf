"""Rollout fixtures: a project with a primary and misbehaving candidates, a live server,
and a traffic generator that talks HTTP to it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML, Settings
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.service import Registration, Registry
from modelport.store.db import Database
from rollout.traffic import FAST_LOG, Traffic
from support import LiveServer, run_cli, train_churn

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def rollout_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Registered once per session (registration is slow), copied for every test."""
    folder = tmp_path_factory.mktemp("rollout-template")
    model, reference = train_churn(folder, seed=0)
    other, _ = train_churn(folder, seed=1)
    shutil.copy(HERE / "candidates.py", folder / "candidates.py")
    (folder / "modelport.toml").write_text(DEFAULT_TOML)
    settings = Settings.load(folder / "modelport.toml")
    home = folder / settings.home
    db = Database(f"sqlite:///{home / 'modelport.db'}")
    registry = Registry(db, ArtifactStore(home / "artifacts"))
    sources = [
        (model.name, "sklearn"),
        (model.name, "sklearn"),
        ("candidates.py:AlwaysFails", "python"),
        ("candidates.py:Slow", "python"),
        ("candidates.py:Flaky", "python"),
        ("candidates.py:AlwaysOne", "python"),
        (other.name, "sklearn"),
    ]
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        for source, flavor in sources:
            registry.register(
                Registration(
                    name="churn",
                    source=source,
                    flavor=flavor,
                    trust_code=flavor == "python",
                    reference=Path(reference.name),
                    target="churned",
                )
            )
        registry.register(
            Registration(
                name="churn",
                source="candidates.py:DifferentInputs",
                flavor="python",
                trust_code=True,
            )
        )
    finally:
        os.chdir(cwd)
    db.dispose()
    run_cli("endpoints", "create", "churn", "--model", "churn:1", cwd=folder)
    return folder


@pytest.fixture
def rollout_project(
    rollout_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for key in list(os.environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    project = tmp_path / "project"
    shutil.copytree(rollout_template, project)
    monkeypatch.chdir(project)
    return project


@pytest.fixture(scope="module")
def server(
    rollout_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per test module (starting one is the slow part); ``traffic`` puts the
    endpoint back to churn:1 with no rollout before each test."""
    project = tmp_path_factory.mktemp("served") / "project"
    shutil.copytree(rollout_template, project)
    live = LiveServer(project, env=dict(FAST_LOG)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def traffic(server: LiveServer) -> Iterator[Traffic]:
    helper = Traffic(server)
    try:
        helper.reset()
        yield helper
    finally:
        helper.close()
