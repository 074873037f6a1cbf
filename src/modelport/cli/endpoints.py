"""``modelport endpoints``: create, list, show, set, delete, history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from modelport.cli.common import console, endpoint_store, handle_errors, print_json, services
from modelport.errors import ValidationFailed
from modelport.names import check_name
from modelport.pipelines.show import pipeline_steps
from modelport.pipelines.spec import create_pipeline, load_pipeline_file
from modelport.registry.endpoints import Endpoint
from modelport.registry.records import parse_model_ref
from modelport.vocabulary import Strategy

app = typer.Typer(help="Endpoints: a stable name serving a model version.", no_args_is_help=True)

Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Roll back a rollout in progress on the endpoint first (audited)."
    ),
]


def _end_rollout(name: str, action: str) -> dict[str, Any]:
    """Roll back the endpoint's rollout in progress (a forced change); audit details."""
    ended = services().rollouts.end_for(name, "cli", action)
    if ended is None:
        return {}
    console.print(f"rolled back rollout {ended.id} ({ended.strategy}) on [bold]{name}[/]")
    return {"forced": True, "ended_rollout": ended.id}


@app.command()
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Endpoint name (the URL path segment).")],
    model: Annotated[
        str | None,
        typer.Option(
            help="NAME:VERSION to serve (NAME alone: the newest not archived), or "
            "NAME@ALIAS to follow an alias."
        ),
    ] = None,
    pipeline: Annotated[
        Path | None,
        typer.Option(
            help='A pipeline file (TOML with [[step]] tables, or JSON with "steps"): '
            "several models in a chain, each step served as endpoint NAME.STEP.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Create an endpoint; running servers pick it up within a second."""
    check_name("endpoint", name, field="name")
    if (model is None) == (pipeline is None):
        raise ValidationFailed("give either --model or --pipeline", field="model")
    store = endpoint_store()
    if pipeline is not None:
        if not pipeline.is_file():
            raise ValidationFailed(f"pipeline file {pipeline} does not exist", field="pipeline")
        spec = load_pipeline_file(pipeline)
        endpoint = create_pipeline(store.registry, store, name, spec, "cli")
        steps = ", ".join(
            f"{step['name']}={step['model']}:{step['version']}"
            for step in pipeline_steps(store, endpoint)["steps"]
        )
        console.print(f"pipeline [bold]{endpoint.name}[/] serves {steps}")
        return
    assert model is not None
    ref = parse_model_ref(model)
    endpoint = store.create(name, ref.name, ref.version, alias=ref.alias)
    console.print(f"endpoint [bold]{endpoint.name}[/] serves {_serves(endpoint)}")


def _serves(endpoint: Endpoint) -> str:
    version = f"{endpoint.model}:{endpoint.primary_version}"
    return version if endpoint.follows is None else f"{version} (follows {endpoint.follows})"


@app.command("set")
@handle_errors
def set_version(
    name: Annotated[str, typer.Argument()],
    model: Annotated[
        str, typer.Option(help="NAME:VERSION to serve from now on, or NAME@ALIAS to follow.")
    ],
    force: Force = False,
) -> None:
    """Switch an endpoint's primary version at once (see `rollout` for safe ways).

    Refused while a rollout is in progress on the endpoint, unless --force."""
    store = endpoint_store()
    ref = parse_model_ref(model)
    current = store.get(name)
    if ref.name != current.model:
        raise ValidationFailed(f"endpoint {name!r} serves model {current.model!r}", field="model")
    resolved = store.registry.resolve(ref, servable=True)
    details = _end_rollout(name, "update") if force else {}
    endpoint = store.update(
        name,
        action="set-version",
        primary_version=None if ref.alias else resolved.version,
        details=details,
        follow=ref.alias,
        unfollow=ref.alias is None,
    )
    console.print(f"endpoint [bold]{endpoint.name}[/] now serves {_serves(endpoint)}")


@app.command("list")
@handle_errors
def list_endpoints(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All endpoints."""
    endpoints = endpoint_store().all()
    if as_json:
        print_json([e.to_dict() for e in endpoints])
        return
    table = Table("endpoint", "model", "version", "follows", "strategy", "revision", "updated")
    for e in endpoints:
        if e.pipeline is not None:
            steps = " -> ".join(str(step.get("name")) for step in e.pipeline.get("steps", []))
            table.add_row(e.name, f"pipeline: {steps}", "-", "-", "-", str(e.revision),
                          e.updated_at.isoformat()[:19])  # fmt: skip
            continue
        table.add_row(
            e.name,
            e.model,
            str(e.primary_version),
            e.follows or "-",
            str(e.policy.get("strategy", Strategy.PRIMARY)),
            str(e.revision),
            e.updated_at.isoformat()[:19],
        )
    console.print(table)


@app.command()
@handle_errors
def show(name: Annotated[str, typer.Argument()]) -> None:
    """One endpoint as JSON; a pipeline with its steps (versions, inputs, condition,
    rollout in progress, newest monitoring verdict)."""
    store = endpoint_store()
    endpoint = store.get(name)
    body = endpoint.to_dict()
    if endpoint.pipeline is not None:
        body["pipeline"] = pipeline_steps(store, endpoint)
    print_json(body)


@app.command()
@handle_errors
def delete(name: Annotated[str, typer.Argument()], force: Force = False) -> None:
    """Delete an endpoint (its logged predictions stay).

    Refused while a rollout is in progress on the endpoint, unless --force."""
    store = endpoint_store()
    store.get(name)
    details = _end_rollout(name, "delete") if force else {}
    store.delete(name, details=details)
    console.print(f"deleted endpoint {name}")


@app.command()
@handle_errors
def history(name: Annotated[str, typer.Argument()]) -> None:
    """Audit trail of an endpoint."""
    store = endpoint_store()
    store.get(name)
    print_json(store.history(name))
