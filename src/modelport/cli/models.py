"""``modelport models``: register, list, show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modelport.cli.common import console, handle_errors, print_json, registry
from modelport.errors import ModelportError
from modelport.registry.records import parse_ref
from modelport.registry.service import Registration
from modelport.schema import InputSchema

app = typer.Typer(help="Register and inspect model versions.", no_args_is_help=True)


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ModelportError(f"--tag must be key=value, got {pair!r}", field="tag")
        tags[key] = value
    return tags


def _schema(path: Path | None) -> InputSchema | None:
    if path is None:
        return None
    try:
        return InputSchema.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelportError(f"cannot use schema file {path}: {exc}", field="schema") from exc


@app.command()
@handle_errors
def register(
    name: Annotated[str, typer.Argument(help="Model name, e.g. churn.")],
    source: Annotated[
        str, typer.Argument(help="Artifact file, or module:attr / file.py:attr for python.")
    ],
    flavor: Annotated[str, typer.Option(help="sklearn, onnx or python.")] = "sklearn",
    reference: Annotated[
        Path | None, typer.Option(help="Reference data (.parquet/.csv), e.g. the training set.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Label column in the reference.")] = None,
    schema: Annotated[Path | None, typer.Option(help="Explicit input schema (JSON).")] = None,
    description: Annotated[str, typer.Option()] = "",
    tag: Annotated[list[str] | None, typer.Option(help="key=value, repeatable.")] = None,
    trust_pickle: Annotated[
        bool, typer.Option("--trust-pickle", help="Allow joblib/pickle (runs code on load).")
    ] = False,
    trust_type: Annotated[
        list[str] | None,
        typer.Option(
            help="A type skops may load besides its own defaults (e.g. "
            "sklearn.tree._tree.Tree), repeatable."
        ),
    ] = None,
    trust_code: Annotated[
        bool,
        typer.Option("--trust-code", help="Allow the python flavor (imports and runs SOURCE)."),
    ] = False,
    strict_categories: Annotated[
        bool, typer.Option("--strict-categories", help="Refuse categories unseen in reference.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Register a new version of NAME (versions count up from 1)."""
    version = registry().register(
        Registration(
            name=name,
            source=source,
            flavor=flavor,
            reference=reference,
            target=target,
            schema=_schema(schema),
            description=description,
            tags=_tags(tag or []),
            trust_pickle=trust_pickle,
            trust_code=trust_code,
            trusted_types=trust_type or [],
            strict_categories=strict_categories,
        )
    )
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"registered [bold]{version.ref}[/] ({version.flavor}, "
        f"{len(version.input_schema.features)} features, {version.output.kind}, "
        f"sha256 {version.artifact_sha256[:12]})"
    )


@app.command("list")
@handle_errors
def list_models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All registered models."""
    models = registry().list_models()
    if as_json:
        print_json(models)
        return
    table = Table("model", "versions", "latest", "created")
    for model in models:
        table.add_row(
            model["name"], str(model["versions"]), str(model["latest"]), model["created_at"][:19]
        )
    console.print(table)


@app.command()
@handle_errors
def show(
    ref: Annotated[str, typer.Argument(help="NAME (all versions) or NAME:VERSION.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Versions of a model, or one version in detail."""
    name, version = parse_ref(ref)
    reg = registry()
    if version is None:
        versions = reg.versions(name)
        if as_json:
            print_json([v.to_dict() for v in versions])
            return
        table = Table(
            "version",
            "flavor",
            "output",
            "features",
            "reference rows",
            "created",
            "description",
            title=name,
        )
        for v in versions:
            table.add_row(
                str(v.version),
                v.flavor,
                v.output.kind,
                str(len(v.input_schema.features)),
                str(v.reference_rows or "-"),
                v.created_at.isoformat()[:19],
                v.description,
            )
        console.print(table)
        return
    found = reg.get(name, version)
    if as_json:
        print_json(found.to_dict())
        return
    console.print(f"[bold]{found.ref}[/]  {found.flavor}  sha256 {found.artifact_sha256}")
    console.print(
        f"output: {found.output.kind}"
        + (f" classes {found.output.classes}" if found.output.classes else "")
    )
    table = Table("feature", "kind", "nullable", "categories")
    for f in found.input_schema.features:
        cats = ", ".join(f.categories[:8]) + (" …" if len(f.categories) > 8 else "")
        table.add_row(f.name, f.kind, "yes" if f.nullable else "no", cats)
    console.print(table)
