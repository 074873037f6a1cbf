"""Sticky canary assignment: the same key lands on the same variant at a given weight.

Each key hashes to a fixed bucket in ``[0, BUCKETS)``; a request goes to the canary when
its bucket is below ``weight * BUCKETS / 100``. Raising the weight only lowers the bar
for more buckets, so callers only ever move from primary to canary, never back. The
hash is salted per rollout (a new rollout draws a fresh canary population) and is
BLAKE2b, not ``hash()``, so every server process and every restart agrees.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

from modelport.batch import Batch
from modelport.errors import ValidationFailed
from modelport.schema import InputSchema

BUCKETS = 10_000


def bucket(salt: str, key: str) -> int:
    """Stable bucket of ``key``.

    >>> bucket("rollout-1", "user-42") == bucket("rollout-1", "user-42")
    True
    >>> 0 <= bucket("rollout-1", "user-42") < BUCKETS
    True
    """
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_canary(salt: str, key: str | None, weight: float) -> bool:
    """Whether a request with ``key`` goes to the canary at ``weight`` percent.

    Without a key the choice is random (no stickiness can be promised).

    >>> keys = [f"user-{i}" for i in range(2000)]
    >>> at_25 = {k for k in keys if in_canary("s", k, 25)}
    >>> at_50 = {k for k in keys if in_canary("s", k, 50)}
    >>> at_25 <= at_50  # raising the weight never moves a caller back
    True
    >>> 0.2 < len(at_25) / len(keys) < 0.3
    True
    """
    if weight <= 0:
        return False
    if weight >= 100:
        return True
    if key is None:
        return random.random() * 100.0 < weight
    return bucket(salt, key) < weight * BUCKETS / 100.0


@dataclass(frozen=True, slots=True)
class StickyKey:
    """Where the stickiness key comes from: ``header:X-User-Id`` or ``field:customer_id``."""

    source: str  # "header" or "field"
    name: str

    @classmethod
    def parse(cls, text: str) -> StickyKey:
        """
        >>> StickyKey.parse("header:X-User-Id")
        StickyKey(source='header', name='x-user-id')
        >>> StickyKey.parse("field:customer_id").name
        'customer_id'
        """
        source, sep, name = text.partition(":")
        source = source.strip().lower()
        name = name.strip()
        if not sep or source not in ("header", "field") or not name:
            raise ValidationFailed(
                f"sticky key must be 'header:NAME' or 'field:NAME', got {text!r}",
                field="sticky_key",
            )
        # HTTP header names are case-insensitive; feature names are not.
        return cls(source, name.lower() if source == "header" else name)

    def __str__(self) -> str:
        return f"{self.source}:{self.name}"

    def check(self, schema: InputSchema) -> None:
        if self.source == "field" and schema.get(self.name) is None:
            raise ValidationFailed(
                f"sticky key field {self.name!r} is not an input feature "
                f"(features: {', '.join(schema.names)})",
                field="sticky_key",
            )

    def extract(self, headers: Mapping[str, str], batch: Batch) -> str | None:
        """The request's key; a multi-row request is keyed by its first row."""
        if self.source == "header":
            value = headers.get(self.name)
            return value if value else None
        column = batch.columns.get(self.name)
        if column is None or batch.n_rows == 0:
            return None
        first = column[0]
        if first is None or (isinstance(first, float) and first != first):
            return None
        if isinstance(first, float) and first.is_integer():
            return str(int(first))  # 42 and 42.0 are the same customer
        return str(first)
