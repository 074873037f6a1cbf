"""Start a server under test on 127.0.0.1, wait until it answers, stop it for sure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServerFailed(RuntimeError):
    """The server exited, never answered, or answered only with errors."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    """One server process (and its process group) with output captured to ``log_path``."""

    name: str
    command: Sequence[str]
    port: int
    log_path: Path
    cwd: Path | None = None
    env: dict[str, str] | None = None
    cpu: int | None = None
    # A negative niceness (root only) keeps other work on a shared machine from preempting it.
    niceness: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = list(self.command)
        if self.cpu is not None:
            command = ["taskset", "--cpu-list", str(self.cpu), *command]
        if self.niceness:
            command = ["nice", "-n", str(self.niceness), *command]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group, so stop() also reaches any worker it forks.
                start_new_session=True,
            )

    def wait_ready(self, path: str, body: bytes, timeout_s: float = 60.0) -> httpx.Response:
        """Poll with a real request until one succeeds; raise ServerFailed with the log tail."""
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        last_problem = "no answer"
        with httpx.Client(base_url=self.base_url, timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerFailed(
                        f"{self.name} exited with code {self.process.returncode} before "
                        f"answering.\n--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
                    )
                try:
                    response = client.post(
                        path, content=body, headers={"content-type": "application/json"}
                    )
                except httpx.TransportError as exc:
                    last_problem = f"{type(exc).__name__}: {exc}"
                else:
                    if response.is_success:
                        return response
                    last_problem = f"HTTP {response.status_code}: {response.text[:500]}"
                time.sleep(0.2)
        raise ServerFailed(
            f"{self.name} did not answer POST {path} successfully within {timeout_s:.0f}s "
            f"(last: {last_problem}).\n--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
        )

    def peak_rss_mib(self) -> float | None:
        """High-water RSS of the main server process (not of forked workers)."""
        if self.process is None:
            return None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``grace_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        try:
            # Also reaps stragglers in the group that outlived their parent.
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=5)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
