from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer

from .chain import register, train


@pytest.fixture(scope="session")
def chain_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return train(tmp_path_factory.mktemp("chain"))


@pytest.fixture(scope="session")
def worse_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return train(tmp_path_factory.mktemp("chain-worse"), worse=True)


def chain_project(folder: Path, files: dict[str, tuple[Path, Path]], toml: str = "") -> Path:
    """A project with detector:1 and scorer:1 registered, no endpoint yet."""
    (folder / "modelport.toml").write_text(DEFAULT_TOML + toml)
    register(folder, "detector", files["detector"], "active")
    register(folder, "scorer", files["scorer"], "churned")
    return folder


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, chain_files: dict[str, tuple[Path, Path]]
) -> Iterator[LiveServer]:
    """One real server per module with the chain's models registered."""
    folder = chain_project(tmp_path_factory.mktemp("pipeline"), chain_files)
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()
