"""Drive modelport through its real command line, as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from servers import ServerFailed

ENDPOINT = "bench"
PREDICT_PATH = f"/v1/endpoints/{ENDPOINT}/predict"


def command() -> str:
    beside_python = Path(sys.executable).parent / "modelport"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("modelport")
    if found is None:
        raise ServerFailed("the modelport command is not installed (pip install -e .)")
    return found


def clean_env() -> dict[str, str]:
    """This environment minus MODELPORT_* settings (say, a developer's Postgres URL)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("MODELPORT_")}


def _run(workdir: Path, *arguments: str, timeout_s: float = 120.0) -> str:
    shown = "modelport " + " ".join(arguments)
    try:
        completed = subprocess.run(
            [command(), *arguments],
            cwd=workdir,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerFailed(f"`{shown}` did not finish within {timeout_s:.0f}s") from exc
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise ServerFailed(
            f"`{shown}` failed with exit code {completed.returncode}:\n" + "\n".join(output)
        )
    return completed.stdout


def setup(workdir: Path, model_path: Path, reference_path: Path) -> None:
    """``init``, ``models register`` and ``endpoints create`` in ``workdir``."""
    _run(workdir, "init")
    _run(
        workdir,
        "models",
        "register",
        ENDPOINT,
        str(model_path),
        "--flavor",
        "sklearn",
        "--reference",
        str(reference_path),
    )
    _run(workdir, "endpoints", "create", ENDPOINT, "--model", f"{ENDPOINT}:1")


def serve_command(port: int) -> list[str]:
    return [command(), "serve", "--host", "127.0.0.1", "--port", str(port)]


def logged_rows(workdir: Path) -> int:
    """Rows in the endpoint's prediction log, read back with ``modelport logs export``."""
    exported = workdir / "logged.parquet"
    _run(workdir, "logs", "export", ENDPOINT, "--output", str(exported), timeout_s=600)
    return int(pq.read_metadata(exported).num_rows)


def store_bytes(workdir: Path) -> int:
    return sum(
        item.stat().st_size for item in (workdir / ".modelport").rglob("*") if item.is_file()
    )
