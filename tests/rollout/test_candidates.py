"""The misbehaving test candidates misbehave reproducibly: which live rows ``Flaky`` fails
on is a function of the rows alone, the same in every run and every process."""

from __future__ import annotations

import random

import pandas as pd

from rollout.candidates import Flaky, unlucky


def _traffic_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows like the ones ``Traffic.instance`` sends."""
    rng = random.Random(seed)
    return pd.DataFrame(
        [
            {
                "tenure": rng.randint(0, 71),
                "charges": round(rng.uniform(20, 120), 2),
                "plan": rng.choice(["basic", "plus", "pro"]),
            }
            for _ in range(n)
        ]
    )


def _fails(model: Flaky, frame: pd.DataFrame) -> bool:
    try:
        model.predict(frame)
    except RuntimeError:
        return True
    return False


def test_flaky_fails_on_the_same_rows_every_time() -> None:
    rows = _traffic_rows(400)
    model = Flaky()

    first = [_fails(model, rows.iloc[[i]]) for i in range(len(rows))]
    second = [_fails(Flaky(), rows.iloc[[i]]) for i in range(len(rows))]

    assert first == second
    assert first == [unlucky(t, c) for t, c in zip(rows.tenure, rows.charges, strict=True)]
    assert 0.2 <= sum(first) / len(first) <= 0.4  # "about 30 %"


def test_a_batch_fails_exactly_when_one_of_its_rows_is_unlucky() -> None:
    rows = _traffic_rows(60, seed=3)
    picked = [unlucky(t, c) for t, c in zip(rows.tenure, rows.charges, strict=True)]
    lucky = [i for i, bad in enumerate(picked) if not bad]
    bad = picked.index(True)

    assert not _fails(Flaky(), rows.iloc[lucky[:5]])
    assert _fails(Flaky(), rows.iloc[[*lucky[:4], bad]])


def test_warm_up_and_registration_calls_never_fail() -> None:
    warm_up = pd.DataFrame({"tenure": [0], "charges": [0.0], "plan": ["basic"]})
    reference = _traffic_rows(600)  # registration predicts on the whole reference data
    assert any(unlucky(t, c) for t, c in zip(reference.tenure, reference.charges, strict=True))

    assert not _fails(Flaky(), warm_up)
    assert not _fails(Flaky(), reference)
