"""The rollout options a command shares with ``rollout start`` (``retrain`` and
``retrain policy set`` pass them on to the rollout their retrain starts)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

PipelineStep = Annotated[
    str | None,
    typer.Option("--step", help="The pipeline step to act on (ENDPOINT is then a pipeline)."),
]
Steps = Annotated[
    str | None, typer.Option(help="Rollout: canary weights in percent, e.g. 5,25,50,100.")
]
StepEvery = Annotated[str | None, typer.Option(help="Rollout: step length in time, e.g. 10m.")]
StepAfter = Annotated[
    str | None, typer.Option(help="Rollout: step length in requests, e.g. 2000req.")
]
ShadowFor = Annotated[
    str | None, typer.Option(help="Rollout: shadow this long first (10m or 2000req).")
]
Gates = Annotated[
    list[str] | None,
    typer.Option(help='Rollout gate, repeatable, e.g. "accuracy>=primary-0.02".'),
]
MinSamples = Annotated[
    int | None, typer.Option(help="Rollout: observations each gate needs to decide.")
]


def rollout_options(**given: Any) -> dict[str, Any]:
    """The options given (``gate`` read as ``gates``), without the ones left out."""
    if "gate" in given:
        given["gates"] = given.pop("gate") or None
    return {key: value for key, value in given.items() if value is not None}
