"""Gates: ``metric op threshold`` conditions a candidate must meet to move on.

``error_rate<=0.01``, ``p99_ms<=50``, ``agreement>=0.9``, ``accuracy>=primary-0.02``,
``p99_ms<=primary*1.5``. A threshold is a number or an expression of the primary's own
value: ``primary``, ``primary+c``, ``primary-c``, ``primary*k`` or ``primary*k+c``.
Each metric lives in ``METRICS`` with what it needs (labels, a primary to compare with).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelport.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    description: str
    # May the threshold refer to the primary's value of the same metric?
    relative: bool = True
    # Needs ground-truth labels from feedback.
    labels: bool = False
    # Only for one output kind (None: both).
    kind: str | None = None
    # Which comparison makes sense: "<=" (lower is better), ">=" or both.
    directions: tuple[str, ...] = ("<=", ">=")
    # Prior scale of effects for the mSPRT mixture (see sequential.py); None: plug-in.
    tau: float | None = 0.1


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("error_rate", "share of requests that failed", directions=("<=",)),
        Metric(
            "agreement",
            "share of rows where candidate and primary predict the same (regression: within 5%)",
            relative=False,
            directions=(">=",),
        ),
        Metric(
            "mean_abs_diff",
            "mean |candidate - primary| over the same rows (regression)",
            relative=False,
            kind="regression",
            directions=("<=",),
            tau=None,
        ),
        Metric("accuracy", "share of labelled rows predicted right", labels=True),
        Metric(
            "loss",
            "log loss (or 0/1 loss without probabilities); absolute error for regression",
            labels=True,
            tau=None,
        ),
    )
}

_LATENCY = re.compile(r"^p(\d{1,2}(?:\.\d+)?)_ms$")
_GATE = re.compile(r"^\s*([a-z0-9_.]+)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_RELATIVE = re.compile(
    rf"^primary\s*(?:\*\s*(?P<scale>{_NUMBER}))?\s*(?:(?P<sign>[+-])\s*(?P<offset>{_NUMBER}))?$"
)


def latency_quantile(metric: str) -> float | None:
    """``p99_ms`` -> 0.99, ``p50_ms`` -> 0.5; None for other metrics.

    >>> latency_quantile("p99_ms"), latency_quantile("p99.9_ms"), latency_quantile("agreement")
    (0.99, 0.999, None)
    """
    match = _LATENCY.match(metric)
    if match is None:
        return None
    quantile = round(float(match.group(1)) / 100.0, 6)
    return quantile if 0.0 < quantile < 1.0 else None


@dataclass(frozen=True, slots=True)
class Gate:
    """``metric op (scale * primary + offset)``; ``scale == 0`` means an absolute number."""

    text: str
    metric: str
    op: str
    offset: float
    scale: float = 0.0

    @property
    def relative(self) -> bool:
        return self.scale != 0.0

    @property
    def upper(self) -> bool:
        """True for an upper bound (candidate value must stay below)."""
        return self.op in ("<=", "<")

    @property
    def needs_labels(self) -> bool:
        return self.metric in METRICS and METRICS[self.metric].labels

    def threshold(self, primary_value: float | None) -> float | None:
        if not self.relative:
            return self.offset
        if primary_value is None:
            return None
        return self.scale * primary_value + self.offset


def parse_gate(text: str) -> Gate:
    """Parse one gate; any mistake is a 422 naming the problem.

    >>> parse_gate("error_rate<=0.01")
    Gate(text='error_rate<=0.01', metric='error_rate', op='<=', offset=0.01, scale=0.0)
    >>> parse_gate("accuracy >= primary-0.02").offset
    -0.02
    >>> parse_gate("p99_ms<=primary*1.5").scale
    1.5
    >>> parse_gate("speed>=3")
    Traceback (most recent call last):
    ...
    modelport.errors.ValidationFailed: gate 'speed>=3': unknown metric 'speed' (known: ...
    """
    match = _GATE.match(text)
    if match is None:
        raise ValidationFailed(
            f"gate {text!r} must look like METRIC<=VALUE or METRIC>=VALUE "
            "(e.g. error_rate<=0.01, accuracy>=primary-0.02)",
            field="gates",
        )
    metric, op, right = match.groups()
    quantile = latency_quantile(metric)
    if metric not in METRICS and quantile is None:
        known = ", ".join([*METRICS, "p50_ms", "p99_ms", "pNN_ms"])
        raise ValidationFailed(
            f"gate {text!r}: unknown metric {metric!r} (known: {known})", field="gates"
        )
    spec = METRICS.get(metric) or Metric(metric, "latency quantile", directions=("<=",))
    if op[0] + "=" not in spec.directions:
        raise ValidationFailed(
            f"gate {text!r}: {metric} only makes sense with {' or '.join(spec.directions)}",
            field="gates",
        )
    scale, offset = _threshold(text, right)
    if scale != 0.0 and not spec.relative:
        raise ValidationFailed(
            f"gate {text!r}: {metric} already compares with the primary; give a number",
            field="gates",
        )
    if metric in ("error_rate", "agreement", "accuracy") and scale == 0.0:
        if not 0.0 <= offset <= 1.0:
            raise ValidationFailed(
                f"gate {text!r}: {metric} is a share between 0 and 1", field="gates"
            )
    if quantile is not None and scale == 0.0 and offset <= 0:
        raise ValidationFailed(f"gate {text!r}: a latency bound must be > 0 ms", field="gates")
    return Gate(text=text.strip(), metric=metric, op=op, offset=offset, scale=scale)


def _threshold(text: str, right: str) -> tuple[float, float]:
    right = right.strip().lower()
    if re.fullmatch(_NUMBER, right):
        return 0.0, float(right)
    match = _RELATIVE.match(right)
    if match is None:
        raise ValidationFailed(
            f"gate {text!r}: threshold {right!r} must be a number or primary[*k][+c|-c]",
            field="gates",
        )
    scale = float(match.group("scale") or 1.0)
    if scale <= 0:
        raise ValidationFailed(f"gate {text!r}: the scale must be > 0", field="gates")
    offset = float(match.group("offset") or 0.0)
    if match.group("sign") == "-":
        offset = -offset
    return scale, offset


def parse_gates(texts: list[str]) -> list[Gate]:
    gates = [parse_gate(text) for text in texts]
    seen: set[str] = set()
    for gate in gates:
        if gate.text in seen:
            raise ValidationFailed(f"gate {gate.text!r} is given twice", field="gates")
        seen.add(gate.text)
    return gates


# What every canary is held to unless the user says otherwise: no more errors than the
# primary (plus one point), no much slower tail, agreement with the primary on most rows.
# p95 rather than p99: a p99 needs ~500 requests per step before it can say anything.
DEFAULT_GATES = ["error_rate<=primary+0.01", "p95_ms<=primary*1.5+5", "agreement>=0.8"]
