"""The server's retraining policies: checked every ``retrain.interval_s``, each training
run in a worker process (:mod:`.jobs`), its version followed through its rollout.

One round, by one server per store at a time (the ``retrain-policies`` lease), for each
enabled policy in turn::

    alert firing? -> cooldown over? -> enough new labels? -> attempts left this firing?
        -> no job running? -> no rollout live?  -> start a job   (started)
    job ends                                    -> trained | failed
    the version's rollout ends                  -> promoted | rolled_back

Each "no" is a ``skipped`` event naming its cause, recorded once per change of cause
so a policy waiting for a day leaves one line, not one per round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from modelport.alerts.lifecycle import AlertState
from modelport.alerts.store import AlertStore
from modelport.errors import Conflict, ModelportError, RolloutNotFound
from modelport.retraining.jobs import OnFinished, RetrainJob
from modelport.retraining.policy import Decision, Event, Policy, PolicyStore
from modelport.retraining.request import RetrainRequest
from modelport.rollout.state import RolloutStore
from modelport.store.locks import StoreLock
from modelport.store.tables import utcnow
from modelport.vocabulary import RolloutStatus

logger = logging.getLogger(__name__)

# The lease the server checking policies holds; renewed every round.
POLICY_LOCK = "retrain-policies"
# How long a job's end waits for its start to be recorded (the start is written right
# after the job is launched; a trainer failing at once could otherwise come first).
START_RECORDED_S = 30.0
STARTED: tuple[Decision, ...] = ("started",)
TRAINED: tuple[Decision, ...] = ("trained",)


class JobRunner(Protocol):
    """What the policies need of :class:`~modelport.retraining.jobs.RetrainJobs`."""

    def start(self, request: RetrainRequest, on_finished: OnFinished | None = None) -> RetrainJob:
        """Start the worker process and return at once."""
        ...

    def running(self, endpoint: str) -> RetrainJob | None:
        """The endpoint's job still running, if any."""
        ...


class PolicyService:
    """Set, read and run retraining policies."""

    def __init__(
        self,
        store: PolicyStore,
        jobs: JobRunner,
        rollouts: RolloutStore,
        *,
        interval_s: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.rollouts = rollouts
        self.alerts = AlertStore(store.db)
        self.clock = clock
        self.lock = StoreLock(store.db, POLICY_LOCK, ttl_s=max(4 * interval_s, 60.0))

    # -- administration ------------------------------------------------------------------
    def set(self, endpoint: str, data: Mapping[str, Any], *, by: str) -> Policy:
        return self.store.put(endpoint, data, by=by, at=self.clock())

    def get(self, endpoint: str) -> Policy:
        return self.store.get(endpoint)

    def disable(self, endpoint: str, *, by: str) -> Policy:
        return self.store.disable(endpoint, by=by, at=self.clock())

    def history(self, endpoint: str, limit: int = 100) -> list[Event]:
        self.store.get(endpoint)
        return self.store.history(endpoint, limit)

    def stop(self) -> None:
        """Give the policy lease up (a stopping server), so another takes over at once."""
        self.lock.release()

    # -- the background round ------------------------------------------------------------
    def round(self) -> None:
        """Check every policy once (only while holding the store's policy lease)."""
        if not self.lock.acquire():
            return  # another server checks policies; keep the lease it holds
        for policy in self.store.policies():
            try:
                self._follow(policy)
                if policy.enabled:
                    self._check(policy)
            except Exception:
                logger.exception("retraining policy of %s failed this round", policy.endpoint)

    def _check(self, policy: Policy) -> None:
        endpoint, now = policy.endpoint, self.clock()
        firing_since = self._firing_since(policy)
        if firing_since is None:
            self._skip(policy, "not_firing", f"alert {policy.on_alert!r} is not firing")
            return
        started = self.store.last(endpoint, STARTED)
        if started is not None and now < started.at + timedelta(seconds=policy.cooldown_s):
            until = started.at + timedelta(seconds=policy.cooldown_s)
            self._skip(policy, "cooldown", f"cooling down until {until.isoformat()}")
            return
        trained = self.store.last(endpoint, TRAINED)
        since = trained.at if trained else now - timedelta(seconds=policy.since_s)
        labels = self.store.new_labels(endpoint, since)
        if labels < policy.min_labels:
            self._skip(
                policy,
                "labels",
                f"{labels} new labels since {since.isoformat()}, {policy.min_labels} needed",
            )
            return
        attempts = self.store.attempts(endpoint, firing_since)
        if attempts >= policy.max_attempts:
            self._skip(
                policy,
                "attempts",
                f"{attempts} of {policy.max_attempts} attempts made since the alert "
                f"fired at {firing_since.isoformat()}",
            )
            return
        job = self.jobs.running(endpoint)
        if job is not None:
            self._skip(policy, "running", f"retrain job {job.job} is still running")
            return
        live = self.rollouts.latest(endpoint)
        if live is not None and live.live:
            self._skip(policy, "rollout_live", f"rollout {live.id} is still live")
            return
        self._start(policy, attempts + 1, firing_since, labels)

    def _firing_since(self, policy: Policy) -> datetime | None:
        """When the rule's current firing for this endpoint began (None: not firing)."""
        starts = [
            alert.since
            for alert in self.alerts.alerts(policy.on_alert)
            if alert.state == AlertState.FIRING
            and alert.labels.get("endpoint", policy.endpoint) == policy.endpoint
            and alert.since is not None
        ]
        return min(starts) if starts else None

    def _start(self, policy: Policy, attempt: int, firing_since: datetime, labels: int) -> None:
        recorded = threading.Event()

        def on_finished(job: RetrainJob) -> None:
            recorded.wait(START_RECORDED_S)
            self._finished(policy, job, attempt, firing_since)

        try:
            job = self.jobs.start(policy.request(attempt, firing_since), on_finished)
        except Conflict as exc:  # a retrain started over HTTP meanwhile, or a stopping server
            self._skip(policy, "running", f"the retrain could not start: {exc.message}")
            return
        except ModelportError as exc:
            # Not an attempt (nothing ran): tried again next round, recorded once.
            self._once(policy, "failed", "start", f"the retrain could not start: {exc.message}")
            return
        try:
            self._record(
                policy,
                "started",
                f"alert {policy.on_alert!r} firing, {labels} new labels",
                job=job.job,
                attempt=attempt,
                firing_since=firing_since,
            )
        finally:
            recorded.set()

    def _finished(
        self, policy: Policy, job: RetrainJob, attempt: int, firing_since: datetime
    ) -> None:
        outcome = job.outcome
        if job.state == "done" and outcome is not None:
            rollout = (
                f", rollout {outcome.rollout_id} started" if outcome.rollout_id else ", no rollout"
            )
            self._record(
                policy,
                "trained",
                f"version {outcome.version} trained from version {outcome.parent}{rollout}",
                job=job.job,
                version=outcome.version,
                rollout_id=outcome.rollout_id,
                attempt=attempt,
                firing_since=firing_since,
            )
        else:
            self._record(
                policy,
                "failed",
                job.error or f"the retrain job ended {job.state}",
                job=job.job,
                attempt=attempt,
                firing_since=firing_since,
            )

    def _follow(self, policy: Policy) -> None:
        """Record how the rollouts of the versions the policy trained ended."""
        for trained in self.store.unfollowed(policy.endpoint):
            assert trained.rollout_id is not None
            try:
                rollout = self.rollouts.get(trained.rollout_id)
            except RolloutNotFound:
                continue
            if rollout.live:
                continue
            decision: Decision = (
                "promoted" if rollout.status == RolloutStatus.PROMOTED else "rolled_back"
            )
            why = f": {rollout.note}" if rollout.note else ""
            self._record(
                policy,
                decision,
                f"rollout {rollout.id} of version {rollout.candidate} {rollout.status}{why}",
                job=trained.job,
                version=trained.version,
                rollout_id=rollout.id,
                attempt=trained.attempt,
                firing_since=trained.firing_since,
            )

    def _skip(self, policy: Policy, cause: str, reason: str) -> None:
        self._once(policy, "skipped", cause, reason)

    def _once(self, policy: Policy, decision: Decision, cause: str, reason: str) -> None:
        """Record ``decision`` unless the last one was the same with the same cause: the
        history keeps one line per change, not one per round."""
        last = self.store.last(policy.endpoint)
        if last is not None and last.decision == decision and last.cause == cause:
            return
        self._record(policy, decision, reason, cause=cause)

    def _record(self, policy: Policy, decision: Decision, reason: str, **fields: Any) -> None:
        event = replace(
            Event(endpoint=policy.endpoint, decision=decision, at=self.clock(), reason=reason),
            **fields,
        )
        self.store.record(event, policy_id=policy.id, actor=f"policy:{policy.endpoint}")
        logger.info("retraining policy of %s: %s (%s)", policy.endpoint, decision, reason)
