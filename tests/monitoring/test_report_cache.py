"""Reports keep what they took from each log file (the segment cache): a repeated or
shifted report gives exactly the figures of one that reads every file again, whatever
happened to the files in between, and the cache stays within its budget."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from modelport.monitoring.reports import segments
from modelport.monitoring.reports.segments import NumericPiece, SegmentCache
from modelport.monitoring.reports.service import MonitoringService, ReportRequest
from modelport.predlog.compaction import compact_day
from modelport.predlog.reader import WindowSpec
from modelport.predlog.retention import LogRetention

from .conftest import NOON, World, by_feature, comparable, shop_frame

HOUR = timedelta(hours=1)
SECTIONS = ("drift", "prediction", "quality")


def hours(start: int, stop: int) -> WindowSpec:
    return WindowSpec(NOON + start * HOUR, NOON + stop * HOUR, label=f"{start}h..{stop}h")


def log_hours(world: World, count: int = 8, rows: int = 300) -> list[list[str]]:
    """One segment per hour from noon, the later ones drifting; request ids per hour."""
    ids = []
    for hour in range(count):
        frame = shop_frame(rows, seed=10 + hour)
        frame["a"] += 0.3 * hour
        frame.loc[frame.index[:10], "c"] = 5.0  # out of the declared range
        frame.loc[frame.index[10:20], "b"] = np.nan
        ids.append(world.log_frame(frame, at=NOON + hour * HOUR, prefix=f"h{hour}"))
    return ids


def reported(service: MonitoringService, window: WindowSpec) -> dict[str, Any]:
    body = service.report("shop", ReportRequest(window=window, sections=SECTIONS))
    json.dumps(body, allow_nan=False)
    return comparable(body)


def uncached(world: World) -> MonitoringService:
    return MonitoringService(
        world.registry, world.endpoints, world.log, world.feedback, cache_bytes=0
    )


def test_cached_reports_equal_uncached_ones_over_same_overlapping_and_disjoint_windows(
    world: World,
) -> None:
    log_hours(world)
    cached = world.service()
    first = reported(cached, hours(0, 6))
    assert first["window"]["rows"] == 6 * 300
    assert cached.segment_cache.misses == 6 and cached.segment_cache.hits == 0

    for window in (hours(0, 6), hours(2, 8), hours(6, 8)):
        again = reported(cached, window)
        assert again == reported(uncached(world), window), window.label
    # The repeated window read nothing, the shifted one only its two new hours, the
    # disjoint one nothing new.
    assert cached.segment_cache.hits == 6 + 4 + 2
    assert cached.segment_cache.misses == 6 + 2
    assert first == reported(cached, hours(0, 6))
    drift = by_feature(first["features"])
    assert drift["a"]["drifted"] is True
    quality = {q["feature"]: q for q in first["quality"]["features"]}
    assert quality["c"]["out_of_range"] == 6 * 10
    assert quality["b"]["missing"] == 6 * 10


def test_a_window_cutting_through_a_file_reads_that_file_each_time(world: World) -> None:
    log_hours(world, count=3)
    # Each hour's segment spans 3 s from the full hour; this window starts inside the first.
    window = WindowSpec(NOON + timedelta(seconds=1), NOON + 3 * HOUR, label="cut")
    keys = [segment.key for segment in world.window(window).segments()]
    assert keys[0] is None and all(key is not None for key in keys[1:])
    cached = world.service()
    first = reported(cached, window)
    assert first == reported(cached, window) == reported(uncached(world), window)
    assert first["window"]["rows"] == 3 * 300 - 100
    assert cached.segment_cache.misses == 3 + 1  # the cut file is read both times


def test_compaction_new_segments_retention_and_erasure_are_seen(world: World) -> None:
    ids = log_hours(world, count=4)
    cached = world.service()
    window = hours(0, 12)
    before = reported(cached, window)
    assert before["window"]["rows"] == 4 * 300

    # A compaction replaces the segments by one merged file: same rows, same figures.
    (folder,) = {p.parent for p in world.log.segments("shop")}
    compact_day(folder, grace_s=0)
    assert len(world.log.segments("shop")) == 1
    assert reported(cached, window) == before

    # A new segment in the window.
    world.log_frame(shop_frame(200, seed=99), at=NOON + 5 * HOUR, prefix="late")
    grown = reported(cached, window)
    assert grown["window"]["rows"] == 4 * 300 + 200
    assert grown == reported(uncached(world), window)

    # Erasing requests rewrites the files that held them: the erased rows are gone from
    # the next report, although the cache held the files as they were.
    erased = ids[0][:3]  # three requests of 50 rows
    LogRetention(world.log.root, world.db).forget(erased, actor="test")
    after = reported(cached, window)
    assert after["window"]["rows"] == 4 * 300 + 200 - 150
    assert after == reported(uncached(world), window)

    # Retention deletes a day folder: its rows leave the report.
    shutil.rmtree(folder)
    gone = reported(cached, window)
    assert gone["window"]["rows"] == 0
    assert gone == reported(uncached(world), window)


def test_exact_statistics_over_many_segments_equal_scipy(world: World) -> None:
    reference = shop_frame(5_000, seed=1)  # what the world registered
    # More current rows than reference rows (the current sample is the dense one), and
    # fewer: both ways round of the exact alignment.
    for rows, files in ((7_000, 14), (1_200, 6)):
        current = shop_frame(rows, seed=rows)
        current["a"] = current["a"] * 1.1 + 0.2
        current.loc[current.index[::97], "a"] = np.nan
        day = NOON + timedelta(days=rows % 7 + 1)
        size = rows // files
        for index in range(files):
            part = current.iloc[index * size : (index + 1) * size]
            world.log_frame(part, at=day + index * HOUR, prefix=f"s{rows}-{index}")
        window = WindowSpec(day, day + files * HOUR, label="files")
        service = world.service()
        for _ in range(2):  # read, then from the cache
            body = reported(service, window)
            entry = by_feature(body["features"])["a"]["results"]
            expected_ref = reference["a"].to_numpy()
            expected_cur = current["a"].dropna().to_numpy()
            ks = stats.ks_2samp(expected_ref, expected_cur)
            assert entry["ks"]["statistic"] == pytest.approx(ks.statistic, rel=1e-12, abs=0)
            assert entry["ks"]["p_value"] == pytest.approx(ks.pvalue, rel=1e-9)
            raw = stats.wasserstein_distance(expected_ref, expected_cur)
            assert entry["wasserstein"]["details"]["raw"] == pytest.approx(raw, rel=1e-9)
            assert entry["wasserstein"]["statistic"] == pytest.approx(
                raw / np.std(expected_ref), rel=1e-9
            )


def test_the_cache_stays_within_its_budget_and_drops_the_oldest_files(world: World) -> None:
    cache = SegmentCache(budget_bytes=1_000)
    piece = NumericPiece(50, np.arange(50, dtype=np.float64), 0)  # 400 bytes + 64
    cache.add("one", {("x", "numeric"): piece})
    cache.add("two", {("x", "numeric"): piece})
    assert cache.used_bytes == 2 * 464 and cache.evictions == 0
    cache.get("one")  # used last: "two" is now the oldest
    cache.add("three", {("x", "numeric"): piece})
    assert "two" not in cache and "one" in cache and "three" in cache
    assert cache.used_bytes == 2 * 464 <= cache.budget_bytes and cache.evictions == 1
    cache.add("big", {("x", "numeric"): NumericPiece(500, np.zeros(500), 0)})
    assert "big" not in cache  # larger than the whole budget: not kept

    log_hours(world)
    # About two files' numeric columns: reports keep working, the cache stays small.
    small = MonitoringService(
        world.registry, world.endpoints, world.log, world.feedback, cache_bytes=20_000
    )
    for window in (hours(0, 8), hours(0, 8), hours(3, 8)):
        assert reported(small, window) == reported(uncached(world), window)
        assert small.segment_cache.used_bytes <= 20_000
    assert small.segment_cache.evictions > 0
    assert 0 < len(small.segment_cache)


def test_a_file_whose_data_cannot_be_read_is_not_kept(world: World) -> None:
    log_hours(world, count=3)
    paths = world.log.segments("shop")
    # Damage the data pages of the middle file, keep its footer readable.
    damaged = paths[1]
    footer = pq.read_metadata(damaged).serialized_size + 8
    data = bytearray(damaged.read_bytes())
    data[4 : len(data) - footer] = bytes(len(data) - footer - 4)
    damaged.write_bytes(bytes(data))
    cached = world.service()
    for _ in range(2):
        body = reported(cached, hours(0, 3))
        assert [s["path"] for s in body["skipped_segments"]] == [str(damaged)]
    assert body == reported(uncached(world), hours(0, 3))
    assert cached.segment_cache.misses == 3 + 1  # the damaged file read both times


def test_large_files_are_read_a_few_columns_at_a_time_or_by_the_comparing_tasks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_hours(world, count=3)
    cut = WindowSpec(NOON + timedelta(seconds=1), NOON + 3 * HOUR, label="cut")
    expected = {w.label: reported(uncached(world), w) for w in (cut, hours(0, 3))}
    # As if every file were a compacted day: two numeric columns of a file at a time, and
    # the file the window cuts through left to the comparing tasks.
    monkeypatch.setattr(segments, "VALUES_AT_ONCE", 2 * 300)
    monkeypatch.setattr(segments, "DEFERRED_ROWS", 100)
    cached = world.service()
    for window in (cut, hours(0, 3), cut):
        assert reported(cached, window) == expected[window.label]
    gathered = segments.gather(world.window(cut), None, ["feature.a"], status=True)
    assert isinstance(gathered.numeric["feature.a"][0], segments.DeferredPiece)
    assert all(isinstance(p, NumericPiece) for p in gathered.numeric["feature.a"][1:])
