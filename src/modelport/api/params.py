"""Query parameters: integers within bounds and yes/no flags, or 422 naming the parameter."""

from __future__ import annotations

import re

from starlette.requests import Request

from modelport.errors import ValidationFailed

# Version numbers and rollout ids are SQL integers (32 bits on PostgreSQL).
MAX_ID = 2**31 - 1
# Rows a report may ask for with ``last``: far beyond any window worth re-reading.
MAX_ROWS = 100_000_000

_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def int_param(request: Request, key: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """The integer query parameter ``key`` (None when absent or empty), or 422 unless it
    is written in ASCII digits and lies in ``[minimum, maximum]``."""
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    return bounded_int(value, key, minimum=minimum, maximum=maximum)


def bounded_int(value: str, key: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """``value`` as an integer in ``[minimum, maximum]``, or 422 naming ``key``.

    >>> bounded_int("42", "last")
    42
    """
    bounds = f"an integer from {minimum} to {maximum}"
    shown = value if len(value) <= 40 else value[:40] + "..."
    # Digits are checked before int(): str.isdigit() accepts "²", and int() of a very
    # long string costs time (and raises past 4300 digits).
    if len(value) > len(str(maximum)) + 1 or _INTEGER.fullmatch(value) is None:
        raise ValidationFailed(f"{key} must be {bounds}, got {shown!r}", field=key)
    number = int(value)
    if not minimum <= number <= maximum:
        raise ValidationFailed(f"{key} must be {bounds}, got {number}", field=key)
    return number


def flag_param(request: Request, key: str) -> bool:
    """A yes/no query parameter: ``1``/``true``/``yes`` or ``0``/``false``/``no``
    (absent: no); anything else is 422."""
    if not request.scope.get("query_string"):
        return False  # no query string at all: nothing to parse (every plain predict)
    value = request.query_params.get(key)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationFailed(f"{key} must be true or false, got {value[:40]!r}", field=key)


__all__ = ["MAX_ID", "MAX_ROWS", "bounded_int", "flag_param", "int_param"]
