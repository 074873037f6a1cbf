"""`modelport logs compact` honours the store's compaction lease, like a server does."""

from __future__ import annotations

from pathlib import Path

from modelport.config import DEFAULT_TOML, Settings
from modelport.server import COMPACTION_LOCK
from modelport.store.db import Database
from modelport.store.locks import StoreLock
from support import run_cli


def test_compact_refuses_while_another_process_holds_the_lease(tmp_path: Path) -> None:
    (tmp_path / "modelport.toml").write_text(DEFAULT_TOML)
    run_cli("init", cwd=tmp_path, check=False)
    run_cli("endpoints", "list", cwd=tmp_path)  # creates and migrates the store
    settings = Settings.load(tmp_path / "modelport.toml", store={"home": tmp_path / ".modelport"})
    db = Database(settings.database_url)
    try:
        with StoreLock(db, COMPACTION_LOCK, holder="another-server").held() as mine:
            assert mine
            busy = run_cli("logs", "compact", cwd=tmp_path, check=False)
        free = run_cli("logs", "compact", cwd=tmp_path)
    finally:
        db.dispose()
    assert busy.returncode != 0
    assert "another process is compacting" in busy.stderr + busy.stdout
    assert "nothing to compact" in free.stdout
