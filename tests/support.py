"""Shared helpers for tests: data, trained models, a real server process, PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd


def make_churn_data(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "charges": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    risk = (frame.tenure < 12) & (frame.plan == "basic")
    frame["churned"] = (risk | (rng.random(n) < 0.1)).astype(int)
    return frame


def train_churn(folder: Path, seed: int = 0, n: int = 2000) -> tuple[Path, Path]:
    """A skops scikit-learn pipeline with a categorical feature, and its training data."""
    import skops.io as sio
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    folder.mkdir(parents=True, exist_ok=True)
    data = make_churn_data(n, seed)
    features = data.drop(columns=["churned"])
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
            (StandardScaler(), ["tenure", "charges"]),
        ),
        LogisticRegression(),
    ).fit(features, data["churned"])
    model_path = folder / f"churn-{seed}.skops"
    reference_path = folder / f"churn-{seed}.parquet"
    sio.dump(model, model_path)
    data.to_parquet(reference_path)
    return model_path, reference_path


def churn_instance(tenure: int = 3, charges: float = 50.5, plan: str = "basic") -> dict[str, Any]:
    return {"tenure": tenure, "charges": charges, "plan": plan}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


class _Zygote:
    """The client side of ``tests/zygote.py``: one warm template process per test process,
    started on first use, that forks the real ``modelport`` command on request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._folder = Path(tempfile.mkdtemp(prefix="modelport-zygote-"))
        self._count = 0

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("zygote.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=cli_env(),
                cwd=self._folder,
                text=True,
                bufsize=1,
            )
            assert self._process.stdout is not None
            ready = self._process.stdout.readline()
            if not ready:
                raise AssertionError("the test zygote did not start")
        return self._process

    def spawn(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> ForkedProcess:
        """``modelport ARGS`` with stdout and stderr both into ``log``."""
        return self.spawn_split(args, cwd, env, log, log)

    def spawn_split(
        self, args: list[str], cwd: Path, env: dict[str, str], stdout: Path, stderr: Path
    ) -> ForkedProcess:
        with self._lock:
            process = self._started()
            self._count += 1
            status = self._folder / f"{self._count}.status"
            request = {
                "argv": args,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(stdout),
                "stderr": str(stderr),
                "status": str(status),
            }
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
        if not answer:
            raise AssertionError("the test zygote went away")
        return ForkedProcess(json.loads(answer)["pid"], status)


class ForkedProcess:
    """What tests use of ``subprocess.Popen`` (poll, wait, send_signal, terminate, kill,
    pid, returncode) for a command the zygote forked."""

    def __init__(self, pid: int, status: Path) -> None:
        self.pid = pid
        self._status = status
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._status.exists():
            self.returncode = int(self._status.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # never a pid that has ended (and may be reused)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_ZYGOTE = _Zygote()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real ``modelport`` command in its own process, forked from the warm zygote
    (``tests/zygote.py``). Tests about what a fresh interpreter imports start their own
    with ``subprocess``."""
    with tempfile.TemporaryDirectory(prefix="modelport-cli-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = _ZYGOTE.spawn_split(list(args), cwd, cli_env(env), out, err)
        try:
            code = process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        result = subprocess.CompletedProcess(
            [sys.executable, "-m", "modelport.cli.main", *args],
            code,
            out.read_text() if out.exists() else "",
            err.read_text() if err.exists() else "",
        )
    if check and result.returncode != 0:
        raise AssertionError(
            f"modelport {' '.join(args)} exited {result.returncode}\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass
class LiveServer:
    """``modelport serve`` as a real process on 127.0.0.1."""

    cwd: Path
    env: dict[str, str] | None = None
    port: int = 0
    process: ForkedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiveServer:
        self.port = self.port or free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        log = self.cwd / f"server-{self.port}.log"
        log.write_text("")  # the server appends; a restart on the same port starts afresh
        self.process = _ZYGOTE.spawn(args, self.cwd, cli_env(self.env), log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/v2/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"server did not start in {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code

    def output(self) -> str:
        return (self.cwd / f"server-{self.port}.log").read_text()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def wait_ready(self, endpoint: str, timeout: float = 30.0) -> None:
        """Until the server has picked up ``endpoint`` (created by another process)."""

        def ready() -> bool:
            with self.client() as client:
                return client.get(f"/v2/models/{endpoint}/ready").status_code == 200

        self.wait_for(ready, timeout)

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError("condition not met in time")


def register_churn(folder: Path, churn_files: tuple[Path, Path], endpoint: str = "churn") -> None:
    """Register churn:N and create an endpoint in-process (the CLI path has its own tests)."""
    import shutil

    from modelport.config import Settings
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    model, reference = churn_files
    shutil.copy(model, folder / "model.skops")
    shutil.copy(reference, folder / "train.parquet")
    settings = Settings.load(folder / "modelport.toml")
    settings.store.home = folder / settings.store.home
    db = Database(settings.database_url)
    registry = Registry(db, ArtifactStore(settings.artifacts_dir))
    version = registry.register(
        Registration(
            name="churn",
            source=str(folder / "model.skops"),
            flavor="sklearn",
            reference=folder / "train.parquet",
            target="churned",
        )
    )
    EndpointStore(db, registry).create(endpoint, "churn", version.version)
    db.dispose()


POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/{database}"


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False
