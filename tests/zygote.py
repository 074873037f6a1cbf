"""A warm template process for the tests' ``modelport`` commands and servers.

Every ``run_cli`` call and every ``LiveServer`` is the real ``modelport`` command in its own
process, but starting a fresh interpreter costs seconds of imports each time (pandas,
scipy, scikit-learn, and skops, which imports every scikit-learn estimator to list the
types it trusts): a few hundred servers and commands made that the larger part of the
suite's time. This process imports those libraries once and forks a child per command;
the child sets its working directory, environment, argv and standard streams as a new
process would have them and runs ``modelport.cli.main`` as ``__main__``, exactly as
``python -m modelport.cli.main`` does. Tests about what a fresh interpreter imports start
one themselves with ``subprocess``.

Protocol (one JSON object per line): the test process writes
``{"argv", "cwd", "env", "stdout", "stderr", "status"}`` on stdin; this process forks and
answers ``{"pid"}``. When the child ends, its exit status (as ``subprocess`` reports it:
the code, or minus the signal) is written to the ``status`` file. Nothing here is
imported by the package.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
from typing import Any

# What the commands and the server import, loaded once. Importing skops.io is the slow
# one (about a second and a half on its own).
# The command-line modules themselves are left out: each child imports them, as a new
# process would, so what they build at import (the consoles, which read COLUMNS and
# NO_COLOR then) sees the child's environment; and runpy warns when the module it runs
# as ``__main__`` was imported before.
PRELOAD = (
    "typer",
    "rich.console",
    "rich.table",
    "modelport.api.app",
    "modelport.server",
    "modelport.registry.flavors.sklearn",
    "modelport.registry.fast_path",
    "skops.io",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "sklearn.linear_model",
    "onnxruntime",
    "scipy.stats",
    "pandas",
    "pyarrow.parquet",
    "uvicorn",
    "httpx",
)

# The interpreter's own search path: sys.path without this script's folder and without
# what this process's PYTHONPATH added (each child puts its own there).
_STARTUP_PYTHONPATH = {p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
_BASE_PATH = [p for p in sys.path[1:] if p not in _STARTUP_PYTHONPATH]

_status_files: dict[int, str] = {}
_ended: dict[int, int] = {}


def _code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _write_status(path: str, code: int) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        handle.write(str(code))
    os.replace(temporary, path)  # the test process never reads half a status


def _reap(signum: int = 0, frame: Any = None) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        path = _status_files.pop(pid, None)
        if path is None:
            _ended[pid] = _code(status)  # ended before its status file was recorded
        else:
            _write_status(path, _code(status))


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become ``python -m modelport.cli.main ARGV`` and never return."""
    code = 1
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        stdin = os.open(os.devnull, os.O_RDONLY)
        stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stderr = (
            stdout
            if request["stderr"] == request["stdout"]
            else os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        )
        for source, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(source, target)
        os.closerange(3, 1024)
        sys.argv = ["modelport", *request["argv"]]
        # The search path a new ``python -m`` would start with: the working directory,
        # then the child's PYTHONPATH (read only when an interpreter starts), then the
        # interpreter's own entries.
        python_path = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [request["cwd"], *python_path, *_BASE_PATH]
        try:
            runpy.run_module("modelport.cli.main", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            if done.code is None:
                code = 0
            elif isinstance(done.code, int):
                code = done.code
            else:
                print(done.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    for name in PRELOAD:
        __import__(name)
    signal.signal(signal.SIGCHLD, _reap)
    channel_in = sys.stdin.buffer
    channel_out = os.fdopen(os.dup(1), "w", buffering=1)
    channel_out.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in channel_in:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _status_files[pid] = request["status"]
        if pid in _ended:  # the child was quicker than this line
            _write_status(_status_files.pop(pid), _ended.pop(pid))
        channel_out.write(json.dumps({"pid": pid}) + "\n")
    # The test process went away: its children end with their own tests.


if __name__ == "__main__":
    main()
