from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelport.errors import ArtifactError, ArtifactIntegrityError
from modelport.registry.artifacts import ArtifactStore, sha256_of


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def test_a_file_is_stored_under_its_digest(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    sha256, relative, created = store.put(source)

    assert (sha256, created) == (digest, True)
    assert relative == f"blobs/{digest[:2]}/{digest}"
    assert store.path(relative).read_bytes() == source.read_bytes()
    assert store.verified(relative, sha256) == store.path(relative)


def test_the_same_content_is_kept_once(store: ArtifactStore, tmp_path: Path) -> None:
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"same")
    second.write_bytes(b"same")

    stored = store.put(first)
    again = store.put(second)

    assert again == (stored[0], stored[1], False)
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [stored[0]]


def test_a_damaged_blob_is_replaced_by_a_good_copy(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    sha256, relative, _ = store.put(source)
    store.path(relative).write_bytes(b"rot")

    assert store.put(source) == (sha256, relative, True)
    assert sha256_of(store.path(relative)) == sha256


def test_bytes_are_stored_like_files(store: ArtifactStore) -> None:
    sha256, relative, created = store.put_bytes(b"reference rows", ".parquet")

    assert created and sha256 == hashlib.sha256(b"reference rows").hexdigest()
    assert store.path(relative).read_bytes() == b"reference rows"


def test_verification_catches_corruption_and_loss(store: ArtifactStore) -> None:
    sha256, relative, _ = store.put_bytes(b"weights")
    store.path(relative).write_bytes(b"weightz")

    with pytest.raises(ArtifactIntegrityError, match="corrupt"):
        store.verified(relative, sha256)
    store.remove(relative)
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        store.verified(relative, sha256)
    store.remove(relative)  # removing twice is harmless


def test_only_files_can_be_stored(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist or is not a file"):
        store.put(tmp_path)
    with pytest.raises(ArtifactError, match="does not exist"):
        store.put(tmp_path / "nowhere.bin")
