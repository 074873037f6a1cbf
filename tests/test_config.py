from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelport.api.auth import Identity, Keyring
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


def test_the_template_keeps_the_auth_lines_projects_replace() -> None:
    """Projects (and this suite) swap these exact lines for their own tokens."""
    assert "[auth]\nadmin_tokens = []\nclient_tokens = []\n" in DEFAULT_TOML


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


# --- auth: named tokens, their sources, and what a server reads at start ---

DEPLOYER_SHA = hashlib.sha256(b"deployer-secret").hexdigest()


def test_named_tokens_from_every_source(bare: Path) -> None:
    (bare / "tokens.toml").write_text('[tokens.shop]\nrole = "client"\ntoken = "client-secret"\n')
    (bare / "modelport.toml").write_text(
        '[auth]\ntokens_file = "tokens.toml"\nadmin_tokens = ["old-admin"]\n'
        '[auth.tokens.ops]\nrole = "admin"\ntoken = "admin-secret"\n'
        f'[auth.tokens.release-bot]\nrole = "deployer"\nsha256 = "{DEPLOYER_SHA}"\n'
        '[auth.tokens.dashboard]\nrole = "reader"\nenv = "DASHBOARD_TOKEN"\n'
    )
    settings = Settings.load()
    keyring = Keyring.from_settings(settings.auth, {"DASHBOARD_TOKEN": "reader-secret"})

    assert settings.auth.tokens["release-bot"].sha256 == DEPLOYER_SHA
    assert keyring.identify("admin-secret") == Identity("ops", "admin")
    assert keyring.identify("deployer-secret") == Identity("release-bot", "deployer")
    assert keyring.identify("reader-secret") == Identity("dashboard", "reader")
    assert keyring.identify("client-secret") == Identity("shop", "client")
    assert keyring.identify("old-admin") == Identity("admin-1", "admin")
    assert keyring.identify(DEPLOYER_SHA) is None  # a digest is not a token
    assert keyring.identify("nope") is None


def test_no_tokens_means_an_open_server(bare: Path) -> None:
    assert Keyring.from_settings(Settings.load().auth).empty


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('role = "admin"', "auth.tokens.ops"),
        ('role = "admin"\ntoken = "a"\nenv = "B"', "auth.tokens.ops"),
        ('role = "root"\ntoken = "a"', "auth.tokens.ops.role"),
        ('role = "admin"\nsha256 = "ABC"', "auth.tokens.ops.sha256"),
        ('role = "admin"\ntoken = "a"\nscope = "all"', "auth.tokens.ops.scope"),
    ],
)
def test_invalid_tokens_name_the_field(bare: Path, table: str, field: str) -> None:
    (bare / "modelport.toml").write_text(f"[auth.tokens.ops]\n{table}\n")

    with pytest.raises(ConfigError) as refused:
        Settings.load()
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("toml", "environ", "field", "message"),
    [
        (
            '[auth.tokens.ops]\nrole = "admin"\nenv = "OPS_TOKEN"\n',
            {},
            "auth.tokens.ops.env",
            "OPS_TOKEN is not set",
        ),
        ('[auth.tokens.Ops]\nrole = "admin"\ntoken = "a"\n', {}, "auth.tokens.Ops", "Ops"),
        ('[auth.tokens."a..b"]\nrole = "admin"\ntoken = "a"\n', {}, "auth.tokens.a..b", "'..'"),
        (
            '[auth.tokens.ops]\nrole = "admin"\ntoken = "t\u00f6ken"\n',
            {},
            "auth.tokens.ops",
            "printable ASCII",
        ),
        ('[auth.tokens.ops]\nrole = "admin"\ntoken = "a b"\n', {}, "auth.tokens.ops", "ASCII"),
        (
            '[auth]\nclient_tokens = ["same"]\n[auth.tokens.ops]\nrole = "admin"\ntoken = "same"\n',
            {},
            "auth.client_tokens",
            "same secret",
        ),
        (
            '[auth]\nadmin_tokens = ["x"]\n[auth.tokens.admin-1]\nrole = "admin"\ntoken = "y"\n',
            {},
            "auth.tokens.admin-1",
            "taken by auth.admin_tokens",
        ),
        ('[auth]\nadmin_tokens = [""]\n', {}, "auth.admin_tokens", "empty"),
        ('[auth]\ntokens_file = "missing.toml"\n', {}, "auth.tokens_file", "missing.toml"),
    ],
)
def test_tokens_a_server_cannot_use_stop_it_at_start(
    bare: Path, toml: str, environ: dict[str, str], field: str, message: str
) -> None:
    (bare / "modelport.toml").write_text(toml)
    settings = Settings.load()

    with pytest.raises(ConfigError) as refused:
        Keyring.from_settings(settings.auth, environ)
    assert refused.value.field == field
    assert message in refused.value.message
    assert "t\u00f6ken" not in refused.value.message  # a secret is never shown


@pytest.mark.parametrize(
    ("tokens_file", "message"),
    [
        ('[tokens.shop]\nrole = "client"\n', "tokens.shop"),
        ('[tokens.shop]\nrole = "boss"\ntoken = "x"\n', "tokens.shop.role"),
        ('[auth.tokens.shop]\nrole = "client"\ntoken = "x"\n', "[tokens.<name>]"),
        ('[tokens.shop\nrole = "client"\n', "not valid TOML"),
        ('[tokens.ops]\nrole = "client"\ntoken = "x"\n', "defined in settings and in"),
    ],
)
def test_a_bad_tokens_file_names_the_table(bare: Path, tokens_file: str, message: str) -> None:
    (bare / "tokens.toml").write_text(tokens_file)
    (bare / "modelport.toml").write_text(
        '[auth]\ntokens_file = "tokens.toml"\n[auth.tokens.ops]\nrole = "admin"\ntoken = "a"\n'
    )
    with pytest.raises(ConfigError) as refused:
        Keyring.from_settings(Settings.load().auth, {})
    assert refused.value.field == "auth.tokens_file"
    assert message in refused.value.message


def test_tokens_from_the_environment_form(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_AUTH__TOKENS__CI__ROLE", "deployer")
    monkeypatch.setenv("MODELPORT_AUTH__TOKENS__CI__SHA256", DEPLOYER_SHA)

    keyring = Keyring.from_settings(Settings.load().auth, {})
    assert keyring.identify("deployer-secret") == Identity("ci", "deployer")
