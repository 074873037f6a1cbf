"""A synthetic figure source for alert service tests: the Observer's three methods over
values a test sets. It stands in for the monitoring plane's figures (another component's
input), never for the alert code under test; end-to-end tests use the real Observer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from modelport.alerts.lifecycle import Observation
from modelport.alerts.observe import Observer
from modelport.alerts.rules import Rule
from modelport.store.db import Database


@dataclass
class SyntheticObserver(Observer):
    """Endpoints with their features, and one value per (endpoint, metric, feature)."""

    schema: dict[str, list[str]] = field(default_factory=dict)
    values: dict[tuple[str, str, str | None], float | None] = field(default_factory=dict)
    samples: int | None = None
    failing: set[str] = field(default_factory=set)  # rules whose observation raises
    observed: list[str] = field(default_factory=list)

    def endpoints(self) -> set[str]:
        return set(self.schema)

    def features(self, endpoint: str, metric: str | None = None) -> list[str]:
        return list(self.schema.get(endpoint, []))

    def observe(self, rule: Rule, at: datetime) -> list[Observation]:
        self.observed.append(rule.name)
        if rule.name in self.failing:
            raise RuntimeError(f"figures of {rule.name} unreadable")
        observations = []
        for labels in rule.label_sets(self.features(rule.endpoint)):
            value = self.values.get((rule.endpoint, rule.metric, labels.get("feature")))
            observations.append(Observation(labels, value, self.samples))
        return observations

    def set(self, metric: str, value: float | None, feature: str | None = None) -> None:
        self.values[("churn", metric, feature)] = value


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control' / 'modelport.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def observer() -> SyntheticObserver:
    return SyntheticObserver(schema={"churn": ["tenure", "charges", "plan"]})
