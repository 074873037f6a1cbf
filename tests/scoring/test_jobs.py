"""Batch jobs of one process: one per endpoint, stopped with the server, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.errors import Conflict
from modelport.scoring.jobs import BatchJobs
from modelport.server import Services
from scoring.conftest import customers, logged_batch_rows, parquet_rows


@pytest.fixture
def services(churn_project: Path) -> Services:
    built = Services.build(Settings.load(churn_project / "modelport.toml"))
    yield built  # type: ignore[misc]
    built.close()


def test_one_run_per_endpoint_and_a_stopped_run_resumes_exactly_once(
    services: Services, churn_project: Path
) -> None:
    root = services.settings.batch_root
    root.mkdir(parents=True)
    source = customers(200_000)
    source.to_parquet(root / "big.parquet", index=False)
    jobs = BatchJobs(services.batch, root)
    first = jobs.start("churn", {"input": "big.parquet", "output": "s.parquet", "chunk": 2000})
    with pytest.raises(Conflict) as busy:
        jobs.start("churn", {"input": "big.parquet", "output": "t.parquet"})
    assert busy.value.field == "endpoint"
    jobs.stop()  # as a stopping server does: the current chunk finishes, then it stops
    stopped = jobs.status(first["job"])
    assert stopped["state"] == "interrupted"
    assert stopped["rows_read"] < 200_000

    # A new process (after the restart) finds the job by its checkpoint and resumes it.
    again = BatchJobs(services.batch, root)
    assert again.status(first["job"])["state"] == "interrupted"
    resumed = again.start("churn", {"input": "big.parquet", "output": "s.parquet", "resume": True})
    assert resumed["job"] == first["job"]
    done = again.wait(first["job"])
    assert done["state"] == "done" and done["rows_scored"] == 200_000
    assert parquet_rows(root / "s.parquet")["id"].tolist() == source["id"].tolist()
    logged = logged_batch_rows(churn_project)
    assert len(logged) == 200_000 and not logged.duplicated(["request_id", "row"]).any()
