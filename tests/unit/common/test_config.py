"""Settings validation (R7.5, R11.2, P12): one clear error naming each bad variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from environment import clear_settings_env

from services.common.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_env(monkeypatch)


def test_nothing_set_means_local_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.local
    assert settings.data_dir == (tmp_path / "data").resolve()


def test_cloud_mode_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODE", "CLOUD")
    with pytest.raises(ConfigError) as err:
        load_settings()
    for var in ("PHAROS_ADMIN_TOKEN", "REDIS_URL", "DATABASE_URL", "QDRANT_URL"):
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
    token = settings.admin_token()
    assert len(token) >= 32
    assert (tmp_path / "admin_token").stat().st_mode & 0o077 == 0
    assert Settings(alexandria_data_dir=tmp_path).admin_token() == token


def test_outside_local_mode_the_token_is_required(tmp_path: Path) -> None:
    settings = Settings(mode="EDGE", redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="PHAROS_ADMIN_TOKEN"):
        settings.admin_token()


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
    monkeypatch.setenv("MODE", "EDGE")
    with pytest.raises(ConfigError, match="REDIS_URL or UPSTASH_REDIS_REST_URL"):
        load_settings()
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "https://eu1-cool.upstash.io")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    assert load_settings().mode == "EDGE"


def test_a_token_file_others_can_read_or_own_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_settings_env(monkeypatch)
    settings = Settings(alexandria_data_dir=tmp_path, pharos_admin_token=None)
    token = settings.admin_token()  # made 0600
    assert settings.admin_token_file.stat().st_mode & 0o777 == 0o600
    settings.admin_token_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"can be read by other users \(mode 644\): chmod 600"):
        settings.admin_token()
    settings.admin_token_file.chmod(0o600)
    assert settings.admin_token() == token
    if os.geteuid() == 0:  # give it to another user
        os.chown(settings.admin_token_file, 65534, -1)
        with pytest.raises(ConfigError, match="belongs to uid 65534, not to this user"):
            settings.admin_token()


def test_a_short_edge_shared_secret_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="EDGE_SHARED_SECRET"):
        load_settings(edge_shared_secret="too-short")
    assert load_settings(edge_shared_secret="x" * 16).edge_shared_secret == "x" * 16
