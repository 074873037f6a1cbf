"""Privacy rules against a real server: hashed, dropped and redacted features never reach
the disk, hashes are consistent keyed digests, and files are private to the owner.

The project is set up through the real CLI (so every file under the store home is
written by modelport itself), then served with rules per model and per endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import stat
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelport.config import DEFAULT_TOML
from modelport.predlog.privacy import REDACTED
from support import LiveServer, run_cli

SECRET = "test-hash-key-" + uuid.uuid4().hex
RULES = """
[privacy.models.churn]
tenure = "hash"
plan = "drop"

[privacy.endpoints.churn]
plan = "hash"
charges = "drop"

[privacy.endpoints.other]
plan = "redact"
charges = "redact"
"""
# Values no reference row holds, so any trace of them on disk came from a request.
PLAN_MARKER = "zq-plan-" + uuid.uuid4().hex[:12]
OTHER_PLAN_MARKER = "zq-other-" + uuid.uuid4().hex[:12]
TENURE_MARKER = 918273
CHARGES_MARKER = 5551.8125
OTHER_TENURE_MARKER = 918274
OTHER_CHARGES_MARKER = 5552.6875


def digest(value: str) -> str:
    return hmac.new(SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()


@dataclass
class Run:
    server: LiveServer
    home: Path
    kept_ids: list[str]
    labelled_id: str
    # Status of each monitoring read (report and live series) per endpoint.
    monitoring: dict[str, int]


def _project(folder: Path, churn_files: tuple[Path, Path], extra_toml: str) -> Path:
    (folder / "modelport.toml").write_text(DEFAULT_TOML + extra_toml)
    model, reference = churn_files
    shutil.copy(model, folder / "model.skops")
    shutil.copy(reference, folder / "train.parquet")
    env = {"MODELPORT_HASH_SECRET": SECRET}
    run_cli(
        "models",
        "register",
        "churn",
        "model.skops",
        "--reference",
        "train.parquet",
        "--target",
        "churned",
        cwd=folder,
        env=env,
    )
    for endpoint in ("churn", "other"):
        run_cli("endpoints", "create", endpoint, "--model", "churn:1", cwd=folder, env=env)
    # The inputs were copied by the test, not written by modelport.
    (folder / "model.skops").unlink()
    (folder / "train.parquet").unlink()
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, churn_files: tuple[Path, Path]) -> Iterator[Run]:
    folder = _project(tmp_path_factory.mktemp("privacy"), churn_files, RULES)
    server = LiveServer(
        folder,
        env={
            "MODELPORT_HASH_SECRET": SECRET,
            "MODELPORT_LOG__FLUSH_INTERVAL_S": "0.2",
            "MODELPORT_MONITORING__INTERVAL_S": "0.2",
        },
    ).start()
    kept_ids: list[str] = []
    monitoring: dict[str, int] = {}
    try:
        with server.client() as client:
            for endpoint, instance in (
                (
                    "churn",
                    {"tenure": TENURE_MARKER, "charges": CHARGES_MARKER, "plan": PLAN_MARKER},
                ),
                (
                    "other",
                    {
                        "tenure": OTHER_TENURE_MARKER,
                        "charges": OTHER_CHARGES_MARKER,
                        "plan": OTHER_PLAN_MARKER,
                    },
                ),
            ):
                for _ in range(3):
                    request_id = f"kept-id-{uuid.uuid4().hex}"
                    response = client.post(
                        f"/v1/endpoints/{endpoint}/predict",
                        json={"instances": [instance]},
                        headers={"X-Request-ID": request_id},
                    )
                    assert response.status_code == 200, response.text
                    kept_ids.append(request_id)
            labelled = kept_ids[0]
            response = client.post("/v1/feedback", json={"request_id": labelled, "label": 1})
            assert response.status_code == 200, response.text
            # Reports and the live series read what was logged: they must cope with
            # hashed numbers and redacted values.
            for endpoint in ("churn", "other"):
                report = client.get(f"/v1/endpoints/{endpoint}/monitoring", params={"window": "1h"})
                monitoring[f"{endpoint} report"] = report.status_code
                live = client.get(f"/v1/endpoints/{endpoint}/monitoring/live")
                monitoring[f"{endpoint} live"] = live.status_code
    finally:
        server.stop()
    assert "prediction log flushed: 6 rows written" in server.output()
    yield Run(server, folder / ".modelport", kept_ids, labelled, monitoring)


def _files(home: Path) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()]


def _raw_bytes(home: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in _files(home)}


def _logged_tables(home: Path) -> list[pa.Table]:
    return [pq.read_table(path) for path in (home / "logs").rglob("*.parquet")]


def _logged_values(home: Path) -> list[Any]:
    """Every value of every column of every Parquet file, decoded (compression hides
    text from a byte search, decoding does not)."""
    values: list[Any] = []
    for table in _logged_tables(home):
        for column in table.columns:
            values.extend(column.to_pylist())
    return values


def _column(home: Path, endpoint: str, name: str) -> list[Any]:
    values: list[Any] = []
    for path in (home / "logs" / endpoint).rglob("*.parquet"):
        table = pq.read_table(path)
        if name in table.column_names:
            values.extend(table[name].to_pylist())
    return values


def test_raw_values_of_protected_features_never_reach_the_disk(run: Run) -> None:
    raw = _raw_bytes(run.home)
    assert any(path.suffix == ".parquet" for path in raw)
    assert any(path.name == "modelport.db" for path in raw)
    needles = [
        PLAN_MARKER.encode(),
        OTHER_PLAN_MARKER.encode(),
        str(TENURE_MARKER).encode(),
        str(OTHER_TENURE_MARKER).encode(),
        str(CHARGES_MARKER).encode(),
        str(OTHER_CHARGES_MARKER).encode(),
        struct.pack("<d", float(TENURE_MARKER)),
        struct.pack("<d", CHARGES_MARKER),
        struct.pack("<d", OTHER_CHARGES_MARKER),
    ]
    for path, content in raw.items():
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path}"
    decoded = _logged_values(run.home)
    forbidden = {
        PLAN_MARKER,
        OTHER_PLAN_MARKER,
        float(TENURE_MARKER),
        float(OTHER_TENURE_MARKER),
        CHARGES_MARKER,
        OTHER_CHARGES_MARKER,
    }
    assert not [value for value in decoded if value in forbidden]


def test_the_same_search_finds_what_is_kept(run: Run) -> None:
    """The searches above can see: kept request ids are found in the decoded log, and
    a labelled request's id in the raw bytes of the database."""
    decoded = set(_logged_values(run.home))
    assert set(run.kept_ids) <= decoded
    raw = _raw_bytes(run.home)
    assert any(run.labelled_id.encode() in content for content in raw.values())


def test_hashed_features_are_keyed_digests_consistent_across_requests(run: Run) -> None:
    plans = _column(run.home, "churn", "feature.plan")
    tenures = _column(run.home, "churn", "feature.tenure")
    # Endpoint rule (hash) wins over the model rule (drop) for plan.
    assert plans == [digest(PLAN_MARKER)] * 3
    # A number is hashed over its float text; the model rule applies to every endpoint.
    assert tenures == [digest(repr(float(TENURE_MARKER)))] * 3
    assert (
        _column(run.home, "other", "feature.tenure")
        == [digest(repr(float(OTHER_TENURE_MARKER)))] * 3
    )


def test_dropped_features_have_no_column_and_redacted_ones_the_marker(run: Run) -> None:
    churn_files = list((run.home / "logs" / "churn").rglob("*.parquet"))
    assert churn_files
    for path in churn_files:
        names = pq.read_schema(path).names
        assert "feature.tenure" in names and "feature.charges" not in names
    assert _column(run.home, "other", "feature.plan") == [REDACTED] * 3
    assert _column(run.home, "other", "feature.charges") == [REDACTED] * 3
    # Kept metadata still joins: every request is logged once with its prediction.
    predictions = _column(run.home, "churn", "prediction") + _column(
        run.home, "other", "prediction"
    )
    assert len(predictions) == 6 and None not in predictions


def test_monitoring_copes_with_protected_features(run: Run) -> None:
    assert run.monitoring == {
        "churn report": 200,
        "churn live": 200,
        "other report": 200,
        "other live": 200,
    }
    assert "Traceback" not in run.server.output()


def test_files_and_folders_are_private_to_the_owner(run: Run) -> None:
    paths = [run.home, *run.home.rglob("*")]
    assert len(paths) > 5
    for path in paths:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), f"{path} is {oct(mode)}"
        assert not mode & (stat.S_IROTH | stat.S_IXOTH), f"{path} is {oct(mode)}"


def test_a_hash_rule_without_its_key_refuses_to_start(
    tmp_path: Path, churn_files: tuple[Path, Path]
) -> None:
    (tmp_path / "modelport.toml").write_text(
        DEFAULT_TOML + '\n[privacy.endpoints.churn]\nplan = "hash"\n'
    )
    result = run_cli("serve", "--port", "1", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "privacy.secret_env" in result.stderr
    assert "MODELPORT_HASH_SECRET" in result.stderr
    assert not (tmp_path / ".modelport").exists()


def test_a_failing_model_cannot_leak_a_protected_value_through_its_error(
    tmp_path: Path,
) -> None:
    """The error text a model raises may quote its input: with rules on the endpoint,
    the log and the server's own output keep only the error's code."""
    from api.helpers import PREDICTORS, register_python
    from api.predictors import CURSED

    (tmp_path / "modelport.toml").write_text(
        DEFAULT_TOML + '\n[privacy.endpoints.explodes]\ntenure = "hash"\n'
    )
    register_python(tmp_path, "explodes", f"{PREDICTORS}:Explodes", ("explodes",))
    server = LiveServer(tmp_path, env={"MODELPORT_HASH_SECRET": SECRET}).start()
    try:
        with server.client() as client:
            response = client.post(
                "/v1/endpoints/explodes/predict",
                json={"instances": [{"tenure": CURSED, "charges": 1.0, "plan": "basic"}]},
            )
    finally:
        server.stop()
    # The caller still learns what went wrong with its own request.
    assert response.status_code == 500 and "cursed" in response.text
    home = tmp_path / ".modelport"
    assert _column(home, "explodes", "feature.tenure") == [digest(repr(float(CURSED)))]
    assert _column(home, "explodes", "error") == ["prediction_failed"]
    assert "cursed" not in server.output()
