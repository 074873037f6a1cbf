"""What both demos share: the real CLI run in a workspace, and a real server started in
the background on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

console = Console()


def modelport(
    workspace: Path, *args: str, check: bool = True, echo: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``workspace``; its output is printed unless ``echo`` is False."""
    console.print(f"[bold cyan]$ modelport {' '.join(args)}[/]")
    result = subprocess.run(
        [sys.executable, "-m", "modelport.cli.main", *args],
        cwd=workspace,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
    )
    if echo and result.stdout.strip():
        console.print(result.stdout.rstrip(), highlight=False)
    if check and result.returncode != 0:
        console.print(result.stderr, style="red")
        raise SystemExit(f"modelport {' '.join(args)} failed")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    """``modelport serve`` in ``workspace``, once it answers ready (its output goes to
    ``server.log`` there)."""
    console.print(f"[bold cyan]$ modelport serve --port {port}[/]  (in the background)")
    log = (workspace / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelport.cli.main", "serve", "--port", str(port)],
        cwd=workspace,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.5"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit((workspace / "server.log").read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")
