"""Engine, sessions and schema upgrades for the control-plane database."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"

# ``revision = "0012"`` and ``down_revision = "0011"`` (or None), with or without a type
# annotation, as Alembic writes them at the top of every migration file.
_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\b[^=\n]*=\s*(?:["']([^"']+)["']|None)""", re.M)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the server read while the CLI writes; busy_timeout turns lock contention
    # between processes into a short wait instead of "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def head_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest migration's revision, read from the migration files' headers.

    Hand-written rather than Alembic's ``ScriptDirectory``: that import alone costs a CLI
    command about 0.3 s, and the headers are two plain assignments. None when the files
    do not name exactly one head (a branch, an unusual header): the caller then lets
    Alembic decide."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        parent = _DOWN_REVISION.search(source)
        if revision is None or parent is None:
            return None
        revisions.add(revision.group(1))
        if parent.group(1) is not None:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


@functools.cache
def _shipped_head() -> str | None:
    """The head of the migrations this package ships (they do not change while it runs)."""
    return head_revision()


class Database:
    """One SQL database (SQLite file or server) holding registry, endpoints and audit."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate and not self.up_to_date():
            self.upgrade()

    def revision(self) -> str | None:
        """The schema revision stored in the database; None before the first migration."""
        try:
            with self.engine.connect() as connection:
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = list(found.scalars())
        except DBAPIError:  # no alembic_version table yet
            return None
        return versions[0] if len(versions) == 1 else None

    def up_to_date(self) -> bool:
        """True when the stored revision is the newest migration's: every start after the
        first one is then one SELECT, without importing Alembic. Anything else (a new
        database, an older or unknown revision, a branch, a failed read) goes through
        :meth:`upgrade`, in one transaction, as every start did before."""
        head = _shipped_head()
        return head is not None and self.revision() == head

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; safe to call on every start."""
        # Imported here: only a database that needs a migration pays for Alembic.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed as one transaction, or rolled back whole."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
