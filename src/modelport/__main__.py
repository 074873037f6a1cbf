"""``python -m modelport``: the ``modelport`` command (how worker processes start)."""

from __future__ import annotations

from modelport.cli.main import run

if __name__ == "__main__":
    run()
