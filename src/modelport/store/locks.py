"""Named leases in the control-plane database: work that runs in one process per store.

Every server compacts the prediction log in the background; only one of them (on one
machine or many, sharing one SQLite file or PostgreSQL database) may do it at a time.
:class:`StoreLock` takes a row of ``store_locks`` with an atomic insert, or, when the
row exists, with a conditional update that succeeds only if the lease has expired (or is
already ours). Both are single statements, so two processes never both win, on SQLite
and PostgreSQL alike. A holder renews its lease while it works and gives it up when
done; one that dies holding it blocks others only until ``expires_at``.

Leases use the holders' clocks: machines sharing a store must keep them within a small
fraction of ``ttl_s`` of each other.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from modelport.store.db import Database
from modelport.store.tables import StoreLockRow, utcnow

logger = logging.getLogger(__name__)


def default_holder() -> str:
    """Who holds a lease: host, process and a random part (unique per lock object)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


class StoreLock:
    """The lease ``name`` in ``db``, held for ``ttl_s`` seconds at a time."""

    def __init__(
        self, db: Database, name: str, *, ttl_s: float = 600.0, holder: str | None = None
    ) -> None:
        self.db = db
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or default_holder()

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; False if another holds it."""
        now = utcnow()
        expires = now + timedelta(seconds=self.ttl_s)
        try:
            with self.db.session() as session:
                session.add(StoreLockRow(name=self.name, holder=self.holder, expires_at=expires))
            return True
        except IntegrityError:
            pass  # the row exists: take it only if its lease has run out
        with self.db.session() as session:
            result = session.execute(
                update(StoreLockRow)
                .where(
                    StoreLockRow.name == self.name,
                    or_(StoreLockRow.expires_at < now, StoreLockRow.holder == self.holder),
                )
                .values(holder=self.holder, expires_at=expires, acquired_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def renew(self) -> bool:
        """Extend the lease by ``ttl_s``; False if it is no longer ours (taken over)."""
        with self.db.session() as session:
            result = session.execute(
                update(StoreLockRow)
                .where(StoreLockRow.name == self.name, StoreLockRow.holder == self.holder)
                .values(expires_at=utcnow() + timedelta(seconds=self.ttl_s))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def release(self) -> None:
        """Give the lease up (nothing happens if it was taken over meanwhile)."""
        with self.db.session() as session:
            session.execute(
                delete(StoreLockRow).where(
                    StoreLockRow.name == self.name, StoreLockRow.holder == self.holder
                )
            )

    @contextmanager
    def held(self) -> Iterator[bool]:
        """``with lock.held() as mine:`` — ``mine`` says whether the lease was taken; it
        is released on the way out if it was."""
        mine = self.acquire()
        try:
            yield mine
        finally:
            if mine:
                try:
                    self.release()
                except Exception:
                    logger.exception("releasing lock %s failed; it expires by itself", self.name)
