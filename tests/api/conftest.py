from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML
from support import LiveServer, register_churn


def make_churn_project(folder: Path, churn_files: tuple[Path, Path], extra_toml: str = "") -> Path:
    (folder / "modelport.toml").write_text(DEFAULT_TOML + extra_toml)
    register_churn(folder, churn_files)
    return folder


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]
) -> Iterator[LiveServer]:
    """One real server per test module, serving endpoint ``churn`` (churn:1)."""
    folder = make_churn_project(tmp_path_factory.mktemp("api"), churn_files)
    live = LiveServer(folder, env={"MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2"}).start()
    try:
        yield live
    finally:
        live.stop()
