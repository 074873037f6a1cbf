"""The server's alert loop: one evaluation round under the store's lease, and a
:class:`~modelport.alerts.delivery.Delivery` that follows the stored notifiers.

Every server process runs :meth:`Evaluator.round` on a timer (the composition root
owns the timer). A round first makes the delivery match the stored notifiers (a new,
changed or deleted notifier rebuilds it; the old one drains briefly and stops), then,
only while holding the ``alert-evaluation`` lease, evaluates every rule and hands the
notifications to the delivery, which sends them on its own threads: evaluation never
waits on a receiver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from modelport.alerts.delivery import Delivery, FailureCallback
from modelport.alerts.notifiers import Notification, Notifier, build_notifier
from modelport.alerts.service import AlertService
from modelport.alerts.store import StoredNotifier
from modelport.store.db import Database
from modelport.store.locks import StoreLock

logger = logging.getLogger(__name__)

EVALUATION_LOCK = "alert-evaluation"
# How long an old delivery may drain when the notifiers change.
REBUILD_DRAIN_S = 2.0


class Evaluator:
    """Rounds of :meth:`AlertService.evaluate` by one process per store at a time."""

    def __init__(
        self,
        service: AlertService,
        db: Database,
        *,
        interval_s: float,
        attempts: int = 4,
        backoff_s: float = 1.0,
        on_failure: FailureCallback | None = None,
        on_round: Callable[[float], None] | None = None,
    ) -> None:
        self.service = service
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._on_failure = on_failure
        self._on_round = on_round
        # A lease outlives a few rounds, so a holder that dies hands over soon.
        self.lock = StoreLock(db, EVALUATION_LOCK, ttl_s=max(30.0, 4 * interval_s))
        self.delivery: Delivery | None = None
        self._specs: list[tuple[str, str, str | None, str | None]] = []

    def round(self, at: datetime | None = None) -> list[Notification] | None:
        """Follow the notifiers, then evaluate if the lease is ours; the notifications
        submitted, or None when another process holds the lease."""
        self.follow_notifiers()
        if not self.lock.acquire():
            return None
        started = time.perf_counter()
        notifications = self.service.evaluate(at)
        if self._on_round is not None:
            self._on_round(time.perf_counter() - started)
        delivery = self.delivery
        for notification in notifications:
            if delivery is not None:
                delivery.submit(notification)
        return notifications

    def follow_notifiers(self) -> None:
        """Rebuild the delivery when the stored notifiers changed."""
        stored = self.service.notifier_specs()
        specs = [row.spec for row in stored]
        if self.delivery is not None and specs == self._specs:
            return
        notifiers = [notifier for row in stored if (notifier := _build(row)) is not None]
        delivery = Delivery(
            notifiers,
            attempts=self.attempts,
            backoff_s=self.backoff_s,
            on_outcome=self.service.record_delivery,
            on_failure=self._on_failure,
        )
        delivery.start()
        old, self.delivery, self._specs = self.delivery, delivery, specs
        if old is not None:
            logger.info("alert notifiers changed: %s", ", ".join(delivery.notifiers) or "none")
            old.stop(REBUILD_DRAIN_S)

    def stop(self, deadline_s: float = 5.0) -> None:
        """Drain the delivery until ``deadline_s`` and give the lease up."""
        delivery, self.delivery, self._specs = self.delivery, None, []
        if delivery is not None:
            delivery.stop(deadline_s)
        try:
            self.lock.release()
        except Exception:
            logger.exception("releasing the alert evaluation lease failed; it expires")


def _build(row: StoredNotifier) -> Notifier | None:
    try:
        return build_notifier(row.name, row.kind, url=row.url, format=row.format)
    except Exception:
        # Stored ones were validated; a rule change in validation must not stop the rest.
        logger.exception("notifier %s cannot be built; skipped", row.name)
        return None


__all__ = ["EVALUATION_LOCK", "Evaluator"]
