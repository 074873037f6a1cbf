"""``modelport batch`` end to end: the real command on a registered churn model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from scoring.conftest import customers, logged_batch_rows, parquet_rows
from support import LiveServer, run_cli


def test_scores_a_parquet_file_beside_its_rows_and_logs_them_as_batch(
    churn_project: Path, customers_file: Path
) -> None:
    result = run_cli(
        "batch",
        "churn",
        "customers.parquet",
        "-o",
        "scored.parquet",
        "--chunk",
        "700",
        "--json",
        cwd=churn_project,
    )
    summary = json.loads(result.stdout)
    assert summary["state"] == "done"
    assert summary["rows_scored"] == 3000 and summary["rows_rejected"] == 0
    assert summary["chunks_done"] == 5
    assert summary["id_column"] == "id"

    scored = parquet_rows(churn_project / "scored.parquet")
    # The id column and the features are kept, other input columns are not.
    assert list(scored.columns) == [
        "id",
        "tenure",
        "charges",
        "plan",
        "prediction",
        "proba.0",
        "proba.1",
    ]
    source = pd.read_parquet(customers_file)
    assert scored["id"].tolist() == source["id"].tolist()
    np.testing.assert_allclose(scored["proba.0"] + scored["proba.1"], 1.0)
    assert set(scored["prediction"]) <= {"0", "1"}
    assert not (churn_project / "scored.parquet.rejects.parquet").exists()
    assert not (churn_project / "scored.parquet.parts").exists()

    logged = logged_batch_rows(churn_project)
    assert len(logged) == 3000
    assert set(logged["role"]) == {"batch"}
    assert not logged.duplicated(["request_id", "row"]).any()
    assert logged["request_id"].str.startswith(summary["job"]).all()
    np.testing.assert_allclose(np.sort(logged["feature.charges"]), np.sort(source["charges"]))
    # Same answers as the output file (row order within the log follows the chunks).
    np.testing.assert_allclose(logged["proba.1"].to_numpy(), scored["proba.1"].to_numpy())


def test_the_same_model_answers_as_over_http(churn_server: LiveServer, churn_project: Path) -> None:
    frame = customers(20)
    frame.to_parquet(churn_project / "few.parquet", index=False)
    run_cli("batch", "churn", "few.parquet", "-o", "few-scored.csv", cwd=churn_project)
    scored = pd.read_csv(churn_project / "few-scored.csv")
    instances = frame[["tenure", "charges", "plan"]].to_dict("records")
    with churn_server.client() as client:
        answer = client.post(
            "/v1/endpoints/churn/predict",
            json={
                "instances": [
                    {k: (v.item() if hasattr(v, "item") else v) for k, v in i.items()}
                    for i in instances
                ]
            },
        ).json()
    np.testing.assert_allclose(
        scored[["proba.0", "proba.1"]].to_numpy(), np.array(answer["probabilities"])
    )


def test_rows_that_fail_validation_go_to_the_rejects_file_with_the_reason(
    churn_project: Path,
) -> None:
    frame = customers(50)
    frame["tenure"] = frame["tenure"].astype(object)
    frame.loc[3, "tenure"] = "three"
    frame.loc[10, "plan"] = None
    frame.loc[11, "charges"] = None
    frame.to_csv(churn_project / "messy.csv", index=False)
    result = run_cli(
        "batch",
        "churn",
        "messy.csv",
        "-o",
        "out.parquet",
        "--rejects",
        "bad.csv",
        cwd=churn_project,
    )
    assert "refused 3 rows" in result.stdout
    rejects = pd.read_csv(churn_project / "bad.csv")
    assert rejects["id"].tolist() == ["c3", "c10", "c11"]
    assert rejects["row"].tolist() == [3, 10, 11]
    assert rejects["code"].tolist() == ["wrong_type", "nan_not_allowed", "nan_not_allowed"]
    assert rejects["field"].tolist() == ["rows[3].tenure", "rows[10].plan", "rows[11].charges"]
    assert rejects["reason"][0] == "rows[3].tenure must be a number, got str 'three'"
    scored = parquet_rows(churn_project / "out.parquet")
    assert len(scored) == 47 and "c3" not in set(scored["id"])
    assert len(logged_batch_rows(churn_project)) == 47


def test_columns_that_do_not_match_the_schema_are_named_before_anything_is_scored(
    churn_project: Path,
) -> None:
    frame = customers(100).drop(columns=["tenure"])
    frame["plan"] = 1.5
    frame.to_parquet(churn_project / "wrong.parquet", index=False)
    result = run_cli(
        "batch", "churn", "wrong.parquet", "-o", "out.parquet", cwd=churn_project, check=False
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "missing_feature" in lines[0] and "tenure" in lines[0]
    assert "column 'plan' is double, feature 'plan' needs text (a category)" in lines[0]
    assert not (churn_project / "out.parquet").exists()
    assert not (churn_project / "out.parquet.batch.json").exists()
    assert logged_batch_rows(churn_project).empty


def test_a_folder_is_scored_in_name_order_across_file_boundaries(churn_project: Path) -> None:
    folder = churn_project / "daily"
    folder.mkdir()
    customers(250, seed=2, start=500).to_parquet(folder / "b.parquet", index=False)
    customers(130, seed=1, start=0).to_parquet(folder / "a.parquet", index=False)
    run_cli("batch", "churn", "daily", "-o", "scored.parquet", "--chunk", "100", cwd=churn_project)
    scored = parquet_rows(churn_project / "scored.parquet")
    assert scored["id"].tolist() == [f"c{i}" for i in range(130)] + [
        f"c{i}" for i in range(500, 750)
    ]
    assert len(logged_batch_rows(churn_project)) == 380


def test_a_named_version_scores_and_is_logged_under_it(
    churn_project: Path, churn_files_v2: tuple[Path, Path], customers_file: Path
) -> None:
    model, reference = churn_files_v2
    run_cli(
        "models",
        "register",
        "churn",
        str(model),
        "--reference",
        str(reference),
        "--target",
        "churned",
        cwd=churn_project,
    )
    run_cli(
        "batch",
        "churn",
        "customers.parquet",
        "-o",
        "v2.parquet",
        "--version",
        "2",
        cwd=churn_project,
    )
    logged = logged_batch_rows(churn_project)
    assert set(logged["version"]) == {2} and len(logged) == 3000
    missing = run_cli(
        "batch",
        "churn",
        "customers.parquet",
        "-o",
        "v9.parquet",
        "--version",
        "9",
        cwd=churn_project,
        check=False,
    )
    assert missing.returncode == 1 and "version_not_found" in missing.stderr


def test_batch_rows_stay_out_of_live_reports_unless_asked_for(
    churn_project: Path, customers_file: Path
) -> None:
    run_cli("batch", "churn", "customers.parquet", "-o", "scored.parquet", cwd=churn_project)
    default = json.loads(
        run_cli(
            "monitor",
            "report",
            "churn",
            "--window",
            "1h",
            "--format",
            "json",
            "--sections",
            "quality",
            cwd=churn_project,
        ).stdout
    )
    batch = json.loads(
        run_cli(
            "monitor",
            "report",
            "churn",
            "--window",
            "1h",
            "--format",
            "json",
            "--sections",
            "quality",
            "--role",
            "batch",
            cwd=churn_project,
        ).stdout
    )
    assert default["window"]["rows"] == 0
    assert batch["window"]["rows"] == 3000
    exported = churn_project / "batch-rows.parquet"
    run_cli("logs", "export", "churn", "-o", str(exported), "--role", "batch", cwd=churn_project)
    assert pq.read_metadata(exported).num_rows == 3000
