"""MLServer (Seldon) as a server under test: its own venv, a model repository, its command.

MLServer and mlserver-sklearn live in ``bench/.venv-mlserver`` (``make
bench/.venv-mlserver/.installed``, from ``bench/requirements-mlserver.txt``), apart from
modelport's dependencies. The model repository is one directory with a ``settings.json``
(the server) and a ``model-settings.json`` (the model), started as ``mlserver start DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import sklearn

from servers import ServerFailed, free_port

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-mlserver"
MODEL_NAME = "bench"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
INSTALL_HINT = "make bench/.venv-mlserver/.installed (see bench/requirements-mlserver.txt)"


def command() -> Path:
    """The ``mlserver`` executable of the benchmark's own venv."""
    found = VENV / "bin" / "mlserver"
    if not found.exists():
        raise ServerFailed(f"MLServer is not installed in {VENV}; run: {INSTALL_HINT}")
    return found


def clean_env() -> dict[str, str]:
    """This environment minus MLSERVER_* settings, which would override settings.json."""
    return {key: value for key, value in os.environ.items() if not key.startswith("MLSERVER")}


def sklearn_version() -> str:
    """scikit-learn's version in MLServer's venv; a joblib file is only safe within one."""
    try:
        completed = subprocess.run(
            [str(VENV / "bin" / "python"), "-c", "import sklearn; print(sklearn.__version__)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerFailed(f"cannot run Python in {VENV}: {exc}; run: {INSTALL_HINT}") from exc
    return completed.stdout.strip()


def write_repository(workdir: Path, joblib_path: Path, http_port: int) -> Path:
    """A model repository serving ``joblib_path`` as ``bench`` on 127.0.0.1:``http_port``.

    Settings, and why:

    * ``parallel_workers: 0``: inference runs in the server process itself, so MLServer
      is one process on one core like the bare endpoint and modelport (its default
      starts one extra inference process and passes each request to it).
    * ``debug: false``: no access log line per request, MLServer's production setting
      (the bare endpoint has no access log either).
    * gRPC cannot be switched off and the Prometheus metrics server stays on (modelport
      keeps its metrics on too); both get their own free ports on 127.0.0.1 and take no
      traffic.
    * ``predict_fn: predict_proba``: the model answers with probabilities, the same work
      as the other servers.
    """
    installed = sklearn_version()
    if installed != sklearn.__version__:
        raise ServerFailed(
            f"scikit-learn {installed} in {VENV} differs from {sklearn.__version__} that "
            f"fitted the model; rebuild the venv: rm -rf {VENV} && {INSTALL_HINT}"
        )
    repository = workdir / "mlserver"
    repository.mkdir(exist_ok=True)
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
    }
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(joblib_path), "extra": {"predict_fn": "predict_proba"}},
    }
    (repository / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    (repository / "model-settings.json").write_text(json.dumps(model_settings, indent=2) + "\n")
    return repository


def serve_command(repository: Path) -> list[str]:
    return [str(command()), "start", str(repository)]
