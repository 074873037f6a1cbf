"""Versions an endpoint may be switched to, kept loaded so the switch loads nothing.

An endpoint that follows an alias (``churn@champion``) moves when the alias moves, to a
version the model's aliases usually already name (``challenger``) or back to the one it
served before. The data plane keeps those loaded and warmed up next to the endpoint's
runners, so a move is served as soon as the server sees the endpoint's new revision: at
once in the process that moved it, within ``server.policy_refresh_s`` in every other.
Loading happens in the data plane's refresh loop, never on a request's path; a version
that fails to load is served cold if the endpoint is ever pointed at it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Set
from typing import TYPE_CHECKING

from modelport.errors import ModelportError

if TYPE_CHECKING:
    from modelport.serving.dataplane import DataPlane, EndpointRuntime

logger = logging.getLogger(__name__)

# The kind of runner a primary answers with (``serving/runner.py``).
PRIMARY_KIND = "any"


def warm_versions(runtime: EndpointRuntime, named: Set[int]) -> set[int]:
    """What ``runtime`` keeps loaded besides what it serves: the versions its model's
    aliases name (``named``) and its previous primary, while it follows an alias."""
    if runtime.endpoint.alias is None or not runtime.ready:
        return set()
    wanted = set(named)
    if runtime.previous_primary is not None:
        wanted.add(runtime.previous_primary)
    return wanted - {version for version, kind in runtime.runners if kind == PRIMARY_KIND}


def carry_warm(previous: EndpointRuntime, runtime: EndpointRuntime) -> None:
    """Hand what ``previous`` had loaded but ``runtime`` does not serve to ``runtime``'s
    warm runners (the next ``keep_warm`` drops what it does not want)."""
    before = previous.endpoint.primary_version
    if runtime.endpoint.primary_version != before:
        runtime.previous_primary = before
    else:
        runtime.previous_primary = previous.previous_primary
    if runtime.endpoint.alias is None:
        return
    for key, runner in (*previous.warm.items(), *previous.runners.items()):
        # A runner left behind is not closed: a request may still be answering with it.
        if key[1] == PRIMARY_KIND and key not in runtime.runners:
            runtime.warm.setdefault(key, runner)


async def keep_warm(plane: DataPlane) -> None:
    """Load what each endpoint should keep warm and drop what it no longer should."""
    followed = {r.endpoint.model for r in plane.runtimes.values() if r.endpoint.alias}
    named: dict[str, set[int]] = {}
    for model in sorted(followed):
        try:
            named[model] = set((await asyncio.to_thread(plane.registry.aliases, model)).values())
        except ModelportError:
            named[model] = set()  # deleted meanwhile: its endpoints go at the next refresh
    for name, runtime in list(plane.runtimes.items()):
        wanted = warm_versions(runtime, named.get(runtime.endpoint.model, set()))
        for key in [key for key in runtime.warm if key[0] not in wanted]:
            del runtime.warm[key]
        loaded = {version for version, _ in runtime.warm}
        for version in sorted(wanted - loaded - runtime.warm_failed):
            try:
                runner = await asyncio.to_thread(
                    plane.load_runner, runtime.endpoint, version, PRIMARY_KIND, servable=True
                )
            except Exception as exc:
                runtime.warm_failed.add(version)
                logger.warning(
                    "endpoint %s: version %d could not be loaded ahead (%s); it loads if "
                    "the endpoint is pointed at it",
                    name,
                    version,
                    exc,
                )
                continue
            # The endpoint may have changed while the version loaded: keep the runner
            # for what serves the endpoint now, if that still wants it.
            current = plane.runtimes.get(name)
            if current is None:
                continue
            current_wants = warm_versions(current, named.get(current.endpoint.model, set()))
            if version in current_wants:
                current.warm.setdefault((version, PRIMARY_KIND), runner)


__all__ = ["PRIMARY_KIND", "carry_warm", "keep_warm", "warm_versions"]
