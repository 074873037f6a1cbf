"""The schema check on start: one SELECT when the database is at the newest migration,
the Alembic upgrade whenever it is not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from modelport.store.db import MIGRATIONS, Database, head_revision


def _alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(_alembic_config(Database("sqlite://", migrate=False)))
    assert head_revision() == script.get_current_head()


def test_a_database_behind_the_newest_migration_is_upgraded_on_open(database_url: str) -> None:
    behind = Database(database_url, migrate=False)
    try:
        with behind.engine.begin() as connection:
            config = _alembic_config(behind)
            config.attributes["connection"] = connection
            command.upgrade(config, "0010")
        assert behind.revision() == "0010"
        assert not behind.up_to_date()
        columns = {c["name"] for c in inspect(behind.engine).get_columns("endpoints")}
        assert "pipeline" not in columns
    finally:
        behind.dispose()

    opened = Database(database_url)
    try:
        assert opened.revision() == head_revision()
        assert opened.up_to_date()
        # 0011 adds the endpoints' pipeline column: the upgrade ran, not only the check.
        assert "pipeline" in {c["name"] for c in inspect(opened.engine).get_columns("endpoints")}
    finally:
        opened.dispose()


def test_a_new_database_has_no_revision_until_it_is_migrated(tmp_path: Path) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}", migrate=False)
    try:
        assert fresh.revision() is None
        assert not fresh.up_to_date()
    finally:
        fresh.dispose()


def test_opening_an_up_to_date_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modelport.db'}"
    Database(url).dispose()  # migrated once
    probe = (
        "import sys\n"
        "from modelport.store.db import Database\n"
        f"Database({url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_migration_files_that_do_not_name_one_head_leave_the_decision_to_alembic(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert head_revision(tmp_path) == "b"

    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')  # a branch
    assert head_revision(tmp_path) is None

    (tmp_path / "c.py").write_text('"""no header"""\n')
    assert head_revision(tmp_path) is None
