"""The log window monitoring reads picks exactly the rows of a window, from statistics
where it can."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from modelport.predlog.compaction import compact_day
from modelport.predlog.reader import LogWindow, WindowSpec

from .conftest import NOON, World, shop_frame


def logged(world: World) -> None:
    """Three hours of traffic: 300 rows at 12:00, 13:00 (version 2) and 14:00 (shadow)."""
    world.log_frame(shop_frame(300, 1), at=NOON, prefix="noon")
    second = world.register(shop_frame(2_000, 2))
    world.log_frame(shop_frame(300, 2), at=NOON + timedelta(hours=1), version=second, prefix="one")
    world.log_frame(shop_frame(300, 3), at=NOON + timedelta(hours=2), role="shadow", prefix="two")


def ids(window: LogWindow) -> list[str]:
    return sorted(set(window.text("request_id").to_pylist()))


def test_time_version_and_role_filters(world: World) -> None:
    logged(world)
    hour = WindowSpec(NOON + timedelta(minutes=30), NOON + timedelta(minutes=90))

    everything = world.window(WindowSpec(), roles=None)
    served = world.window(WindowSpec())
    one_hour = world.window(hour)
    version_one = world.window(WindowSpec(), versions=[1])

    assert (everything.n_rows, served.n_rows, one_hour.n_rows, version_one.n_rows) == (
        900,
        600,
        300,
        300,
    )
    assert ids(one_hour)[0].startswith("one-") and ids(version_one)[0].startswith("noon-")
    assert len(one_hour.numeric("feature.a")) == 300


def test_a_window_inside_one_file_reads_no_meta_column(world: World) -> None:
    world.log_frame(shop_frame(2_000, 4), rows_per_request=10)
    compact_day(world.log.root / "shop" / NOON.strftime("%Y-%m-%d"))

    whole = world.window(WindowSpec(NOON, NOON + timedelta(hours=1)))

    # Row-group statistics show every row qualifies: no ts/version/role is read.
    assert [part.mask for part in whole.parts] == [None]
    assert whole.n_rows == 2_000


def test_newest_rows_and_the_ones_before_them(world: World) -> None:
    world.log_frame(shop_frame(1_000, 5), rows_per_request=100)
    newest = world.window(WindowSpec(last=250))
    before = world.window(WindowSpec(last=250, skip=250))
    request_ids = [f"req-{i}" for i in range(10)]

    assert newest.n_rows == before.n_rows == 250
    assert ids(newest) == request_ids[7:]
    assert ids(before) == request_ids[5:8]
    logged_a = shop_frame(1_000, 5)["a"].to_numpy()
    np.testing.assert_array_equal(newest.numeric("feature.a"), logged_a[-250:])
    np.testing.assert_array_equal(before.numeric("feature.a"), logged_a[-500:-250])


def test_unreadable_segments_are_skipped_and_listed(world: World) -> None:
    world.log_frame(shop_frame(100, 6))
    broken = world.log.root / "shop" / NOON.strftime("%Y-%m-%d") / "0000000000000-1-1.parquet"
    broken.write_bytes(b"not parquet")

    window = world.window(WindowSpec())

    assert window.n_rows == 100
    assert [path for path, _ in window.skipped] == [str(broken)]


def test_many_small_segments_read_the_same_as_one_file(world: World) -> None:
    frame = shop_frame(1_000, 7)
    for index in range(40):  # more files than MANY_FILES: read in one pass per file
        world.log_frame(
            frame.iloc[index * 25 : (index + 1) * 25],
            prefix=f"s{index}",
            at=NOON + timedelta(seconds=index),
        )
    window = world.window(WindowSpec())
    window.prefetch(["feature.a", "feature.plan"])

    np.testing.assert_array_equal(window.numeric("feature.a"), frame["a"].to_numpy())
    assert window.text("feature.plan").to_pylist() == frame["plan"].tolist()
    assert window.column("feature.nothing") is None
