"""The columnar history (the dashboard's heat map and per-feature charts): stored points
of one version's windows as arrays aligned with one ``times`` array, in a real SQLite
store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelport.errors import ValidationFailed
from modelport.monitoring.live import queries
from modelport.monitoring.live.series import SeriesStore, WindowKey
from modelport.store.db import Database

START = datetime(2026, 3, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def series(tmp_path: Path) -> Iterator[SeriesStore]:
    db = Database(f"sqlite:///{tmp_path / 'series.db'}")
    try:
        yield SeriesStore(db)
    finally:
        db.dispose()


def point(
    feature: str,
    statistic: str,
    value: float | None,
    *,
    threshold: float | None = 0.1,
    drifted: bool | None = False,
    rows: int = 500,
) -> dict[str, Any]:
    return {
        "feature": feature,
        "statistic": statistic,
        "status": "ok" if value is not None else "not_enough_data",
        "value": value,
        "p_value": None,
        "threshold": threshold,
        "drifted": drifted,
        "rows": rows,
        "baseline": "reference",
    }


def store(
    series: SeriesStore,
    hour: int,
    points: list[dict[str, Any]],
    version: int = 1,
    window: str = "1h",
) -> None:
    start = START + hour * HOUR
    series.upsert_points(WindowKey("churn", version, window, start, start + HOUR), points, False)


def test_decision_answers_the_deciding_statistic_per_feature_and_window(
    series: SeriesStore,
) -> None:
    # tenure is numeric (psi decides); plan is categorical (cramers_v is stored: it decides).
    for hour in range(3):
        store(
            series,
            hour,
            [
                point("tenure", "psi", 0.01 * (hour + 1), threshold=0.04, drifted=hour == 2),
                point("tenure", "ks", 0.5, threshold=0.05, drifted=True),
                point("plan", "psi", 0.9, threshold=0.04, drifted=True),
                point("plan", "cramers_v", 0.02 * hour, threshold=0.1, drifted=False),
                point("plan", "missing_rate", 0.0, threshold=None, drifted=None),
                point("__prediction__", "psi", 0.03, threshold=0.04, drifted=False),
                point("__dataset__", "rows", 500.0, threshold=None, drifted=None),
            ],
        )
    store(series, 1, [point("tenure", "psi", 0.7, drifted=True)], version=2)

    body = queries.history_columns(series, "churn", version=1, window="1h", decision=True)

    assert body["times"] == [(START + h * HOUR).isoformat() for h in range(3)]
    by_feature = {entry["feature"]: entry for entry in body["series"]}
    assert sorted(by_feature) == ["plan", "tenure"]
    tenure, plan = by_feature["tenure"], by_feature["plan"]
    assert (tenure["statistic"], tenure["values"]) == ("psi", [0.01, 0.02, 0.03])
    assert tenure["drifted"] == [False, False, True]
    assert tenure["thresholds"] == [0.04] * 3 and tenure["threshold"] == 0.04
    assert (plan["statistic"], plan["values"]) == ("cramers_v", [0.0, 0.02, 0.04])
    assert plan["drifted"] == [False] * 3 and plan["rows"] == [500] * 3
    assert "statistics" not in plan  # one statistic decided every window
    assert [entry["feature"] for entry in body["outputs"]] == ["__prediction__"]


def test_windows_without_a_figure_are_null_and_versions_and_sizes_stay_apart(
    series: SeriesStore,
) -> None:
    store(series, 0, [point("tenure", "psi", 0.01), point("charges", "psi", 0.02)])
    store(series, 2, [point("tenure", "psi", 0.03)])
    store(series, 1, [point("tenure", "psi", 0.9)], version=2)
    store(series, 1, [point("tenure", "psi", 0.9)], window="15m")

    body = queries.history_columns(series, "churn", version=1, window="1h", decision=True)

    assert len(body["times"]) == 2  # hour 1 is another version's and another size's
    charges = next(entry for entry in body["series"] if entry["feature"] == "charges")
    assert charges["values"] == [0.02, None] and charges["drifted"] == [False, None]
    other = queries.history_columns(series, "churn", version=2, window="1h", decision=True)
    assert other["series"][0]["values"] == [0.9]


def test_where_psi_has_no_verdict_the_statistic_that_carries_one_decides(
    series: SeriesStore,
) -> None:
    store(
        series,
        0,
        [
            point("tenure", "psi", None, drifted=None, rows=40),
            point("tenure", "ks", 0.3, threshold=0.05, drifted=True, rows=40),
        ],
    )
    store(series, 1, [point("tenure", "psi", 0.01, threshold=0.04, drifted=False)])
    store(series, 2, [point("tenure", "psi", 0.02, threshold=0.04, drifted=False)])

    body = queries.history_columns(series, "churn", version=1, window="1h", decision=True)

    [tenure] = body["series"]
    assert tenure["statistic"] == "psi"  # decided most windows
    assert tenure["statistics"] == ["ks", "psi", "psi"]
    assert tenure["values"] == [0.3, 0.01, 0.02] and tenure["drifted"] == [True, False, False]


def test_columns_of_chosen_features_and_statistics_within_a_span(series: SeriesStore) -> None:
    for hour in range(4):
        store(
            series,
            hour,
            [
                point("tenure", "psi", 0.01 * hour),
                point("tenure", "missing_rate", 0.1 * hour, threshold=None, drifted=None),
                point("plan", "missing_rate", 0.5, threshold=None, drifted=None),
            ],
        )

    body = queries.history_columns(
        series,
        "churn",
        version=1,
        window="1h",
        since=START + HOUR,
        until=START + 3 * HOUR,
        features=["tenure"],
        statistics=["missing_rate", "psi"],
    )

    assert body["times"] == [(START + h * HOUR).isoformat() for h in (1, 2)]
    assert [(e["feature"], e["statistic"]) for e in body["series"]] == [
        ("tenure", "missing_rate"),
        ("tenure", "psi"),
    ]
    assert body["series"][0]["values"] == [0.1, 0.2]
    assert body["series"][0]["threshold"] is None
    assert "outputs" not in body


def test_grouped_columns_show_each_groups_worst_window(series: SeriesStore) -> None:
    # Seven hourly windows in at most three columns: three windows per column.
    psi = [0.01, 0.09, 0.02, 0.03, 0.01, 0.02, 0.5]
    for hour, value in enumerate(psi):
        store(
            series,
            hour,
            [
                point("tenure", "psi", value, threshold=0.1, drifted=value > 0.1),
                # PSI carries no verdict for plan, so KS decides: a p-value test, whose
                # verdict, not its size, is the severity.
                point("plan", "psi", 0.2, threshold=0.1, drifted=None),
                point("plan", "ks", 0.9 if hour != 4 else 0.001, threshold=0.05, drifted=hour == 4),
            ],
        )

    body = queries.history_columns(
        series, "churn", version=1, window="1h", decision=True, columns=3
    )

    assert body["per"] == 3
    assert body["times"] == [(START + h * HOUR).isoformat() for h in (0, 3, 6)]
    plan, tenure = body["series"]
    assert tenure["values"] == [0.09, 0.03, 0.5]
    assert tenure["drifted"] == [False, False, True]
    assert tenure["drifted_now"] is True
    assert plan["values"] == [0.9, 0.001, 0.9]
    assert plan["drifted"] == [False, True, False]
    assert plan["drifted_now"] is False
    whole = queries.history_columns(series, "churn", version=1, window="1h", decision=True)
    assert whole["per"] == 1 and len(whole["times"]) == 7


def test_an_answer_too_large_names_what_to_narrow(
    series: SeriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "MAX_COLUMN_POINTS", 2)
    store(series, 0, [point("tenure", "psi", 0.1), point("plan", "psi", 0.1)])
    store(series, 1, [point("tenure", "psi", 0.1)])
    with pytest.raises(ValidationFailed, match="name a feature or stat"):
        queries.history_columns(series, "churn", version=1, window="1h")
    narrowed = queries.history_columns(series, "churn", version=1, window="1h", features=["plan"])
    assert narrowed["series"][0]["values"] == [0.1]
