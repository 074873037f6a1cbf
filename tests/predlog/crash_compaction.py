"""``python crash_compaction.py <day folder> <step>``: run a compaction that dies
(``os._exit``, as abruptly as SIGKILL: no cleanup, no flush) at one step.

Used by ``test_compaction_crash.py`` in a subprocess; the steps wrap the real functions
the compaction calls, nothing else changes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.predlog import compaction

KILLED = 77


def die(module: Any, name: str, *, before: bool = False) -> None:
    """Exit the process at the first call of ``module.name`` (before or after it ran)."""
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            os._exit(KILLED)
        result = original(*args, **kwargs)
        os._exit(KILLED)
        return result

    setattr(module, name, wrapper)


STEPS: dict[str, Callable[[], None]] = {
    # A row group is in the temporary file, whose footer is not written yet.
    "writing": lambda: die(compaction, "_write_group"),
    # The temporary file is complete and fsynced, not yet renamed.
    "before-rename": lambda: die(os, "replace", before=True),
    # The merged file is in place; its folder entry is not fsynced yet.
    "after-rename": lambda: die(os, "replace"),
    # The merged file is durable; no source is deleted yet.
    "durable": lambda: die(compaction, "write_durably"),
    # One source is deleted, the others not.
    "deleting": lambda: die(compaction, "_remove_one"),
    # Every source is deleted; the folder's fsync is done.
    "deleted": lambda: die(compaction, "_remove_all"),
}


if __name__ == "__main__":
    folder, step = Path(sys.argv[1]), sys.argv[2]
    STEPS[step]()
    compaction.compact_day(folder, grace_s=0)
    sys.exit(0)  # the step was never reached
