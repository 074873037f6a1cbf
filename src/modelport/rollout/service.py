"""What a user can do with rollouts; the HTTP API and the CLI both call only this.

Starting validates everything first (spec, versions, schemas, gates), then loads the
candidate and, for blue-green, smoke-tests it, and only then routes traffic to it, in
the same transaction that records the rollout. Nothing reaches a candidate that failed
any of that; the failed attempt is recorded as an aborted rollout with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from modelport.errors import (
    AliasNotFound,
    Conflict,
    ModelportError,
    RolloutNotFound,
    SmokeTestFailed,
    ValidationFailed,
)
from modelport.pipelines.spec import parse_pipeline, step_endpoint
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.endpoints import Endpoint, EndpointStore
from modelport.registry.service import Registry
from modelport.rollout.bluegreen import replay_rows, smoke_test
from modelport.rollout.candidate import check_compatible, load_candidate
from modelport.rollout.controller import Controller
from modelport.rollout.evidence import labels_for
from modelport.rollout.spec import CandidateChoice, RolloutSpec, build_spec, choose_candidate
from modelport.rollout.state import (
    ABORTED,
    ACTIVE,
    PAUSED,
    PROMOTED,
    ROLLED_BACK,
    Change,
    Rollout,
    RolloutStore,
)
from modelport.serving.policies import BlueGreenSpec, CanarySpec, PrimarySpec, ShadowSpec
from modelport.vocabulary import Phase, RolloutStrategy

_FORCE_ATTEMPTS = 5


class RolloutService:
    def __init__(
        self,
        registry: Registry,
        endpoints: EndpointStore,
        log: ParquetPredictionLog,
        feedback: FeedbackStore,
        *,
        store: RolloutStore | None = None,
        controller: Controller | None = None,
    ) -> None:
        self.registry = registry
        self.endpoints = endpoints
        self.log = log
        self.feedback = feedback
        self.store = store or RolloutStore(endpoints.db, endpoints)
        # The server passes the controller it runs, so a status read here sees its
        # warm windows; the CLI makes its own.
        self.controller = controller or Controller(self.store, registry, log, feedback)

    # -- start --------------------------------------------------------------------------
    def start(self, name: str, options: dict[str, Any], actor: str) -> Rollout:
        endpoint = self.endpoints.get(name)
        _refuse_pipeline(endpoint)
        spec = build_spec(options)
        choice = choose_candidate(options)
        version = self._resolve(endpoint.model, choice)
        candidate = self.registry.get(endpoint.model, version)
        primary = self.registry.get(endpoint.model, endpoint.primary_version)
        if candidate.version == primary.version:
            raise ValidationFailed(
                f"{candidate.ref} is already the primary of {name!r}", field="version"
            )
        check_compatible(primary, candidate, spec.parsed_gates, spec.sticky_key)
        self._refuse_if_live(name)
        evidence: dict[str, Any] = {"candidate": candidate.ref, "primary": primary.ref}
        if choice.alias is not None:
            evidence["alias"] = f"{endpoint.model}@{choice.alias}"
        try:
            predictor = load_candidate(self.registry, primary, candidate)
            if spec.strategy == "blue-green":
                source, frame, answers = replay_rows(
                    self.log, self.registry, name, primary, max(spec.smoke, 1)
                )
                smoke = smoke_test(
                    predictor, candidate, primary, frame, answers, source, spec.smoke_agreement
                )
                evidence["smoke"] = smoke.to_dict()
                if not smoke.passed:
                    raise SmokeTestFailed(
                        f"green {candidate.ref} failed its smoke test on {smoke.rows} "
                        f"{source}: " + "; ".join(smoke.problems),
                        field="smoke",
                    )
        except ModelportError as exc:
            self.store.create(
                endpoint,
                candidate.version,
                spec,
                phase=_first_phase(spec.strategy),
                change=Change(
                    action="abort",
                    actor=actor,
                    reason=exc.message,
                    evidence={**evidence, "error": exc.to_dict()},
                    status=ABORTED,
                ),
            )
            raise
        first = self._first_change(spec, candidate.version, primary.version)
        if choice.alias is not None:
            named = f"candidate {evidence['alias']} ({candidate.ref})"
            first = replace(first, reason=f"{first.reason}; {named}")
        return self.store.create(
            endpoint,
            candidate.version,
            spec,
            phase=_first_phase(spec.strategy),
            change=replace(first, actor=actor, evidence={**evidence, "spec": spec.to_dict()}),
        )

    def _resolve(self, model: str, choice: CandidateChoice) -> int | None:
        """The version ``choice`` names, reading its alias now (a later move of the
        alias does not change a rollout in progress)."""
        if choice.alias is None:
            return choice.version
        version = self.registry.aliases(model).get(choice.alias)
        if version is None:
            raise AliasNotFound(
                f"model {model!r} has no alias {choice.alias!r}; see modelport models "
                f"alias list {model}",
                field=choice.field,
            )
        return version

    def _refuse_if_live(self, name: str) -> None:
        try:
            live = self.store.active(name)
        except Conflict:
            return
        raise Conflict(
            f"endpoint {name!r} already has rollout {live.id} ({live.strategy}, {live.status}); "
            "promote or roll it back first",
            field="endpoint",
        )

    @staticmethod
    def _first_change(spec: RolloutSpec, candidate: int, baseline: int) -> Change:
        strategy = spec.strategy
        if strategy in (RolloutStrategy.SHADOW, RolloutStrategy.SHADOW_THEN_CANARY):
            return Change(
                action="start",
                actor="",
                reason=f"shadowing {spec.sample:.0%} of requests",
                weight=0.0,
                policy=ShadowSpec(candidate, spec.sample),
            )
        if strategy == RolloutStrategy.CANARY:
            weight = float(spec.steps[0])
            return Change(
                action="start",
                actor="",
                reason=f"canary at {weight:g}%",
                weight=weight,
                policy=CanarySpec(candidate, weight, spec.salt, spec.sticky_key),
            )
        return Change(
            action="start",
            actor="",
            reason=f"green {candidate} live; blue {baseline} kept loaded",
            weight=100.0,
            policy=BlueGreenSpec(blue=baseline, green=candidate),
            primary_version=candidate,
        )

    # -- by hand ------------------------------------------------------------------------
    def promote(self, name: str, actor: str, reason: str = "") -> Rollout:
        rollout = self.store.active(name)
        return self.store.transition(
            rollout,
            Change(
                action="promote",
                actor=actor,
                reason=reason or f"promoted by {actor}",
                evidence=rollout.verdicts,
                status=PROMOTED,
                policy=PrimarySpec(),
                primary_version=rollout.candidate,
            ),
        )

    def rollback(self, name: str, actor: str, reason: str = "") -> Rollout:
        rollout = self.store.active(name)
        return self.store.transition(
            rollout,
            Change(
                action="rollback",
                actor=actor,
                reason=reason or f"rolled back by {actor}",
                evidence=rollout.verdicts,
                status=ROLLED_BACK,
                policy=PrimarySpec(),
                primary_version=rollout.baseline,
            ),
        )

    def pause(self, name: str, actor: str, reason: str = "") -> Rollout:
        rollout = self.store.active(name)
        if rollout.status != ACTIVE:
            raise Conflict(f"rollout {rollout.id} on {name!r} is already paused")
        return self.store.transition(
            rollout,
            Change(action="pause", actor=actor, reason=reason or "paused", status=PAUSED),
        )

    def resume(self, name: str, actor: str, reason: str = "") -> Rollout:
        rollout = self.store.active(name)
        if rollout.status != PAUSED:
            raise Conflict(f"rollout {rollout.id} on {name!r} is not paused")
        # The step starts over: evidence from before the pause may no longer hold.
        return self.store.transition(
            rollout,
            Change(
                action="resume",
                actor=actor,
                reason=reason or "resumed; the step starts over",
                status=ACTIVE,
                restart_step=rollout.phase != "blue-green",
            ),
        )

    def end_for(self, name: str, actor: str, action: str) -> Rollout | None:
        """Roll back the rollout in progress on ``name``, if any, so a forced ``action``
        on the endpoint (``update``, ``delete``) can go ahead: the baseline is the
        primary again and the rollout's history says who ended it and why."""
        for _ in range(_FORCE_ATTEMPTS):
            try:
                rollout = self.store.active(name)
            except Conflict:
                return None
            change = Change(
                action="rollback",
                actor=actor,
                reason=f"rolled back by {actor} to force an endpoint {action}",
                evidence={**rollout.verdicts, "forced": action},
                status=ROLLED_BACK,
                policy=PrimarySpec(),
                primary_version=rollout.baseline,
            )
            try:
                return self.store.transition(rollout, change)
            except Conflict:
                continue  # the controller moved it meanwhile: read it again
        raise Conflict(
            f"the rollout on {name!r} kept changing; try the forced {action} again",
            field="endpoint",
        )

    # -- reading ------------------------------------------------------------------------
    def find(self, name: str, rollout_id: int | None = None) -> Rollout:
        self.endpoints.get(name)
        if rollout_id is not None:
            rollout = self.store.get(rollout_id)
            if rollout.endpoint != name:
                raise RolloutNotFound(f"rollout {rollout_id} is not on {name!r}", field="rollout")
            return rollout
        latest = self.store.latest(name)
        if latest is None:
            raise RolloutNotFound(f"endpoint {name!r} has had no rollout yet", field="rollout")
        return latest

    def status(self, name: str, fresh: bool = False) -> dict[str, Any]:
        """The current (or last) rollout; ``fresh`` analyses the log now (read-only)."""
        self.endpoints.get(name)
        latest = self.store.latest(name)
        body: dict[str, Any] = {"endpoint": name, "rollout": None}
        if latest is None:
            return body
        body["rollout"] = latest.to_dict()
        if fresh and latest.live:
            analysis = self.controller.analyse(latest)
            _, note = self.controller.decide(latest, analysis)
            body["rollout"]["verdicts"] = analysis.to_dict()
            body["rollout"]["note"] = note or latest.note
        return body

    def history(self, name: str, rollout_id: int | None = None) -> list[dict[str, Any]]:
        self.endpoints.get(name)
        return self.store.events(name, rollout_id)

    def analyses(
        self,
        name: str,
        rollout_id: int | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> dict[str, Any]:
        """The kept analysis rounds of a rollout (default: the latest), oldest first; an
        endpoint that has had no rollout answers ``rollout: None`` and no rounds."""
        self.endpoints.get(name)
        if rollout_id is None and self.store.latest(name) is None:
            return {"endpoint": name, "rollout": None, "analyses": []}
        rollout = self.find(name, rollout_id)
        rounds = self.store.analyses(rollout.id, since, limit)
        return {"endpoint": name, "rollout": rollout.id, "analyses": rounds}

    def report(
        self, name: str, rollout_id: int | None = None, slice_by: str | None = None
    ) -> dict[str, Any]:
        rollout = self.find(name, rollout_id)
        candidate = self.registry.get(rollout.model, rollout.candidate)
        # Here: the report's pandas work is imported only by what asks for a report.
        from modelport.rollout.report import shadow_report

        report = shadow_report(self.log, rollout, candidate, slice_by)
        endpoint = self.endpoints.get(name)
        if endpoint.part_of is not None:
            report["pipeline"] = self._pipeline_section(rollout, endpoint.part_of)
        return report

    def _pipeline_section(self, rollout: Rollout, pipeline: str) -> dict[str, Any]:
        """How the pipeline's final outputs compare by the arm that served the step."""
        spec = parse_pipeline(self.endpoints.get(pipeline).pipeline)
        step = rollout.endpoint.removeprefix(f"{pipeline}.")
        final = self.endpoints.get(step_endpoint(pipeline, spec.final.name))
        kind = self.registry.get(final.model, final.primary_version).output.kind
        labels = labels_for(self.feedback, final.name, rollout.created_at)
        from modelport.rollout.pipeline_report import pipeline_section

        return pipeline_section(
            self.log,
            rollout,
            pipeline=pipeline,
            step=step,
            final_step=spec.final.name,
            final_kind=kind,
            labels=labels,
        )


def _refuse_pipeline(endpoint: Endpoint) -> None:
    """A pipeline has no version of its own to roll out: each step rolls out on its own
    endpoint, the other steps left as they are."""
    if endpoint.pipeline is None:
        return
    steps = parse_pipeline(endpoint.pipeline).names
    raise ValidationFailed(
        f"endpoint {endpoint.name!r} is a pipeline: roll out one of its steps "
        f"({', '.join(steps)}) with step, e.g. --step {steps[-1]} or ?step={steps[-1]}",
        field="step",
    )


def _first_phase(strategy: str) -> Phase:
    if strategy == RolloutStrategy.CANARY:
        return Phase.CANARY
    if strategy == RolloutStrategy.BLUE_GREEN:
        return Phase.BLUE_GREEN
    return Phase.SHADOW
