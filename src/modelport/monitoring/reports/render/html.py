"""The report as one self-contained HTML file: inline CSS and SVG, no script, no network.

>>> page = render_html({"endpoint": "churn", "model": "churn", "version": 1,
...                     "window": {"label": "1h", "rows": 0},
...                     "baseline": {"description": "reference sample"}})
>>> "<html" in page and "http" not in page.split("<body", 1)[1].replace("http://www.w3.org", "")
True
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from modelport.monitoring.reports.render import svg


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("modelport.monitoring.reports.render", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _number
    environment.filters["pct"] = _percent
    return environment


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value:.1%}"


def _histogram_svg(entry: dict[str, Any]) -> Markup:
    histogram = entry.get("histogram")
    if not histogram:
        return Markup("")
    if histogram["kind"] == "numeric":
        cuts = histogram["cut_points"]
        labels = [f"< {cuts[0]:.3g}" if cuts else "all"]
        labels += [f"[{a:.3g}, {b:.3g})" for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        if cuts:
            labels.append(f">= {cuts[-1]:.3g}")
    else:
        labels = histogram["categories"]
    return Markup(svg.grouped_bars(labels, histogram["reference"], histogram["current"]))


def _severity_svg(entries: list[dict[str, Any]]) -> Markup:
    judged = [e for e in entries if e.get("status") == "ok" and e.get("severity") is not None]
    if not judged:
        return Markup("")
    names = [e["feature"] for e in judged]
    ratios = [min(float(e["severity"]), 50.0) for e in judged]
    return Markup(svg.severity_bars(names, ratios))


def _concept_svg(concept: dict[str, Any] | None) -> Markup:
    if not concept or not concept.get("stream"):
        return Markup("")
    stream = concept["stream"]
    events = [
        (event["position"] / max(stream - 1, 1), f"{d['name']} fired at {event['position']}")
        for d in concept.get("detectors", [])
        for event in d["events"]
    ]
    return Markup(svg.line_with_events(concept["series"]["values"], events))


def render_html(report: dict[str, Any]) -> str:
    features = report.get("features", [])
    context = {
        "r": report,
        "features": features,
        "severity_svg": _severity_svg(features),
        "histograms": {e["feature"]: _histogram_svg(e) for e in features},
        "prediction_histograms": {
            e["feature"]: _histogram_svg(e) for e in report.get("prediction", [])
        },
        "concept_svg": _concept_svg(report.get("concept_drift")),
    }
    return _environment().get_template("report.html.j2").render(**context)
