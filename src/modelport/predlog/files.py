"""Files of the log that count only once they are durable.

A segment or merged file is written under a temporary name, flushed to the disk
(``fsync`` of the file), renamed into place and then made durable in its folder
(``fsync`` of the folder): only then does it count as written. A failure at any step
removes the temporary file, so nothing half-written is ever visible under a final name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Log files are readable by the owner's group at most; folders likewise.
FILE_MODE = 0o640
FOLDER_MODE = 0o750


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents); a new entry is made durable in its parent."""
    if folder.is_dir():
        return
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.is_dir():
            break
        missing.append(parent)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_folder(created.parent)


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (renames, new and removed files) durable."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_name(target: Path) -> Path:
    """The hidden name ``target`` is written under before it is renamed into place."""
    return target.with_name(f".{target.name}.tmp")


def write_durably(target: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``target`` with ``write(file)``: temporary file, fsync, rename, fsync folder.

    An existing ``target`` is replaced (writing the same content twice leaves one file).
    On any failure the temporary file is removed and the error raised.
    """
    temporary = temporary_name(target)
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_folder(target.parent)
    return target
