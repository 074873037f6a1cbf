"""``modelport init``: writes the settings file and a ready store, and never overwrites a
settings file unless asked to."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from modelport.config import DEFAULT_TOML
from support import run_cli


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_init_writes_settings_and_a_ready_store(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)

    assert (tmp_path / "modelport.toml").read_text() == DEFAULT_TOML
    database = tmp_path / ".modelport" / "modelport.db"
    assert database.is_file()
    # Migrated, not just created: the registry, endpoints and log tables are there.
    assert {"models", "model_versions", "endpoints", "feedback"} <= _tables(database)
    assert "wrote modelport.toml" in result.stdout
    assert json.loads(run_cli("models", "list", "--json", cwd=tmp_path).stdout) == []


def test_init_keeps_an_existing_settings_file_and_force_overwrites_it(tmp_path: Path) -> None:
    mine = '[store]\nhome = "elsewhere"\n\n[server]\nport = 9123\n'
    (tmp_path / "modelport.toml").write_text(mine)

    kept = run_cli("init", cwd=tmp_path)

    assert (tmp_path / "modelport.toml").read_text() == mine
    assert "keeping it" in kept.stdout
    # The kept file is the one in force: its store home is the one created.
    assert (tmp_path / "elsewhere" / "modelport.db").is_file()
    assert not (tmp_path / ".modelport").exists()

    forced = run_cli("init", "--force", cwd=tmp_path)

    assert (tmp_path / "modelport.toml").read_text() == DEFAULT_TOML
    assert "wrote modelport.toml" in forced.stdout
    assert (tmp_path / ".modelport" / "modelport.db").is_file()
