"""A run killed half-way and resumed scores every row exactly once: output and log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from modelport.config import Settings
from modelport.predlog.compaction import compact_endpoint
from modelport.scoring import BatchRequest, Manifest, RunState
from modelport.server import Services
from scoring.conftest import customers, logged_batch_rows, parquet_rows
from support import cli_env, run_cli

ROWS = 200_000
CHUNK = 2_000


def _start(project: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport.cli.main",
            "batch",
            "churn",
            "big.parquet",
            "-o",
            "scored.parquet",
            "--chunk",
            str(CHUNK),
            *extra,
        ],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _kill_after(process: subprocess.Popen[str], manifest: Path, chunks: int) -> Manifest:
    """SIGKILL the run once its checkpoint counts ``chunks`` committed chunks."""
    while process.poll() is None:
        if manifest.exists():
            try:
                done = json.loads(manifest.read_text())["chunks_done"]
            except ValueError:
                done = 0  # replaced while read: try again
            if done >= chunks:
                process.send_signal(signal.SIGKILL)
                break
        time.sleep(0.005)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return Manifest.load(manifest)


def _assert_exactly_once(project: Path, source: pd.DataFrame) -> None:
    scored = parquet_rows(project / "scored.parquet")
    assert scored["id"].tolist() == source["id"].tolist()
    logged = logged_batch_rows(project)
    assert len(logged) == len(source)
    assert not logged.duplicated(["request_id", "row"]).any()
    # Each input row once: the logged feature values are the input's, as a multiset.
    np.testing.assert_array_equal(np.sort(logged["feature.charges"]), np.sort(source["charges"]))
    np.testing.assert_array_equal(np.sort(logged["feature.tenure"]), np.sort(source["tenure"]))


def test_a_run_killed_half_way_and_resumed_scores_every_row_exactly_once(
    churn_project: Path,
) -> None:
    source = customers(ROWS)
    source.to_parquet(churn_project / "big.parquet", index=False, row_group_size=7_777)
    manifest_file = churn_project / "scored.parquet.batch.json"
    killed = _kill_after(_start(churn_project), manifest_file, chunks=3)
    assert killed.state == RunState.RUNNING
    assert 3 <= killed.chunks_done < ROWS // CHUNK
    assert not (churn_project / "scored.parquet").exists()

    # Without --resume the interrupted run is not silently started over.
    again = run_cli(
        "batch", "churn", "big.parquet", "-o", "scored.parquet", cwd=churn_project, check=False
    )
    assert again.returncode == 1 and "--resume" in again.stderr

    # Killed a second time, further on; then finished.
    second = _kill_after(_start(churn_project, "--resume"), manifest_file, killed.chunks_done + 3)
    assert second.job == killed.job and second.resumed == 1
    result = run_cli(
        "batch",
        "churn",
        "big.parquet",
        "-o",
        "scored.parquet",
        "--resume",
        "--json",
        cwd=churn_project,
    )
    summary = json.loads(result.stdout)
    assert summary["state"] == "done"
    assert summary["rows_read"] == summary["rows_scored"] == ROWS
    assert summary["resumed"] == 2
    _assert_exactly_once(churn_project, source)

    # Resuming a finished run does nothing.
    run_cli("batch", "churn", "big.parquet", "-o", "scored.parquet", "--resume", cwd=churn_project)
    assert len(logged_batch_rows(churn_project)) == ROWS


def test_resume_refuses_an_input_that_changed(churn_project: Path) -> None:
    source = customers(ROWS)
    source.to_parquet(churn_project / "big.parquet", index=False)
    _kill_after(_start(churn_project), churn_project / "scored.parquet.batch.json", chunks=2)
    customers(ROWS, seed=9).to_parquet(churn_project / "big.parquet", index=False)
    result = run_cli(
        "batch",
        "churn",
        "big.parquet",
        "-o",
        "scored.parquet",
        "--resume",
        cwd=churn_project,
        check=False,
    )
    assert result.returncode == 1
    assert "conflict [input]" in result.stderr and "input changed" in result.stderr


def test_chunks_logged_after_a_lost_checkpoint_are_not_scored_again(
    churn_project: Path,
) -> None:
    """The crash window between a chunk's log segment and its checkpoint (or checkpoints
    lost with the page cache): the log segment is the commit point."""
    source = customers(10_000)
    source.to_parquet(churn_project / "mid.parquet", index=False)
    settings = Settings.load(churn_project / "modelport.toml")
    services = Services.build(settings)
    output = churn_project / "mid-scored.parquet"
    try:
        request = BatchRequest("churn", churn_project / "mid.parquet", output, chunk=1_000)
        stops = iter([False] * 6 + [True])
        first = services.batch.run(services.batch.prepare(request), should_stop=lambda: next(stops))
        assert first.state == RunState.INTERRUPTED and first.chunks_done == 6
        # Roll the checkpoint back four chunks, as if those updates never reached disk.
        lost = Manifest.load(first.path)
        lost.chunks_done, lost.state = 2, RunState.RUNNING
        lost.rows_read = lost.rows_scored = 2_000
        lost.save()
        resumed = services.batch.prepare(BatchRequest("churn", request.input, output, resume=True))
        done = services.batch.run(resumed)
    finally:
        services.close()
    assert done.state == RunState.DONE
    assert done.rows_read == done.rows_scored == 10_000
    scored = parquet_rows(output)
    assert scored["id"].tolist() == source["id"].tolist()
    logged = logged_batch_rows(churn_project)
    assert len(logged) == 10_000 and not logged.duplicated(["request_id", "row"]).any()


def test_a_stale_rejects_part_does_not_survive_a_redone_chunk(churn_project: Path) -> None:
    frame = customers(100)
    frame.to_parquet(churn_project / "in.parquet", index=False)
    run_cli("batch", "churn", "in.parquet", "-o", "out.parquet", cwd=churn_project)
    old = churn_project / "out.parquet.rejects.parquet"
    old.write_bytes(b"from an earlier run")
    os.utime(churn_project / "in.parquet")
    run_cli("batch", "churn", "in.parquet", "-o", "out.parquet", cwd=churn_project)
    assert not old.exists()


def test_chunks_merged_by_log_compaction_still_count_as_committed(churn_project: Path) -> None:
    source = customers(6_000)
    source.to_parquet(churn_project / "in.parquet", index=False)
    services = Services.build(Settings.load(churn_project / "modelport.toml"))
    output = churn_project / "out.parquet"
    try:
        request = BatchRequest("churn", churn_project / "in.parquet", output, chunk=1_000)
        stops = iter([False] * 4 + [True])
        first = services.batch.run(services.batch.prepare(request), should_stop=lambda: next(stops))
        # Today's segments merged into one file (as the hourly compaction does for
        # finished days), then the checkpoint rolled back past them.
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        merged = compact_endpoint(services.log.root, "churn", before=tomorrow, grace_s=0)
        segments = list((services.log.root / "churn").glob("*/*.parquet"))
        assert all("-compacted-" in path.name for path in segments), segments
        assert merged and first.chunks_done == 4
        lost = Manifest.load(first.path)
        lost.chunks_done, lost.state = 1, RunState.RUNNING
        lost.rows_read = lost.rows_scored = 1_000
        lost.save()
        done = services.batch.run(
            services.batch.prepare(BatchRequest("churn", request.input, output, resume=True))
        )
    finally:
        services.close()
    assert done.rows_scored == 6_000
    logged = logged_batch_rows(churn_project)
    assert len(logged) == 6_000 and not logged.duplicated(["request_id", "row"]).any()
