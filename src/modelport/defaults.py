"""Names the command line needs before any settings are read: ``modelport --help`` imports
this, not :mod:`modelport.config` (pydantic alone would double the time the help takes)."""

from __future__ import annotations

# The settings file a project keeps in its folder.
CONFIG_FILE = "modelport.toml"

# Most worker processes ``modelport serve --workers`` starts (``server.workers``).
MAX_WORKERS = 64
