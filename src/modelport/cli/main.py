"""The ``modelport`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from modelport import __version__
from modelport.cli import (
    alerts,
    batch,
    endpoints,
    exports,
    logs,
    models,
    monitor,
    retrain,
    rollout,
)
from modelport.cli.common import console, errors, handle_errors, print_json, settings, state
from modelport.config import CONFIG_FILE, DEFAULT_TOML
from modelport.errors import ModelportError

app = typer.Typer(
    help="modelport: serve, deploy safely, log, monitor and retrain ML models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(logs.logs_app, name="logs")
app.add_typer(logs.feedback_app, name="feedback")
app.add_typer(rollout.app, name="rollout")
app.add_typer(monitor.app, name="monitor")
app.add_typer(alerts.app, name="alerts")
app.add_typer(alerts.notifiers_app, name="notifiers")
app.command("grafana-dashboard")(exports.grafana_dashboard)
app.command("batch")(batch.batch)
app.add_typer(retrain.app, name="retrain")


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

    from modelport.api.app import create_app
    from modelport.api.auth import Keyring
    from modelport.api.guard import check_bind
    from modelport.predlog.privacy import FieldRules

    current = settings()
    # Refuse to start (one clear line) when a hash rule has no key, before binding.
    FieldRules.from_settings(current.privacy)
    if host is not None:
        current.server.host = host
    if port is not None:
        current.server.port = port
    warning = check_bind(current.server.host, Keyring.from_settings(current.auth), insecure)
    if warning is not None:
        errors.print(f"[bold red]WARNING[/] {escape(warning)}", highlight=False, soft_wrap=True)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    shown = current.server.host
    shown = f"[{shown}]" if ":" in shown else shown
    console.print(f"dashboard: http://{shown}:{current.server.port}/dashboard", highlight=False)
    uvicorn.run(
        create_app(current, insecure=insecure),
        host=current.server.host,
        port=current.server.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
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
