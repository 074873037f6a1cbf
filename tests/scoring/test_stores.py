"""A batch run on every supported control-plane database: the registry and endpoints it
reads live in SQL; what it writes (output, checkpoint, log) lives in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML, Settings
from modelport.errors import Conflict, EndpointNotFound
from modelport.scoring import BatchRequest, RunState
from modelport.server import Services
from scoring.conftest import customers, logged_batch_rows, parquet_rows
from support import register_churn


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_project(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    churn_files: tuple[Path, Path],
) -> Path:
    for key in [k for k in __import__("os").environ if k.startswith("MODELPORT_")]:
        monkeypatch.delenv(key)
    if request.param == "postgresql":
        monkeypatch.setenv("MODELPORT_STORE__URL", request.getfixturevalue("postgres_url"))
    (tmp_path / "modelport.toml").write_text(DEFAULT_TOML)
    monkeypatch.chdir(tmp_path)
    register_churn(tmp_path, churn_files)
    return tmp_path


def test_a_run_scores_logs_and_refuses_to_restart_silently(store_project: Path) -> None:
    project = store_project
    source = customers(4000)
    source.to_parquet(project / "in.parquet", index=False)
    services = Services.build(Settings.load(project / "modelport.toml"))
    try:
        scorer = services.batch
        with pytest.raises(EndpointNotFound):
            scorer.prepare(BatchRequest("ghost", project / "in.parquet", project / "o.parquet"))
        request = BatchRequest("churn", project / "in.parquet", project / "o.parquet", chunk=1500)
        stops = iter([False, True])
        first = scorer.run(scorer.prepare(request), should_stop=lambda: next(stops))
        assert first.state == RunState.INTERRUPTED and first.chunks_done == 1
        with pytest.raises(Conflict) as refused:
            scorer.prepare(request)
        assert refused.value.field == "resume"
        done = scorer.run(
            scorer.prepare(BatchRequest("churn", request.input, request.output, resume=True))
        )
    finally:
        services.close()
    assert done.state == RunState.DONE and done.rows_scored == 4000 and done.chunks_done == 3
    assert parquet_rows(project / "o.parquet")["id"].tolist() == source["id"].tolist()
    assert len(logged_batch_rows(project)) == 4000


def test_the_endpoints_privacy_rules_apply_to_logged_batch_rows(churn_project: Path) -> None:
    with (churn_project / "modelport.toml").open("a") as toml:
        toml.write('\n[privacy.endpoints.churn]\nplan = "drop"\ncharges = "redact"\n')
    customers(500).to_parquet(churn_project / "in.parquet", index=False)
    services = Services.build(Settings.load(churn_project / "modelport.toml"))
    try:
        request = BatchRequest("churn", churn_project / "in.parquet", churn_project / "o.parquet")
        services.batch.run(services.batch.prepare(request))
    finally:
        services.close()
    logged = logged_batch_rows(churn_project)
    assert len(logged) == 500
    assert "feature.plan" not in logged.columns
    assert (logged["feature.charges"] == "[redacted]").all()
    # The output is the caller's own data: scored rows keep their values.
    scored = parquet_rows(churn_project / "o.parquet")
    assert scored["plan"].notna().all() and scored["charges"].notna().all()
