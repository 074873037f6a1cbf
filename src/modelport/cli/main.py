"""The ``modelport`` command."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

# Typer (0.29 on) carries its own copy of Click; its groups take that copy's types.
from typer import _click as click

from modelport import __version__
from modelport.cli.common import console, errors, handle_errors, print_json, settings, state
from modelport.defaults import CONFIG_FILE, MAX_WORKERS
from modelport.errors import ModelportError


@dataclass(frozen=True)
class Lazy:
    """A command group (a Typer app) or a single command (a function) that is imported
    only when it runs: ``modelport --help`` then lists every command without importing
    pandas, scipy or SQLAlchemy. ``summary`` is what the list shows (a test keeps it
    the start of the command's own help)."""

    module: str
    attribute: str
    summary: str
    group: bool = True

    def load(self, name: str) -> click.Command:
        target = getattr(importlib.import_module(self.module), self.attribute)
        if self.group:
            command: click.Command = typer.main.get_group(target)
        else:
            single = typer.Typer()
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command


LAZY = {
    "models": Lazy("modelport.cli.models", "app", "Register and inspect model versions."),
    "endpoints": Lazy(
        "modelport.cli.endpoints", "app", "Endpoints: a stable name serving a model version."
    ),
    "logs": Lazy("modelport.cli.logs", "logs_app", "Read the prediction log."),
    "feedback": Lazy(
        "modelport.cli.logs", "feedback_app", "Ground-truth labels for logged predictions."
    ),
    "rollout": Lazy(
        "modelport.cli.rollout", "app", "Roll out a new version safely: shadow, canary, blue-green."
    ),
    "monitor": Lazy("modelport.cli.monitor", "app", "Monitor drift, data quality and performance."),
    "alerts": Lazy(
        "modelport.cli.alerts", "app", "Alert rules, alerts, silences and their history."
    ),
    "notifiers": Lazy("modelport.cli.alerts", "notifiers_app", "Where alert notifications go."),
    "grafana-dashboard": Lazy(
        "modelport.cli.exports",
        "grafana_dashboard",
        "Write a Grafana dashboard (JSON) over the metrics modelport exports.",
        group=False,
    ),
    "batch": Lazy(
        "modelport.cli.batch",
        "batch",
        "Score a file through ENDPOINT in chunks; every scored row is logged with role batch.",
        group=False,
    ),
    "retrain": Lazy(
        "modelport.cli.retrain",
        "app",
        "Train a new version of an endpoint's model from its logged, labelled traffic.",
    ),
}


class LazyCommands(typer.core.TyperGroup):
    """The root group: the commands in :data:`LAZY` load when one of them runs; listing
    them (``--help``) shows their summaries and loads nothing. Click has no lazy group of
    its own (its documentation shows this same pattern as a recipe)."""

    listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = LAZY.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        if self.listing:
            return typer.core.TyperCommand(cmd_name, help=lazy.summary, short_help=lazy.summary)
        return lazy.load(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyCommands,
    help="modelport: serve, deploy safely, log, monitor and retrain ML models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"modelport {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help=f"Settings file (default {CONFIG_FILE}).")
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    state.config = config
    from modelport.server import restrict_file_modes

    # Before the command writes anything (init writes modelport.toml and the store).
    restrict_file_modes()


@app.command()
@handle_errors
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite modelport.toml.")] = False,
) -> None:
    """Create modelport.toml and .modelport/ (SQLite, artifacts, prediction log)."""
    from modelport.config import DEFAULT_TOML

    path = Path(CONFIG_FILE)
    if path.exists() and not force:
        console.print(f"{CONFIG_FILE} exists; keeping it")
    else:
        path.write_text(DEFAULT_TOML)
        console.print(f"wrote {CONFIG_FILE}")
    current = settings()
    current.home.mkdir(parents=True, exist_ok=True)
    from modelport.store.db import Database

    Database(current.database_url).dispose()
    console.print(f"store ready at {current.home}/ ({current.database_url})")


@app.command()
@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="Server processes on the one port (default server.workers, 1); more than "
            "one start a supervisor that restarts a worker that dies.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve a non-loopback address with no auth tokens (anyone reaching it "
            "can deploy models).",
        ),
    ] = False,
) -> None:
    """Serve every endpoint over HTTP until SIGTERM/SIGINT, then flush the log and stop.

    With no auth tokens configured it binds only a loopback address, unless --insecure.
    """
    import uvicorn

    from modelport.api.auth import Keyring
    from modelport.api.guard import check_bind
    from modelport.predlog.privacy import FieldRules
    from modelport.supervisor import LOG_FORMAT, serve_workers, uvicorn_options

    current = settings()
    # Refuse to start (one clear line) when a hash rule has no key, before binding.
    FieldRules.from_settings(current.privacy)
    if host is not None:
        current.server.host = host
    if port is not None:
        current.server.port = port
    if workers is not None:
        current.server.workers = workers
    warning = check_bind(current.server.host, Keyring.from_settings(current.auth), insecure)
    if warning is not None:
        errors.print(f"[bold red]WARNING[/] {escape(warning)}", highlight=False, soft_wrap=True)
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    shown = current.server.host
    shown = f"[{shown}]" if ":" in shown else shown
    console.print(f"dashboard: http://{shown}:{current.server.port}/dashboard", highlight=False)
    if current.server.workers > 1:
        code = serve_workers(current, insecure=insecure, log_level=log_level)
        if code:
            raise typer.Exit(code)
        return
    from modelport.api.app import create_app

    uvicorn.run(
        create_app(current, insecure=insecure),
        host=current.server.host,
        port=current.server.port,
        **uvicorn_options(log_level),
    )


def _instances(payload: str) -> Any:
    text = payload
    if payload.startswith("@"):
        path = Path(payload[1:])
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ModelportError(
                f"cannot read payload file {path}: {reason}", field="payload"
            ) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelportError(f"payload is not valid JSON: {exc}", field="payload") from exc
    from modelport.codecs.simple import simple_payload

    return simple_payload(data)


@app.command()
@handle_errors
def predict(
    endpoint: Annotated[str, typer.Argument()],
    payload: Annotated[str, typer.Argument(help="JSON instance, list of instances, or @file.")],
    url: Annotated[str | None, typer.Option(help="Server URL (default from settings).")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="MODELPORT_TOKEN", help="Bearer token.")
    ] = None,
    request_id: Annotated[str | None, typer.Option(help="Your own request id.")] = None,
) -> None:
    """Send one prediction request to a running server and print the answer."""
    current = settings()
    base = url or f"http://{current.server.host}:{current.server.port}"
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if request_id:
        headers["X-Request-ID"] = request_id
    import httpx

    try:
        response = httpx.post(
            f"{base}/v1/endpoints/{endpoint}/predict",
            json=_instances(payload),
            headers=headers,
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise ModelportError(f"cannot reach {base}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text}
    if response.status_code >= 400:
        errors.print(
            f"[bold red]error {response.status_code}[/] {body.get('code', '')}: "
            f"{body.get('message', '')}",
            highlight=False,
        )
        raise typer.Exit(1)
    print_json(body)


def run() -> None:
    """Entry point that keeps Rich from colouring piped output."""
    if not sys.stdout.isatty():
        os.environ.setdefault("NO_COLOR", "1")
    app()


if __name__ == "__main__":
    run()
