"""What every CLI command shares: settings, local services, output, errors."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.registry.artifacts import ArtifactStore
from modelport.registry.endpoints import EndpointStore
from modelport.registry.service import Registry
from modelport.store.db import Database

console = Console()
errors = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    config: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.load(self.config)
        return self._settings


state = State()


def settings() -> Settings:
    return state.settings


def database() -> Database:
    return Database(settings().database_url)


def registry(db: Database | None = None) -> Registry:
    return Registry(db or database(), ArtifactStore(settings().artifacts_dir))


def endpoint_store() -> EndpointStore:
    db = database()
    return EndpointStore(db, registry(db))


def prediction_log() -> ParquetPredictionLog:
    return ParquetPredictionLog(settings().log_dir)


def feedback_store() -> FeedbackStore:
    return FeedbackStore(database(), prediction_log())


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

    return run


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, *, field: str = "since") -> datetime | None:
    """``1h``/``30m``/``7d`` ago, or an ISO timestamp (UTC if no zone).

    >>> parse_since("2026-01-02T03:04:05").isoformat()
    '2026-01-02T03:04:05+00:00'
    """
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ModelportError(
            f"--{field} must be a duration like 1h, 30m, 7d or an ISO time, got {text!r}",
            field=field,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
