"""The checkpoint of a batch run, beside its output: ``<output>.batch.json``.

It names the run (a random job id, which also prefixes the request ids of its logged
rows), what it scores (endpoint, model, version, input fingerprint, chunk size, paths)
and how far it got (chunks committed, rows read, scored and rejected). It is rewritten
durably (temporary file, fsync, rename) after each committed chunk, so after a crash it
says exactly which chunks are done; ``--resume`` continues from there and refuses when
the input's fingerprint or the run's settings differ.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from modelport.errors import ValidationFailed
from modelport.predlog.files import write_durably

MANIFEST_SUFFIX = ".batch.json"
PARTS_SUFFIX = ".parts"


class RunState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Stopped between chunks (server shutdown); resumable like a crash.
    INTERRUPTED = "interrupted"


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + MANIFEST_SUFFIX)


def parts_folder(output: Path) -> Path:
    return output.with_name(output.name + PARTS_SUFFIX)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Manifest:
    job: str
    endpoint: str
    model: str
    version: int
    input: str
    fingerprint: str
    chunk: int
    output: str
    rejects: str
    id_column: str | None
    rows_total: int
    rows_exact: bool = True
    chunks_done: int = 0
    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    state: RunState = RunState.RUNNING
    error: str | None = None
    started_at: str = field(default_factory=now_text)
    updated_at: str = field(default_factory=now_text)
    finished_at: str | None = None
    # Times this run was resumed.
    resumed: int = 0

    @property
    def path(self) -> Path:
        return manifest_path(Path(self.output))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": str(self.state)}

    def save(self) -> None:
        self.updated_at = now_text()
        data = json.dumps(self.to_dict(), indent=2).encode()

        def write(handle: BinaryIO) -> None:
            handle.write(data)

        write_durably(self.path, write)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
            data["state"] = RunState(data["state"])
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ValidationFailed(
                f"cannot read the batch checkpoint {path}: {exc}", field="resume"
            ) from exc
