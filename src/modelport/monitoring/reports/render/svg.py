"""Small inline SVG charts for the HTML report: no script, no network, any browser.

>>> svg = grouped_bars(["a", "b"], [0.5, 0.5], [0.2, 0.8])
>>> svg.startswith("<svg") and svg.count("<rect") == 4
True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

REFERENCE_COLOUR = "#8aa4c8"
CURRENT_COLOUR = "#d9734e"
LINE_COLOUR = "#3b6ea5"
EVENT_COLOUR = "#c0392b"


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
    )


def grouped_bars(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    width: int = 380,
    height: int = 130,
) -> str:
    """Reference and current shares per bucket, side by side."""
    count = max(len(labels), 1)
    top = max([*reference, *current, 1e-9])
    plot_height = height - 22
    slot = (width - 10) / count
    bar = max(slot / 2 - 1, 1)
    parts = [_open(width, height, "reference and current shares per bucket")]
    for index, label in enumerate(labels):
        x = 5 + index * slot
        for offset, value, colour, who in (
            (0.0, reference[index], REFERENCE_COLOUR, "reference"),
            (bar, current[index], CURRENT_COLOUR, "current"),
        ):
            h = plot_height * value / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{plot_height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)} {who}: '
                f"{value:.2%}</title></rect>"
            )
    parts.append(f'<line x1="0" y1="{plot_height}" x2="{width}" y2="{plot_height}" stroke="#999"/>')
    if labels:
        parts.append(_axis_label(5, height - 6, labels[0], "start"))
        parts.append(_axis_label(width - 5, height - 6, labels[-1], "end"))
    parts.append("</svg>")
    return "".join(parts)


def _axis_label(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="{anchor}" '
        f'fill="#555">{escape(text[:24])}</text>'
    )


def severity_bars(names: Sequence[str], ratios: Sequence[float], width: int = 520) -> str:
    """Deciding statistic over its threshold per feature; the line at 1 is the threshold."""
    row = 18
    height = row * max(len(names), 1) + 20
    label_width = 150
    span = width - label_width - 60
    most = max([*ratios, 1.5])
    parts = [_open(width, height, "statistic divided by threshold per feature")]
    for index, (name, ratio) in enumerate(zip(names, ratios, strict=True)):
        y = 4 + index * row
        length = span * max(ratio, 0.0) / most
        colour = CURRENT_COLOUR if ratio >= 1 else REFERENCE_COLOUR
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
            f"{escape(name[:28])}</text>"
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" '
            f'fill="{colour}"/><text x="{label_width + length + 4:.1f}" y="{y + 12}" '
            f'font-size="10" fill="#555">{ratio:.2f}</text>'
        )
    threshold_x = label_width + span / most
    parts.append(
        f'<line x1="{threshold_x:.1f}" y1="0" x2="{threshold_x:.1f}" y2="{height - 16}" '
        f'stroke="#333" stroke-dasharray="4 3"/>'
        f'<text x="{threshold_x:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">'
        "threshold</text></svg>"
    )
    return "".join(parts)


def line_with_events(
    values: Sequence[float],
    events: Sequence[tuple[float, str]],
    width: int = 520,
    height: int = 150,
) -> str:
    """A series (e.g. error rate over the label stream) with vertical event markers at
    fractional positions in ``[0, 1]``."""
    parts = [_open(width, height, "error over the labelled stream with detector events")]
    plot_height = height - 20
    if values:
        top = max(max(values), 1e-9)
        step = (width - 10) / max(len(values) - 1, 1)
        points = " ".join(
            f"{5 + i * step:.1f},{plot_height - plot_height * v / top * 0.9:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5"/>'
        )
        parts.append(_axis_label(5, height - 4, f"max {top:.3g}", "start"))
    for where, label in events:
        x = 5 + where * (width - 10)
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{plot_height}" stroke="{EVENT_COLOUR}" '
            f'stroke-dasharray="3 2"><title>{escape(label)}</title></line>'
        )
    parts.append(f'<line x1="0" y1="{plot_height}" x2="{width}" y2="{plot_height}" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)
