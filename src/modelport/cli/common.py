"""What every CLI command shares: settings, local services, output, errors."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from modelport.errors import ModelportError

if TYPE_CHECKING:
    from modelport.config import Settings
    from modelport.predlog.feedback import FeedbackStore
    from modelport.predlog.parquet import ParquetPredictionLog
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registry
    from modelport.server import ControlPlane, Services
    from modelport.store.db import Database

console = Console()
errors = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """The command's settings and planes, built on first use and closed when it ends: a
    command that reads only the registry and endpoints builds the control plane alone
    (and imports no monitoring, serving or alerting code); one that needs more builds
    every plane on top of the same control plane."""

    config: Path | None = None
    _settings: Settings | None = None
    _control: ControlPlane | None = None
    _services: Services | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from modelport.config import Settings

            self._settings = Settings.load(self.config)
        return self._settings

    @property
    def control(self) -> ControlPlane:
        if self._control is None:
            from modelport.server import ControlPlane

            self._control = ControlPlane.build(self.settings)
        return self._control

    @property
    def services(self) -> Services:
        if self._services is None:
            from modelport.server import Services

            self._services = Services.build(self.settings, self.control)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()  # the control plane's pool too
        elif self._control is not None:
            self._control.close()
        self._services = None
        self._control = None


state = State()


def settings() -> Settings:
    return state.settings


def services() -> Services:
    """The same planes a server builds (one database pool for the whole command)."""
    return state.services


def control() -> ControlPlane:
    """The registry, endpoints, aliases and catalog alone: what a read-only command on
    models and endpoints needs, built without the serving and monitoring planes."""
    return state.control


def database() -> Database:
    return control().db


def registry() -> Registry:
    return control().registry


def endpoint_store() -> EndpointStore:
    return control().endpoints


def prediction_log() -> ParquetPredictionLog:
    return services().log


def feedback_store() -> FeedbackStore:
    return services().feedback


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """One clear line on stderr and exit code 1 for every modelport error."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ModelportError as exc:
            where = f" [{exc.field}]" if exc.field else ""
            # Escaped, or Rich would take "[field]" for markup; soft-wrapped, so it stays
            # one line however narrow the terminal (or pipe).
            errors.print(
                f"[bold red]error[/] {escape(f'({exc.code}{where}): {exc.message}')}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None
        finally:
            state.close()

    return run


@contextlib.contextmanager
def working(description: str) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while a long step runs (nothing when
    stderr is not a terminal, so piped output and logs stay clean)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        progress.add_task(description, total=None)
        yield


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def parse_since(text: str | None, *, field: str = "since") -> datetime | None:
    """``1h``/``30m``/``7d`` ago, or an ISO timestamp (UTC if no zone).

    >>> parse_since("2026-01-02T03:04:05").isoformat()
    '2026-01-02T03:04:05+00:00'
    """
    if text is None:
        return None
    try:
        from modelport.vocabulary import parse_moment

        return parse_moment(text, field=field)
    except ModelportError:
        raise ModelportError(
            f"--{field} must be a duration like 1h, 30m, 7d or an ISO time, got {text!r}",
            field=field,
        ) from None
