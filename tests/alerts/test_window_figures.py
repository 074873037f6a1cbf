"""The drift decision a rule reads: the deciding statistic's verdict, whichever carries it."""

from __future__ import annotations

from typing import Any

from modelport.alerts.window_figures import WindowFigures


def _point(drifted: bool | None, rows: int = 300) -> dict[str, Any]:
    return {"status": "ok", "value": 0.1, "drifted": drifted, "rows": rows}


def test_the_default_deciding_statistic_decides() -> None:
    figures = WindowFigures(
        None, {("tenure", "psi"): _point(False), ("tenure", "ks"): _point(True)}
    )
    assert figures.decision("tenure") == (0.0, 300)


def test_a_verdict_on_another_statistic_decides_when_psi_has_none() -> None:
    # PSI without bins (a small-integer feature) carries no verdict; the calibrated KS did.
    figures = WindowFigures(
        None, {("tenure", "psi"): _point(None), ("tenure", "ks"): _point(True, rows=120)}
    )
    assert figures.decision("tenure") == (1.0, 120)
    assert figures.decision("charges") == (None, None)
