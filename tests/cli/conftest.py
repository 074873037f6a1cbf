"""CLI fixtures: one live churn server shared by a test module (starting one is slow)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer, register_churn


@pytest.fixture(scope="module")
def served_churn(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """A project with churn:1 behind endpoint ``churn``, served for the whole module;
    tests must leave the registry and endpoints as they found them."""
    project = tmp_path_factory.mktemp("cli-served")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("MODELPORT_")]:
            patch.delenv(key)  # the project's own settings only, as the server sees them
        register_churn(project, churn_files)
    server = LiveServer(project, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield server
    finally:
        server.stop()
