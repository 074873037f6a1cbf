import pytest

from modelport.errors import ConfigError
from modelport.monitoring.stats import REGISTRY, get_stat, stats_for
from modelport.monitoring.stats.registry import DEFAULT_DECISION, DEFAULT_STATS


def test_every_statistic_declares_its_metadata() -> None:
    for name, spec in REGISTRY.items():
        assert spec.name == name
        assert spec.kinds <= {"numeric", "categorical"} and spec.kinds
        assert spec.test_type in ("distance", "p_value")
        assert spec.direction == ("above" if spec.test_type == "distance" else "below")
        assert spec.default_threshold > 0 and spec.summary


def test_defaults_decide_with_distances() -> None:
    for kind, name in DEFAULT_DECISION.items():
        assert get_stat(name).test_type == "distance"
        assert kind in get_stat(name).kinds
        assert set(DEFAULT_STATS[kind]) <= set(stats_for(kind))


def test_ordered_statistics_are_numeric_only() -> None:
    assert "ks" not in stats_for("categorical")
    assert "wasserstein" not in stats_for("categorical")


def test_unknown_statistic_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown statistic 'pis'"):
        get_stat("pis")
