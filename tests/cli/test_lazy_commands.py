"""The root command lists every command without importing them, each lazily loaded
command is the one its module defines, and read-only commands import only what they use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelport.cli.main import LAZY
from modelport.config import DEFAULT_TOML
from support import cli_env, register_churn, run_cli

HEAVY = ("pandas", "scipy", "sqlalchemy", "sklearn", "pyarrow", "numpy", "pydantic")


@pytest.mark.parametrize("name", sorted(LAZY))
def test_each_summary_starts_the_commands_own_help(name: str) -> None:
    command = LAZY[name].load(name)
    first_line = (command.help or "").strip().splitlines()[0]
    assert command.name == name
    assert first_line.startswith(LAZY[name].summary.removesuffix("."))


def test_help_lists_every_command_and_imports_no_heavy_library(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['modelport', '--help']\n"
        "from modelport.cli.main import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    *help_lines, loaded = result.stdout.strip().splitlines()
    assert loaded == "[]"
    shown = "\n".join(help_lines)
    for name, lazy in LAZY.items():
        assert name in shown and lazy.summary[:40] in shown


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("feedback", "--help"), "ingest"),
        (("models", "alias", "--help"), "set"),
        (("retrain", "--help"), "policy"),
        (("batch", "--help"), "--resume"),
    ],
)
def test_lazily_loaded_commands_keep_their_shape(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    assert words in run_cli(*args, cwd=tmp_path).stdout


# What a command that only reads the registry and the endpoints must not import: the
# monitoring, serving and training stacks, and Alembic on an up-to-date store.
NOT_FOR_READING = ("pandas", "scipy", "river", "sklearn", "alembic", "httpx", "starlette")


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]) -> Path:
    project = tmp_path_factory.mktemp("lazy")
    (project / "modelport.toml").write_text(DEFAULT_TOML)
    register_churn(project, churn_files)
    return project


def _loaded_by(args: tuple[str, ...], cwd: Path, watched: tuple[str, ...]) -> tuple[str, str]:
    """The command's output, and which of ``watched`` it imported."""
    probe = (
        "import sys\n"
        f"sys.argv = ['modelport', *{list(args)!r}]\n"
        "from modelport.cli.main import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {watched!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env({"COLUMNS": "200"}),
    )
    assert result.returncode == 0, result.stderr
    *output, loaded = result.stdout.strip().splitlines()
    return "\n".join(output), loaded


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("models", "list"), "churn"),
        (("models", "show", "churn"), "churn"),
        (("models", "history", "churn"), "register"),
        (("endpoints", "list"), "churn"),
        (("endpoints", "show", "churn"), "churn"),
        (("endpoints", "history", "churn"), "create"),
    ],
)
def test_read_only_commands_import_only_what_they_read_with(
    registered: Path, args: tuple[str, ...], shown: str
) -> None:
    output, loaded = _loaded_by(args, registered, NOT_FOR_READING)
    assert shown in output
    assert loaded == "[]"


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("alerts", "list"), "no alert rules"),
        (("rollout", "status", "churn"), "churn"),
        (("monitor", "events", "churn"), ""),
        (("logs", "tail", "churn"), ""),
    ],
)
def test_a_command_that_needs_every_plane_still_imports_no_statistics_or_detectors(
    registered: Path, args: tuple[str, ...], shown: str
) -> None:
    """These commands build every plane (as a server does): pandas, scipy, River, httpx
    and scikit-learn wait until a report, a statistic, a detector, a notifier or a model
    needs them."""
    watched = ("pandas", "scipy", "river", "sklearn", "httpx", "alembic")
    output, loaded = _loaded_by(args, registered, watched)
    assert shown in output
    assert loaded == "[]"
