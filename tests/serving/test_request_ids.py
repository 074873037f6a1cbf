"""Request ids: 128 random bits each, never repeated, also when taken from threads."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from modelport.serving.dataplane import _RequestIds, new_request_id


def test_ids_are_32_hex_digits_and_distinct_across_refills() -> None:
    ids = [new_request_id() for _ in range(3 * _RequestIds.IDS_PER_REFILL + 7)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == len(ids)


def test_ids_taken_from_many_threads_never_repeat() -> None:
    source = _RequestIds()
    with ThreadPoolExecutor(8) as pool:
        chunks = list(pool.map(lambda _: [source() for _ in range(500)], range(8)))
    ids = [value for chunk in chunks for value in chunk]
    assert len(set(ids)) == len(ids) == 4000
