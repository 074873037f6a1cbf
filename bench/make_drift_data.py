"""Write the drift benchmark's data: a reference and a current parquet file.

Twenty float64 features ``f0..f19`` (the names the serving benchmark's model uses).
The reference is 100,000 rows; the current window is 1,000,000 rows in which some
features moved, so that every drift method has something to find and something not to:

* ``f0..f3``  mean shift of 0.1, 0.25, 0.5 and 1.0 standard deviations
* ``f4..f5``  scale change (x1.25, x0.8)
* ``f6``      a skewed (log-normal) feature whose skew grows
* ``f7``      5% of rows replaced by an outlier cluster
* ``f8..f19`` unchanged

The files are deterministic: the same seed gives byte-identical parquet files.

    python bench/make_drift_data.py [--out bench/results/drift] [--current-rows 1000000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "drift"
# Rows generated per step, to keep the generator's own memory flat.
CHUNK_ROWS = 250_000


def _feature_columns(rng: np.random.Generator, rows: int, current: bool) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    # Each feature has its own location and scale so that no method sees 20 copies.
    locations = np.linspace(-5.0, 5.0, N_FEATURES)
    scales = np.linspace(0.5, 3.0, N_FEATURES)
    for index, name in enumerate(FEATURES):
        loc, scale = locations[index], scales[index]
        standard = rng.standard_normal(rows)
        if current and index <= 3:
            standard = standard + (0.1, 0.25, 0.5, 1.0)[index]
        elif current and index in (4, 5):
            standard = standard * (1.25 if index == 4 else 0.8)
        if index == 6:
            sigma = 0.75 if current else 0.5
            columns[name] = loc + scale * rng.lognormal(0.0, sigma, rows)
            continue
        values = loc + scale * standard
        if current and index == 7:
            outliers = rng.random(rows) < 0.05
            values[outliers] = loc + 8 * scale + rng.standard_normal(int(outliers.sum()))
        columns[name] = values
    return columns


def write_table(path: Path, rows: int, seed: int, current: bool) -> None:
    """Write ``rows`` rows to ``path`` in chunks, each chunk with its own child seed."""
    schema = pa.schema([(name, pa.float64()) for name in FEATURES])
    seeds = np.random.SeedSequence(seed).spawn((rows + CHUNK_ROWS - 1) // CHUNK_ROWS)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        remaining = rows
        for child in seeds:
            size = min(CHUNK_ROWS, remaining)
            columns = _feature_columns(np.random.default_rng(child), size, current)
            writer.write_table(pa.table(columns, schema=schema))
            remaining -= size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--current-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reference = args.out / "reference.parquet"
    current = args.out / "current.parquet"
    write_table(reference, args.reference_rows, args.seed, current=False)
    write_table(current, args.current_rows, args.seed + 1, current=True)
    elapsed = time.perf_counter() - started
    print(f"wrote {reference} ({args.reference_rows:,} rows)")
    print(f"wrote {current} ({args.current_rows:,} rows) in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
