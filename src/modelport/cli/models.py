"""``modelport models``: register, list, show; aliases, lineage, archiving, tags, the ONNX
fast path, history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modelport.cli.common import (
    console,
    control,
    endpoint_store,
    handle_errors,
    print_json,
    registry,
    services,
)
from modelport.cli.model_views import (
    fast_path_lines,
    lineage_table,
    version_detail,
    versions_table,
)
from modelport.errors import ModelportError, ValidationFailed
from modelport.registry.records import parse_model_ref
from modelport.registry.service import Registration
from modelport.schema import InputSchema

app = typer.Typer(help="Register and inspect model versions.", no_args_is_help=True)
alias_app = typer.Typer(
    help="Aliases: named pointers (churn@champion) at versions; endpoints may follow one.",
    no_args_is_help=True,
)
app.add_typer(alias_app, name="alias")

Name = Annotated[str, typer.Argument(help="Model name, e.g. churn.")]
Version = Annotated[int, typer.Argument(help="Version number.", min=1)]
AsJson = Annotated[bool, typer.Option("--json")]


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationFailed(f"a tag must be key=value, got {pair!r}", field="tag")
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
    parent: Annotated[
        str | None,
        typer.Option(help="The version this one derives from (lineage), e.g. churn:3."),
    ] = None,
    fast_path: Annotated[
        bool,
        typer.Option(
            "--fast-path/--no-fast-path",
            help="Convert a scikit-learn model to ONNX and check it against the reference; "
            "if it agrees, onnxruntime serves it.",
        ),
    ] = True,
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
            parent=parent,
            fast_path=fast_path,
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
    for line in fast_path_lines(version):
        console.print(line)


@app.command("list")
@handle_errors
def list_models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All registered models."""
    models = registry().list_models()
    if as_json:
        print_json(models)
        return
    table = Table("model", "versions", "latest", "archived", "aliases", "created")
    for model in models:
        aliases = ", ".join(f"{a}→{v}" for a, v in model["aliases"].items())
        table.add_row(
            model["name"],
            str(model["versions"]),
            str(model["latest"]),
            str(model["archived"] or "-"),
            aliases or "-",
            model["created_at"][:19],
        )
    console.print(table)


@app.command()
@handle_errors
def show(
    ref: Annotated[str, typer.Argument(help="NAME (all versions), NAME:VERSION or NAME@ALIAS.")],
    as_json: AsJson = False,
) -> None:
    """Versions of a model, or one version in detail."""
    model_ref = parse_model_ref(ref)
    reg = registry()
    if model_ref.version is None and model_ref.alias is None:
        versions = reg.versions(model_ref.name)
        if as_json:  # each version names its aliases
            print_json([v.to_dict() for v in versions])
            return
        console.print(versions_table(model_ref.name, versions))
        return
    found = reg.resolve(model_ref)
    if as_json:
        print_json(found.to_dict())
        return
    version_detail(console, found)


@alias_app.command("set")
@handle_errors
def alias_set(
    name: Name,
    alias: Annotated[str, typer.Argument(help="Alias name, e.g. champion.")],
    version: Version,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Roll back a rollout in progress on an endpoint following the alias first.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Point NAME@ALIAS at VERSION; endpoints following it move there at once.

    Refused while a following endpoint has a rollout in progress, unless --force."""

    def end_rollout(endpoint: str) -> int | None:
        ended = services().rollouts.end_for(endpoint, "cli", "alias-move")
        if ended is None:
            return None
        console.print(f"rolled back rollout {ended.id} ({ended.strategy}) on [bold]{endpoint}[/]")
        return ended.id

    move = control().aliases.set(
        name, alias, version, actor="cli", end_rollout=end_rollout if force else None
    )
    if as_json:
        print_json(move.to_dict())
        return
    before = "new" if move.previous is None else f"was {move.previous}"
    console.print(f"[bold]{name}@{alias}[/] → {name}:{version} ({before})")
    for endpoint in move.moved:
        console.print(f"endpoint [bold]{endpoint}[/] now serves {name}:{version}")


@alias_app.command("delete")
@handle_errors
def alias_delete(name: Name, alias: Annotated[str, typer.Argument(help="Alias name.")]) -> None:
    """Remove NAME@ALIAS (refused while an endpoint follows it)."""
    removed = control().aliases.delete(name, alias, actor="cli")
    console.print(f"deleted alias {name}@{alias} (was {name}:{removed.version})")


@alias_app.command("list")
@handle_errors
def alias_list(name: Name, as_json: AsJson = False) -> None:
    """The aliases of NAME, their versions and the endpoints following them."""
    aliases = control().aliases.list(name)
    if as_json:
        print_json([a.to_dict() for a in aliases])
        return
    table = Table("alias", "version", "followed by", "updated", "by", title=name)
    for a in aliases:
        table.add_row(
            a.alias,
            str(a.version),
            ", ".join(a.endpoints) or "-",
            a.updated_at.isoformat()[:19],
            a.updated_by,
        )
    console.print(table)


@app.command()
@handle_errors
def lineage(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION or NAME@ALIAS, e.g. churn:4.")],
    as_json: AsJson = False,
) -> None:
    """The chain of parents of a version, with each one's data window and holdout metrics."""
    found = registry().resolve(parse_model_ref(ref))
    chain = control().catalog.lineage(found.name, found.version)
    if as_json:
        print_json({"model": found.name, "version": found.version, "chain": chain})
        return
    console.print(lineage_table(found.ref, chain))


@app.command()
@handle_errors
def archive(name: Name, version: Version, as_json: AsJson = False) -> None:
    """Archive NAME VERSION: it can no longer be served (refused while an endpoint,
    rollout or alias points at it)."""
    found = control().catalog.archive(name, version, actor="cli")
    if as_json:
        print_json(found.to_dict())
        return
    console.print(f"archived [bold]{found.ref}[/]")


@app.command()
@handle_errors
def unarchive(name: Name, version: Version, as_json: AsJson = False) -> None:
    """Make an archived version servable again."""
    found = control().catalog.unarchive(name, version, actor="cli")
    if as_json:
        print_json(found.to_dict())
        return
    console.print(f"unarchived [bold]{found.ref}[/]")


@app.command()
@handle_errors
def tag(
    name: Name,
    version: Version,
    pairs: Annotated[
        list[str] | None, typer.Argument(help="key=value tags to set, e.g. team=risk.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="A tag to remove, repeatable.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Set and remove tags of NAME VERSION (audited)."""
    if not pairs and not remove:
        raise ValidationFailed("give key=value tags to set or --remove KEY", field="tags")
    found = control().catalog.tag(
        name, version, set_tags=_tags(pairs or []), remove=remove or [], actor="cli"
    )
    if as_json:
        print_json(found.to_dict())
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items())) or "none"
    console.print(f"[bold]{found.ref}[/] tags: {shown}")


@app.command("fast-path")
@handle_errors
def fast_path_command(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION or NAME@ALIAS, e.g. churn:3.")],
    on: Annotated[
        bool, typer.Option("--on", help="Serve with onnxruntime when the check passed.")
    ] = False,
    off: Annotated[bool, typer.Option("--off", help="Serve with scikit-learn.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Convert and check again against the stored reference sample."
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show, switch or re-check the ONNX fast path of a scikit-learn version.

    Running servers reload the version on its new runtime within
    server.policy_refresh_s."""
    from modelport.registry.fast_paths import FastPaths, refuse_flavor

    chosen = [flag for flag, given in (("--on", on), ("--off", off), ("--check", check)) if given]
    if len(chosen) > 1:
        raise ValidationFailed(f"give one of --on, --off, --check, not {' and '.join(chosen)}",
                               field="fast_path")  # fmt: skip
    found = registry().resolve(parse_model_ref(ref))
    reloaded: list[str] = []
    paths = FastPaths(endpoint_store())
    if on or off:
        found, reloaded = paths.set_enabled(found.name, found.version, on, actor="cli")
    elif check:
        with console.status(f"converting {found.ref} and checking it against its reference"):
            found, reloaded = paths.recheck(found.name, found.version, actor="cli")
    else:
        refuse_flavor(found)
    if as_json:
        view = found.to_dict()["fast_path"]
        print_json({"model": found.name, "version": found.version, "fast_path": view,
                    "reloaded": reloaded})  # fmt: skip
        return
    for line in fast_path_lines(found):
        console.print(line)
    for endpoint in reloaded:
        console.print(f"endpoint [bold]{endpoint}[/] reloads {found.ref}")


@app.command()
@handle_errors
def history(
    name: Name,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """The model's audit trail (registrations, alias moves, archiving, tags), newest first."""
    print_json(control().catalog.history(name, limit))
