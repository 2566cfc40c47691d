"""Settings validation (R7.5, R11.2, P12): one clear error naming each bad variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from environment import clear_settings_env

from services.common import config
from services.common.config import PROVIDER_NAMES, ConfigError, Settings, env_name, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_env(monkeypatch)


def test_nothing_set_means_local_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.local
    assert settings.data_dir == (tmp_path / "data").resolve()


def test_cloud_mode_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_MODE", "CLOUD")
    with pytest.raises(ConfigError) as err:
        load_settings()
    for var in ("ALEXANDRIA_ADMIN_TOKEN", "REDIS_URL", "DATABASE_URL", "QDRANT_URL"):
        assert var in str(err.value)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("QDRANT_URL", "http://xyz.cloud.qdrant.io:6333"),
        ("REDIS_URL", "redis://default:pw@eu1.upstash.io:6379"),
        ("DATABASE_URL", "postgresql://u:p@ep-cool.neon.tech/db"),
        ("UPSTASH_REDIS_REST_URL", "http://eu1-cool.upstash.io"),
    ],
)
def test_external_services_must_use_tls(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    with pytest.raises(ConfigError, match=var):
        load_settings()


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("QDRANT_URL", "https://xyz.cloud.qdrant.io:6333"),
        ("QDRANT_URL", "http://127.0.0.1:6333"),
        ("REDIS_URL", "rediss://default:pw@eu1.upstash.io:6379"),
        ("REDIS_URL", "redis://localhost:6379/0"),
        ("DATABASE_URL", "postgresql://u:p@ep-cool.neon.tech/db?sslmode=require"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    ],
)
def test_tls_or_loopback_is_accepted(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    assert getattr(load_settings(), var.lower()) == value


def test_local_mode_creates_a_private_admin_token_once(tmp_path: Path) -> None:
    settings = Settings(alexandria_data_dir=tmp_path)
    token = settings.ingest_token()
    assert len(token) >= 32
    assert (tmp_path / "admin_token").stat().st_mode & 0o077 == 0
    assert Settings(alexandria_data_dir=tmp_path).ingest_token() == token


def test_outside_local_mode_the_token_is_required(tmp_path: Path) -> None:
    settings = Settings(mode="EDGE", redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="ALEXANDRIA_ADMIN_TOKEN"):
        settings.ingest_token()


def test_the_upstash_rest_pair_is_set_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://eu1-cool.upstash.io")
    with pytest.raises(ConfigError, match="UPSTASH_REDIS_REST_TOKEN"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "transport"),
    [
        ({}, "embedded"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "redis"),
        (
            {
                "REDIS_URL": "redis://127.0.0.1:1/0",
                "UPSTASH_REDIS_REST_URL": "https://eu1-cool.upstash.io",
                "UPSTASH_REDIS_REST_TOKEN": "t",
            },
            "upstash-rest",
        ),
    ],
)
def test_the_queue_transport_follows_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], transport: str
) -> None:
    import asyncio

    from services.common.transport import open_transport

    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path))
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    opened, embedded = open_transport(load_settings())
    try:
        assert opened.name == transport and opened.blocking == (transport != "upstash-rest")
    finally:
        asyncio.run(opened.close())
        if embedded is not None:
            embedded.terminate()
            embedded.wait()


def test_edge_mode_accepts_either_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_MODE", "EDGE")
    with pytest.raises(ConfigError, match="REDIS_URL or UPSTASH_REDIS_REST_URL"):
        load_settings()
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://eu1-cool.upstash.io")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    assert load_settings().mode == "EDGE"


def test_a_token_file_others_can_read_or_own_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_settings_env(monkeypatch)
    settings = Settings(alexandria_data_dir=tmp_path, admin_token=None)
    token = settings.ingest_token()  # made 0600
    assert settings.admin_token_file.stat().st_mode & 0o777 == 0o600
    settings.admin_token_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"can be read by other users \(mode 644\): chmod 600"):
        settings.ingest_token()
    settings.admin_token_file.chmod(0o600)
    assert settings.ingest_token() == token
    if os.geteuid() == 0:  # give it to another user
        os.chown(settings.admin_token_file, 65534, -1)
        with pytest.raises(ConfigError, match="belongs to uid 65534, not to this user"):
            settings.ingest_token()


def test_a_short_edge_shared_secret_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="ALEXANDRIA_EDGE_SHARED_SECRET"):
        load_settings(edge_shared_secret="too-short")
    assert load_settings(edge_shared_secret="x" * 16).edge_shared_secret == "x" * 16


def test_every_setting_has_one_name_style() -> None:
    """ALEXANDRIA_<FIELD> for every setting but the providers' own names."""
    for field in Settings.model_fields:
        name = env_name(field)
        assert name.startswith("ALEXANDRIA_") or name in PROVIDER_NAMES.values(), name
    assert env_name("alexandria_data_dir") == "ALEXANDRIA_DATA_DIR"
    assert env_name("admin_token") == "ALEXANDRIA_ADMIN_TOKEN"
    assert set(PROVIDER_NAMES.values()) == {
        "REDIS_URL",
        "UPSTASH_REDIS_REST_URL",
        "UPSTASH_REDIS_REST_TOKEN",
        "DATABASE_URL",
        "QDRANT_URL",
        "QDRANT_API_KEY",
    }


def test_settings_are_read_under_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("ALEXANDRIA_MAX_QUEUE_SIZE", "7")
    monkeypatch.setenv("ALEXANDRIA_ALLOWED_GIT_HOSTS", '["git.example.com"]')
    monkeypatch.setenv("ALEXANDRIA_ADMIN_TOKEN", "t" * 20)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("ALEXANDRIA_REDIS_URL", "redis://127.0.0.1:1/0")  # not a name
    settings = Settings()
    assert settings.max_queue_size == 7
    assert settings.allowed_git_hosts == ("git.example.com",)
    assert settings.admin_token == "t" * 20
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_old_names_still_work_with_one_warning_each(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clear_settings_env(monkeypatch)
    config._warned.clear()
    monkeypatch.setenv("MAX_QUEUE_SIZE", "7")
    monkeypatch.setenv("ALLOWED_GIT_HOSTS", '["git.example.com"]')
    monkeypatch.setenv("PHAROS_ADMIN_TOKEN", "t" * 20)
    monkeypatch.setenv("TRAIN_EPOCHS", "3")
    monkeypatch.setenv("ALEXANDRIA_TRAIN_EPOCHS", "4")  # the new name wins, silently
    with caplog.at_level("WARNING", logger="services.common.config"):
        first, second = Settings(), Settings()
    for settings in (first, second):
        assert settings.max_queue_size == 7
        assert settings.allowed_git_hosts == ("git.example.com",)
        assert settings.admin_token == "t" * 20
        assert settings.train_epochs == 4
    assert sorted(r.getMessage() for r in caplog.records) == [
        "ALLOWED_GIT_HOSTS is deprecated: set ALEXANDRIA_ALLOWED_GIT_HOSTS instead",
        "MAX_QUEUE_SIZE is deprecated: set ALEXANDRIA_MAX_QUEUE_SIZE instead",
        "PHAROS_ADMIN_TOKEN is deprecated: set ALEXANDRIA_ADMIN_TOKEN instead",
    ]


def test_a_bad_value_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("ALEXANDRIA_MAX_QUEUE_SIZE", "zero")
    monkeypatch.setenv("REDIS_URL", "redis://example.com:6379")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "ALEXANDRIA_MAX_QUEUE_SIZE:" in str(error.value)
    assert "REDIS_URL:" in str(error.value)
