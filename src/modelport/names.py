"""One rule for every name a user gives: models, endpoints, alerts and tokens.

A name is 1-63 characters of lowercase letters, digits, ``_``, ``.`` and ``-``, starts
with a letter or digit and never contains ``..``. Names become URL path segments, folder
names (``logs/<endpoint>/``) and audit subjects, so the rule keeps them all safe; every
path built from a name is still checked to stay inside its folder.

>>> check_name("endpoint", "churn-v2.eu")
'churn-v2.eu'
>>> is_valid_name("../etc"), is_valid_name("Churn"), is_valid_name("a..b")
(False, False, False)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from modelport.errors import InvalidName, UnsafePath

NameKind = Literal["model", "endpoint", "alert", "token", "alias", "name"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_NAME = re.compile(NAME_PATTERN)
RULE = (
    "1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit, without '..'"
)


def is_valid_name(value: object) -> bool:
    """Whether ``value`` is a string that follows the name rule."""
    # fullmatch: ``$`` alone would accept one trailing newline.
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def check_name(kind: NameKind, value: object, *, field: str | None = None) -> str:
    """``value`` if it follows the name rule, else :class:`InvalidName` (422) naming
    ``field`` (default: ``kind``)."""
    if not is_valid_name(value):
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        if isinstance(value, str) and len(value) > 80:
            shown = repr(value[:80] + "...")
        raise InvalidName(f"{kind} {shown} is not a valid name: use {RULE}", field=field or kind)
    assert isinstance(value, str)
    return value


def inside(root: Path, *parts: str) -> Path:
    """``root / parts...``, refused (:class:`UnsafePath`) unless it stays inside ``root``
    once resolved (``..``, absolute parts and symbolic links that lead out all count)."""
    path = root.joinpath(*parts)
    base = root.resolve()
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise UnsafePath(f"{'/'.join(parts)!r} would leave the folder {root}", field="name")
    return path


__all__ = ["NAME_PATTERN", "RULE", "check_name", "inside", "is_valid_name"]
