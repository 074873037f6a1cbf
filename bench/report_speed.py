"""Reports over a day of log segments as a server leaves them: cold, repeated, shifted.

    python bench/report_speed.py [--data bench/results/drift] [--repeats 3]

Uses the project and logs of ``bench/drift_modelport.py`` (built on first use: 1,000,000
rows × 20 numeric features over one UTC day, written through the log in 1,000 segments
of 1,000 rows, and a compacted copy). In each fresh process, ``MonitoringService.report``
with the drift and quality sections (PSI, KS, Wasserstein and Jensen-Shannon per feature
against the registered 100,000-row reference, and the data-quality figures) is timed:

* ``cold``: the first report over the window ``[day, day + 23h)`` (reference read and
  sorted, every segment read);
* ``warm``: the same window again (the segment cache holds every file);
* ``shifted``: the window an hour later, ``[day + 1h, day + 24h)``: 22 hours of files
  seen before and one hour of files never read;
* ``uncached``: the same shifted window with the segment cache turned off
  (``cache_bytes=0``), i.e. what every report cost before.

Each line gives wall and CPU seconds and the process's peak RSS after that report; the
cache's size is printed too. ``--variant compacted`` reads the compacted copy instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from drift_modelport import DAY, _settings, prepare  # noqa: E402

STEPS = ("cold", "warm", "shifted", "uncached")


def measure(work: Path, variant: str) -> dict[str, Any]:
    from modelport.monitoring.reports.service import MonitoringService, ReportRequest
    from modelport.predlog.feedback import FeedbackStore
    from modelport.predlog.parquet import ParquetPredictionLog
    from modelport.predlog.reader import WindowSpec
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registry
    from modelport.store.db import Database

    settings = _settings(work)
    db = Database(settings.database_url)
    registry = Registry(db, ArtifactStore(settings.artifacts_dir))
    log = ParquetPredictionLog(work / f"log-{variant}")
    endpoints = EndpointStore(db, registry)
    feedback = FeedbackStore(db, log)
    cached = MonitoringService(registry, endpoints, log, feedback)
    uncached = MonitoringService(registry, endpoints, log, feedback, cache_bytes=0)
    first = WindowSpec.of(since=DAY, until=DAY + timedelta(hours=23))
    later = WindowSpec.of(since=DAY + timedelta(hours=1), until=DAY + timedelta(hours=24))
    plan = [
        ("cold", cached, first),
        ("warm", cached, first),
        ("shifted", cached, later),
        ("uncached", uncached, later),
    ]
    steps: dict[str, Any] = {}
    for step, service, window in plan:
        request = ReportRequest(window=window, sections=("drift", "quality"))
        if step == "uncached":
            # Its comparators (the sorted reference) are built by the cached service's
            # first report; give this one the same, so only the log's reading differs.
            service._baselines = cached._baselines
        wall, cpu = time.perf_counter(), time.process_time()
        body = service.report("drift", request)
        steps[step] = {
            "s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
            "rows": body["window"]["rows"],
            "peak_rss_mib": round(_peak_rss_mib(), 1),
            "drifted": sorted(body["summary"]["drifted_features"]),
        }
    db.dispose()
    return {
        "variant": variant,
        "steps": steps,
        "cache_mib": round(cached.segment_cache.used_bytes / 2**20, 1),
        "cache_pieces": len(cached.segment_cache),
    }


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=BENCH / "results" / "drift")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", choices=("segments", "compacted"), default="segments")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = args.data / "modelport"
    if args.measure:
        json.dump(measure(work, args.variant), sys.stdout)
        return 0
    if not (args.data / "current.parquet").exists():
        subprocess.run(
            [sys.executable, str(BENCH / "make_drift_data.py"), "--out", str(args.data)],
            check=True,
        )
    prepare(args.data, work)
    command = [sys.executable, __file__, "--measure", "--data", str(args.data)]
    command += ["--variant", args.variant]
    runs = []
    for _ in range(args.repeats):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        runs.append(json.loads(done.stdout))
    print(f"{args.variant}, {os.cpu_count()} cores; each run a fresh process")
    header = f"{'step':<10}{'rows':>10}  {'wall s (each run)':<28}{'CPU s (each run)':<28}"
    print(header + "peak RSS MiB")
    for step in STEPS:
        walls = [run["steps"][step]["s"] for run in runs]
        cpus = [run["steps"][step]["cpu_s"] for run in runs]
        rss = max(run["steps"][step]["peak_rss_mib"] for run in runs)
        rows = runs[0]["steps"][step]["rows"]
        print(
            f"{step:<10}{rows:>10,}  {', '.join(f'{w:.3f}' for w in walls):<28}"
            f"{', '.join(f'{c:.3f}' for c in cpus):<28}{rss:,.0f}"
        )
    print(f"segment cache: {runs[0]['cache_mib']} MiB in {runs[0]['cache_pieces']} pieces")
    print(f"drifted: {runs[0]['steps']['cold']['drifted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
