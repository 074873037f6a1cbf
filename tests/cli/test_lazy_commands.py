"""The root command lists every command without importing them, and each lazily loaded
command is the one its module defines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelport.cli.main import LAZY
from support import run_cli

HEAVY = ("pandas", "scipy", "sqlalchemy", "sklearn", "pyarrow", "numpy")


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
