"""``modelport endpoints``: create, list, show, set, delete, history."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from modelport.cli.common import console, endpoint_store, handle_errors, print_json
from modelport.registry.records import parse_ref
from modelport.vocabulary import Strategy

app = typer.Typer(help="Endpoints: a stable name serving a model version.", no_args_is_help=True)


@app.command()
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Endpoint name (the URL path segment).")],
    model: Annotated[str, typer.Option(help="NAME:VERSION to serve (NAME alone: latest).")],
) -> None:
    """Create an endpoint; running servers pick it up within a second."""
    model_name, version = parse_ref(model)
    endpoint = endpoint_store().create(name, model_name, version)
    console.print(
        f"endpoint [bold]{endpoint.name}[/] serves {endpoint.model}:{endpoint.primary_version}"
    )


@app.command("set")
@handle_errors
def set_version(
    name: Annotated[str, typer.Argument()],
    model: Annotated[str, typer.Option(help="NAME:VERSION to serve from now on.")],
) -> None:
    """Switch an endpoint's primary version at once (see `rollout` for safe ways)."""
    store = endpoint_store()
    model_name, version = parse_ref(model)
    current = store.get(name)
    if model_name != current.model:
        from modelport.errors import ModelportError

        raise ModelportError(f"endpoint {name!r} serves model {current.model!r}", field="model")
    resolved = store.registry.get(model_name, version)
    endpoint = store.update(name, action="set-version", primary_version=resolved.version)
    console.print(
        f"endpoint [bold]{endpoint.name}[/] now serves {endpoint.model}:{endpoint.primary_version}"
    )


@app.command("list")
@handle_errors
def list_endpoints(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All endpoints."""
    endpoints = endpoint_store().all()
    if as_json:
        print_json([e.to_dict() for e in endpoints])
        return
    table = Table("endpoint", "model", "version", "strategy", "revision", "updated")
    for e in endpoints:
        table.add_row(
            e.name,
            e.model,
            str(e.primary_version),
            str(e.policy.get("strategy", Strategy.PRIMARY)),
            str(e.revision),
            e.updated_at.isoformat()[:19],
        )
    console.print(table)


@app.command()
@handle_errors
def show(name: Annotated[str, typer.Argument()]) -> None:
    """One endpoint as JSON."""
    print_json(endpoint_store().get(name).to_dict())


@app.command()
@handle_errors
def delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete an endpoint (its logged predictions stay)."""
    endpoint_store().delete(name)
    console.print(f"deleted endpoint {name}")


@app.command()
@handle_errors
def history(name: Annotated[str, typer.Argument()]) -> None:
    """Audit trail of an endpoint."""
    store = endpoint_store()
    store.get(name)
    print_json(store.history(name))
