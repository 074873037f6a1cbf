from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML, Settings
from support import POSTGRES_URL, LiveServer, postgres_available, register_churn, train_churn

REQUIRE_POSTGRES = __import__("os").environ.get("MODELPORT_REQUIRE_POSTGRES") == "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    if postgres_available():
        return ["PostgreSQL: 127.0.0.1:5432 answers; postgres-marked tests run"]
    return ["!!! PostgreSQL does NOT answer on 127.0.0.1:5432: postgres-marked tests are SKIPPED"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    seed = terminalreporter.config.getoption("randomly_seed", default=None)
    if seed is not None:
        # Tests run in a shuffled order: this seed replays the same order.
        terminalreporter.write_line(f"test order: -p randomly --randomly-seed={seed}")
    # Said again at the end, where -q output cannot hide it.
    if not postgres_available():
        terminalreporter.write_line(
            "!!! PostgreSQL did NOT answer on 127.0.0.1:5432: postgres-marked tests were SKIPPED",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def churn_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_churn(tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="session")
def churn_files_v2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_churn(tmp_path_factory.mktemp("churn2"), seed=1)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised modelport project folder, also the current directory."""
    for key in list(__import__("os").environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    (tmp_path / "modelport.toml").write_text(DEFAULT_TOML)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(project: Path) -> Settings:
    return Settings.load(project / "modelport.toml")


@pytest.fixture
def churn_project(project: Path, churn_files: tuple[Path, Path]) -> Path:
    """A project with churn:1 registered (reference + target) and endpoint churn."""
    register_churn(project, churn_files)
    return project


@pytest.fixture
def churn_server(churn_project: Path) -> Iterator[LiveServer]:
    server = LiveServer(churn_project).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail("PostgreSQL is required here but does not answer on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    import psycopg

    name = f"modelport_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 dbname=test user=root", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.format(database=name)
    finally:
        with psycopg.connect("host=127.0.0.1 dbname=test user=root", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
