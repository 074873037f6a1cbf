"""``modelport serve`` with no tokens binds loopback only, unless ``--insecure`` (loudly);
a token it cannot read stops it before it binds anything."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from modelport.config import DEFAULT_TOML
from support import cli_env, free_port, run_cli


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_an_open_server_refuses_a_non_loopback_address(project: Path) -> None:
    port = free_port()
    result = run_cli("serve", "--host", "0.0.0.0", "--port", str(port), cwd=project, check=False)
    assert result.returncode == 1
    assert "[server.host]" in result.stderr and "--insecure" in result.stderr
    assert not _listening(port)


def test_a_token_from_a_missing_variable_stops_serve(project: Path) -> None:
    (project / "modelport.toml").write_text(
        DEFAULT_TOML + '\n[auth.tokens.ops]\nrole = "admin"\nenv = "SERVE_TEST_NO_SUCH_VAR"\n'
    )
    port = free_port()
    result = run_cli("serve", "--port", str(port), cwd=project, check=False)
    assert result.returncode == 1
    assert "auth.tokens.ops.env" in result.stderr and "SERVE_TEST_NO_SUCH_VAR" in result.stderr
    assert not _listening(port)


def test_insecure_serves_an_open_server_anywhere_and_says_so(project: Path) -> None:
    port = free_port()
    log = project / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelport.cli.main", "serve"]
            + ["--host", "0.0.0.0", "--port", str(port), "--insecure"],
            cwd=project,
            env=cli_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            answered = None
            deadline = time.monotonic() + 60
            while answered is None and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                try:
                    answered = httpx.get(f"http://127.0.0.1:{port}/v1/endpoints", timeout=1)
                except httpx.HTTPError:
                    time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(60)
    assert answered is not None and answered.status_code == 200
    output = log.read_text()
    assert "WARNING" in output and "INSECURE" in output and "0.0.0.0" in output
