"""Background copies dropped when behind are a random subset, not the latest arrivals
or one role's copies, so comparisons on the copies kept stay unbiased."""

from __future__ import annotations

import random

from modelport.serving.dataplane import MAX_MIRRORS_IN_FLIGHT, MIRRORS_DROP_FROM, keep_mirror


def test_nothing_is_dropped_until_the_queue_is_half_full() -> None:
    coin = random.Random(1)
    assert all(keep_mirror(n, coin.random()) for n in range(MIRRORS_DROP_FROM))
    assert not any(keep_mirror(MAX_MIRRORS_IN_FLIGHT, coin.random()) for _ in range(100))


def test_when_behind_every_copy_has_the_same_chance_whatever_its_role_or_order() -> None:
    coin = random.Random(2)
    in_flight = 200  # behind: (256 - 200) / 128 = 0.4375 of new copies run
    roles = ["shadow", "baseline"] * 5000
    kept = [keep_mirror(in_flight, coin.random()) for _ in roles]
    by_role = {
        role: sum(k for k, r in zip(kept, roles, strict=True) if r == role) / 5000
        for role in ("shadow", "baseline")
    }
    assert all(abs(share - 0.4375) < 0.03 for share in by_role.values()), by_role
    # Neither the first nor the last arrivals are favoured.
    first, last = sum(kept[:5000]) / 5000, sum(kept[5000:]) / 5000
    assert abs(first - last) < 0.03
