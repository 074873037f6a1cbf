"""Backfill: closed windows recomputed from the log, stored once however often it runs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from modelport.errors import ValidationFailed
from modelport.monitoring.live.backfill import backfill

from ..conftest import NOON, World, shop_frame


def test_closed_windows_are_stored_final_and_recomputing_replaces_them(world: World) -> None:
    world.log_frame(shop_frame(800, seed=50), at=NOON, prefix="noon", spacing_s=1.0)
    shifted = shop_frame(800, seed=51)
    shifted["a"] += 3.0
    ids = world.log_frame(shifted, at=NOON + timedelta(hours=1), prefix="one", spacing_s=1.0)
    world.label([(request_id, 0, "yes") for request_id in ids])
    since, until = NOON.isoformat(), (NOON + timedelta(hours=2)).isoformat()

    first = backfill(world.service(), world.series, "shop", "1h", since=since, until=until)
    again = backfill(world.service(), world.series, "shop", "1h", since=since, until=until)

    assert len(first) == len(again) == 2
    psi = world.series.points("shop", feature="a", statistic="psi")
    assert [p["drifted"] for p in psi] == [False, True]
    assert all(p["final"] and p["rows"] == 800 for p in psi)
    labelled = world.series.points("shop", feature="__performance__", statistic="labelled")
    assert [p["value"] for p in labelled] == [0.0, 16.0]
    states = world.series.states("shop", 1)
    assert [(s.process, s.rows) for s in states] == [("backfill", 800), ("backfill", 800)]
    assert np.isclose(
        world.series.points("shop", feature="__dataset__", statistic="share_drifted")[1]["value"],
        0.2,
    )


def test_count_windows_and_versions_without_a_baseline_are_refused(world: World) -> None:
    with pytest.raises(ValidationFailed) as count:
        backfill(world.service(), world.series, "shop", "1000rows")
    bare = world.register(reference=None)
    with pytest.raises(ValidationFailed) as bare_refused:
        backfill(world.service(), world.series, "shop", "1h", version=bare.version)
    assert count.value.field == "every"
    assert bare_refused.value.field == "version"
    assert "no reference data" in bare_refused.value.message
