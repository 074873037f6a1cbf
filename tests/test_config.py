from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelport.config import DEFAULT_TOML, Settings
from modelport.errors import ConfigError


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no MODELPORT_* variables."""
    for key in list(os.environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_without_any_file(bare: Path) -> None:
    settings = Settings.load()

    assert settings.server.host == "127.0.0.1" and settings.server.port == 8000
    assert settings.serving.max_batch_size == 64
    assert settings.log.queue_size == 100_000
    assert settings.auth.admin_tokens == []
    assert settings.home == Path(".modelport")
    assert settings.database_url == "sqlite:///.modelport/modelport.db"
    assert settings.artifacts_dir == Path(".modelport/artifacts")
    assert settings.log_dir == Path(".modelport/logs")


def test_the_default_file_means_the_defaults(bare: Path) -> None:
    (bare / "modelport.toml").write_text(DEFAULT_TOML)

    assert Settings.load() == Settings.load(bare / "modelport.toml")
    assert Settings.load().model_dump() == Settings().model_dump()


def test_values_from_the_toml_file(bare: Path) -> None:
    (bare / "modelport.toml").write_text(
        '[store]\nhome = "/srv/modelport"\n'
        "[server]\nport = 9000\n"
        "[serving]\nmax_batch_wait_ms = 2.5\n"
        '[auth]\nadmin_tokens = ["secret"]\n'
    )

    settings = Settings.load()

    assert settings.server.port == 9000
    assert settings.serving.max_batch_wait_ms == 2.5
    assert settings.auth.admin_tokens == ["secret"]
    assert settings.database_url == "sqlite:////srv/modelport/modelport.db"


def test_an_explicit_file_anywhere(bare: Path) -> None:
    (bare / "modelport.toml").write_text("[server]\nport = 1111\n")
    elsewhere = bare / "conf" / "prod.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("[server]\nport = 2222\n")

    assert Settings.load(elsewhere).server.port == 2222
    # Reading another file leaves no trace behind.
    assert Settings.load().server.port == 1111


def test_environment_overrides_the_file(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bare / "modelport.toml").write_text(DEFAULT_TOML)
    monkeypatch.setenv("MODELPORT_STORE__URL", "postgresql+psycopg://127.0.0.1:5432/test")
    monkeypatch.setenv("MODELPORT_SERVER__PORT", "9100")
    monkeypatch.setenv("MODELPORT_AUTH__ADMIN_TOKENS", '["a", "b"]')

    settings = Settings.load()

    assert settings.database_url == "postgresql+psycopg://127.0.0.1:5432/test"
    assert settings.server.port == 9100
    assert settings.auth.admin_tokens == ["a", "b"]
    assert settings.serving.max_batch_size == 64  # untouched keys keep the file's value


def test_the_config_file_can_be_named_by_environment(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = bare / "other.toml"
    named.write_text("[log]\nflush_interval_s = 0.25\n")
    monkeypatch.setenv("MODELPORT_CONFIG", str(named))

    assert Settings.load().log.flush_interval_s == 0.25


def test_overrides_win_over_everything(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_SERVER__PORT", "9100")

    assert Settings.load(server={"port": 7000}).server.port == 7000


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('[server]\nport = "abc"\n', "server.port"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[serving]\nmax_batch_size = 0\n", "serving.max_batch_size"),
        ("[log]\nflush_interval_s = -1\n", "log.flush_interval_s"),
        ("[server]\nprot = 8000\n", "server.prot"),
        ("[telemetry]\nenabled = true\n", "telemetry"),
        ('[auth]\nadmin_tokens = "secret"\n', "auth.admin_tokens"),
    ],
)
def test_invalid_settings_name_the_field(bare: Path, toml: str, field: str) -> None:
    (bare / "modelport.toml").write_text(toml)

    with pytest.raises(ConfigError) as refused:
        Settings.load()

    assert refused.value.field == field
    assert field in refused.value.message
    assert refused.value.code == "config_error"


def test_invalid_environment_values_name_the_field(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_SERVER__PORT", "abc")

    with pytest.raises(ConfigError) as refused:
        Settings.load()
    assert refused.value.field == "server.port"


def test_unreadable_toml_names_the_file(bare: Path) -> None:
    (bare / "modelport.toml").write_text("[server\nport = 1\n")

    with pytest.raises(ConfigError) as refused:
        Settings.load()
    assert "modelport.toml" in refused.value.message


def test_a_missing_explicit_file_is_an_error(bare: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load(bare / "nope.toml")
    assert "nope.toml does not exist" in refused.value.message


def test_a_missing_file_named_by_environment_is_an_error(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_CONFIG", str(bare / "typo.toml"))

    with pytest.raises(ConfigError, match="typo.toml does not exist"):
        Settings.load()
