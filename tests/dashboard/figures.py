"""The dashboard's number formats (``static/js/core/dom.js`` ``fmt``), so a test can say
what text a figure from the API must show on the page."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DASH = "—"


def to_fixed(value: float, digits: int) -> str:
    """JavaScript's ``Number.prototype.toFixed``: the exact binary value, ties away from
    zero (Python's format rounds ties to even).

    >>> to_fixed(218.25, 1), f"{218.25:.1f}"
    ('218.3', '218.2')
    """
    exact = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{exact:.{digits}f}"


def fmt_int(value: float | None) -> str:
    """``fmt.int``: rounded, with thousands separators (en-US).

    >>> fmt_int(4500), fmt_int(None)
    ('4,500', '—')
    """
    return DASH if value is None else f"{round(value):,}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """``fmt.pct``: 0.25 -> "25.0%".

    >>> fmt_pct(0.25), fmt_pct(0.0)
    ('25.0%', '0.0%')
    """
    return DASH if value is None else f"{to_fixed(value * 100, digits)}%"


def fmt_ms(value: float | None) -> str:
    """``fmt.ms``: milliseconds, or seconds from 1000 ms.

    >>> fmt_ms(3.456), fmt_ms(218.24), fmt_ms(1500)
    ('3.46 ms', '218.2 ms', '1.50 s')
    """
    if value is None:
        return DASH
    if value >= 1000:
        return f"{to_fixed(value / 1000, 2)} s"
    return f"{to_fixed(value, 2 if value < 10 else 1)} ms"
