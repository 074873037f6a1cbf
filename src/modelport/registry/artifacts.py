"""Content-addressed artifact store: every file is kept once, under its sha256.

Writes go to a temporary file and are renamed into place, so a crash never leaves a
half-written blob under a valid name; reads verify the digest before anything loads it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from modelport.errors import ArtifactError, ArtifactIntegrityError

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Blobs under ``root/blobs/<aa>/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relative_path(self, sha256: str) -> str:
        """Where a digest lives, relative to the store's root.

        >>> ArtifactStore(Path("artifacts")).relative_path("ab12" + "0" * 60)[:12]
        'blobs/ab/ab1'
        """
        return f"blobs/{sha256[:2]}/{sha256}"

    def path(self, relative: str) -> Path:
        return self.root / relative

    def put(self, source: Path) -> tuple[str, str, bool]:
        """Copy ``source`` in; returns (sha256, relative path, newly created)."""
        if not source.is_file():
            raise ArtifactError(f"artifact {source} does not exist or is not a file")
        sha256 = sha256_of(source)
        relative = self.relative_path(sha256)
        target = self.path(relative)
        if target.exists() and sha256_of(target) == sha256:
            return sha256, relative, False
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(descriptor)
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return sha256, relative, True

    def put_bytes(self, data: bytes, suffix: str = "") -> tuple[str, str, bool]:
        with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
            handle.write(data)
        try:
            return self.put(Path(handle.name))
        finally:
            os.unlink(handle.name)

    def verified(self, relative: str, sha256: str) -> Path:
        """The blob's path, after checking it still has the digest it was stored under."""
        path = self.path(relative)
        if not path.is_file():
            raise ArtifactIntegrityError(f"artifact {relative} is missing from the store")
        actual = sha256_of(path)
        if actual != sha256:
            raise ArtifactIntegrityError(
                f"artifact {relative} is corrupt: sha256 {actual[:12]}… != {sha256[:12]}…"
            )
        return path

    def remove(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)
