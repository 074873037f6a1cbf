"""The stored state of a version's ONNX fast path, read without importing any ONNX library.

A scikit-learn version may be served by onnxruntime instead of scikit-learn once its
converted model has agreed with the original on the version's reference sample
(``registry/fast_path.py`` converts and checks). The state is one JSON object on the
version's row::

    {"enabled": true,                      # the user's switch (on unless turned off)
     "status": "passed",                   # passed | failed | unavailable
     "reason": null,                       # why it failed or is unavailable
     "max_abs_diff": 2.2e-16, "rows": 5000, "checked_at": "2026-12-01T18:40:00+00:00",
     "versions": {"skl2onnx": "1.20.0", "onnx": "1.23.2", "onnxruntime": "1.32.0"},
     "opsets": {"": 13, "ai.onnx.ml": 1}, "input_type": "double",
     "artifact_path": "blobs/..", "artifact_sha256": "..",
     "classes": [0, 1], "classes_dtype": "<i8", "feature_order": null}

Only a check that passed, with the switch on, makes a version serve through onnxruntime.
"""

from __future__ import annotations

from typing import Any

PASSED = "passed"
FAILED = "failed"
UNAVAILABLE = "unavailable"

# Keys of the stored state that the public view leaves out (how the artifact is read).
_PRIVATE = ("artifact_path", "classes", "classes_dtype", "feature_order")


def onnx_sha256(state: dict[str, Any] | None) -> str | None:
    """The ONNX artifact a version is served with, or None when scikit-learn serves it.

    >>> onnx_sha256({"enabled": True, "status": "passed", "artifact_sha256": "ab"})
    'ab'
    >>> onnx_sha256({"enabled": False, "status": "passed", "artifact_sha256": "ab"}) is None
    True
    """
    if not state or not state.get("enabled", True) or state.get("status") != PASSED:
        return None
    sha = state.get("artifact_sha256")
    return str(sha) if sha else None


def runtime_of(flavor: str, state: dict[str, Any] | None) -> str:
    """What a version's predictor runs on when loaded: ``onnx`` for a scikit-learn version
    whose fast path is on and checked, otherwise its flavor's library."""
    if flavor == "sklearn" and onnx_sha256(state) is not None:
        return "onnx"
    return {"sklearn": "sklearn", "onnx": "onnx", "python": "python"}.get(flavor, flavor)


def fast_path_view(flavor: str, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fast path as ``models show`` and the HTTP API show it (None for flavors that
    have none)."""
    if flavor != "sklearn":
        return None
    if state is None:
        return {"enabled": True, "status": "unchecked", "reason": None, "runtime": "sklearn"}
    view = {k: v for k, v in state.items() if k not in _PRIVATE}
    view.setdefault("enabled", True)
    view["runtime"] = runtime_of(flavor, state)
    return view


__all__ = ["FAILED", "PASSED", "UNAVAILABLE", "fast_path_view", "onnx_sha256", "runtime_of"]
