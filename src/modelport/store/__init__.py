"""Control-plane storage: SQL through SQLAlchemy 2, schema managed by Alembic."""

from modelport.store.db import Database

__all__ = ["Database"]
