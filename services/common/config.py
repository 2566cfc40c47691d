"""Settings for every process, read from the environment and validated at start.

Nothing set means LOCAL mode: every service embedded under one data directory
(SQLite, an embedded redis-server, Qdrant local mode): `ALEXANDRIA_DATA_DIR`, else the
user's own (`default_data_dir`), so every command finds the same stack from anywhere.
Setting `REDIS_URL` (or `UPSTASH_REDIS_REST_URL` + `UPSTASH_REDIS_REST_TOKEN`),
`DATABASE_URL` or `QDRANT_URL` swaps that part for the real service.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.common.local_sockets import socket_path

DEFAULT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")
PREFIX = "ALEXANDRIA_"
PROVIDER_NAMES = {
    "redis_url": "REDIS_URL",
    "upstash_redis_rest_url": "UPSTASH_REDIS_REST_URL",
    "upstash_redis_rest_token": "UPSTASH_REDIS_REST_TOKEN",
    "database_url": "DATABASE_URL",
    "qdrant_url": "QDRANT_URL",
    "qdrant_api_key": "QDRANT_API_KEY",
}
"""Settings read under the names their providers and platforms use (Render, Neon,
Upstash and Qdrant's own docs), without the prefix."""
OLD_NAMES = {"admin_token": "PHAROS_ADMIN_TOKEN", "read_token": "PHAROS_READ_TOKEN"}
"""Old names that were not the field's name in upper case."""
NAMED_SINCE_THE_PREFIX = frozenset(
    {
        "alexandria_data_dir",
        "rate_limit_ingest_per_minute",
        "rate_limit_reads_per_minute",
        "forwarded_for_hops",
    }
)
"""Settings that never had another name."""
DEFAULT_RATE_LIMITS = {"ingest": 30, "reads": 600}
"""Requests a minute per client outside LOCAL mode when ALEXANDRIA_RATE_LIMIT_*_PER_MINUTE
is unset."""

log = logging.getLogger(__name__)
_warned: set[str] = set()


def env_name(field: str) -> str:
    """The environment variable a setting is read from: `ALEXANDRIA_<FIELD>`, or the
    provider's own name (`PROVIDER_NAMES`); `alexandria_data_dir` is ALEXANDRIA_DATA_DIR."""
    if field in PROVIDER_NAMES:
        return PROVIDER_NAMES[field]
    return PREFIX + field.upper().removeprefix(PREFIX)


def env_names(field: str) -> tuple[str, ...]:
    """Every environment variable `field` is read from: its name, then its deprecated one."""
    old = deprecated_env_name(field)
    return (env_name(field),) if old is None else (env_name(field), old)


def variable_names(fields: Iterable[str] | None = None) -> frozenset[str]:
    """Every environment variable `fields` (default: every setting) are read from, the
    deprecated names included: what to clear for an environment of one's own."""
    chosen = Settings.model_fields if fields is None else fields
    return frozenset(name for field in chosen for name in env_names(field))


def deprecated_env_name(field: str) -> str | None:
    """The name a setting had before the prefix (MODE, PHAROS_ADMIN_TOKEN, ...), still
    read with a warning; None when it had none (provider names, newer settings)."""
    if field in PROVIDER_NAMES or field in NAMED_SINCE_THE_PREFIX:
        return None
    return OLD_NAMES.get(field, field.upper())


class ConfigError(Exception):
    """Raised at start when the configuration is invalid; the message names each variable."""


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback IPs, which may use plain http/redis."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _require_secure(name: str, url: str, secure_schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme in (*secure_schemes, "unix") or is_loopback_host(parts.hostname):
        return
    raise ValueError(
        f"{name} must use {' or '.join(secure_schemes)} for a non-loopback host, got {url!r}"
    )


class _DeprecatedNames(EnvSettingsSource):
    """Settings under their names from before the prefix (`deprecated_env_name`), read
    only when the new name is unset, each with one warning per process."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, case_sensitive=False, env_prefix="")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        old = deprecated_env_name(field_name)
        new = env_name(field_name)
        value = None if old is None else self.env_vars.get(old.lower())
        if old is not None and value is not None and new.lower() not in self.env_vars:
            if old not in _warned:
                _warned.add(old)
                log.warning("%s is deprecated: set %s instead", old, new)
            return value, field_name, self.field_is_complex(field)
        return None, field_name, False


class Settings(BaseSettings):
    """All configuration. Each setting is read from `env_name(field)`: ALEXANDRIA_ and
    the field's name in upper case, or a provider's own name (REDIS_URL, DATABASE_URL,
    UPSTASH_REDIS_REST_URL/TOKEN, QDRANT_URL, QDRANT_API_KEY). The names from before the
    prefix still work, with a warning."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, case_sensitive=False, extra="ignore", populate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        deprecated = _DeprecatedNames(settings_cls)
        return init_settings, env_settings, deprecated, dotenv_settings, file_secret_settings

    mode: Literal["LOCAL", "CLOUD", "EDGE"] = "LOCAL"
    # Unset: the per-user default (`default_data_dir`); a project-local stack sets it.
    alexandria_data_dir: Path | None = Field(default=None, validation_alias="ALEXANDRIA_DATA_DIR")
    # The ingest token (Bearer); LOCAL mode makes one under the data dir when unset.
    admin_token: str | None = Field(default=None, repr=False)
    # When set, the read routes (and /metrics) need it or the admin token as Bearer.
    read_token: str | None = Field(default=None, repr=False)
    cors_allow_origins: tuple[str, ...] = ()
    max_request_body_bytes: int = Field(default=64 * 1024, ge=0)
    max_request_path_bytes: int = Field(default=16 * 1024, ge=256)
    # A request's line and headers must arrive within this (gateway/connections.py).
    gateway_head_timeout_seconds: float = Field(default=10.0, gt=0)
    # Connections and requests in flight past this get 503 (uvicorn's limit_concurrency).
    gateway_max_connections: int = Field(default=1000, ge=1)
    # Requests a minute per client (gateway/rate_limit.py): a burst of that many, then
    # one every 60/N s; past it 429. 0: unlimited. Unset: 30 ingests and 600 reads, and
    # no limit in LOCAL mode (one user on loopback). See `rate_limit`.
    rate_limit_ingest_per_minute: int | None = Field(default=None, ge=0)
    rate_limit_reads_per_minute: int | None = Field(default=None, ge=0)
    # The proxies in front of the gateway that append to X-Forwarded-For; a client's
    # address is the entry this many from the right (0: the header is ignored). Render:
    # 2, Cloudflare then Render's proxy (docs/deploy-cloud.md).
    forwarded_for_hops: int = Field(default=0, ge=0, le=10)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Connections each process keeps to Redis at most; more commands wait for one.
    redis_max_connections: int = Field(default=50, ge=2)
    # How long /health reuses its last dependency checks (0: every call checks).
    health_cache_seconds: float = Field(default=3.0, ge=0)
    upstash_redis_rest_url: str | None = Field(
        default=None, validation_alias="UPSTASH_REDIS_REST_URL"
    )
    upstash_redis_rest_token: str | None = Field(
        default=None, repr=False, validation_alias="UPSTASH_REDIS_REST_TOKEN"
    )
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    qdrant_url: str | None = Field(default=None, validation_alias="QDRANT_URL")
    qdrant_api_key: str | None = Field(default=None, repr=False, validation_alias="QDRANT_API_KEY")

    gateway_url: str = "http://127.0.0.1:8000"
    # Where the parser and the embedder listen and are reached: see `grpc_address`.
    parser_addr: str = "127.0.0.1:50051"
    embedder_addr: str = "127.0.0.1:50052"
    # When set, every parser and embedder call but health and reflection must carry it
    # (services/common/edge_secret.py).
    edge_shared_secret: str | None = Field(default=None, repr=False, min_length=16)

    max_queue_size: int = Field(default=10, ge=1)
    # A worker offline for longer than this is dropped from `status` and the worker set.
    worker_forget_seconds: float = Field(default=86400.0, gt=0)
    task_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    job_lease_seconds: int = Field(default=120, ge=5)
    max_job_attempts: int = Field(default=3, ge=1)
    # Retry of a transiently failed job: after this delay, doubled at each attempt.
    job_retry_delay_seconds: float = Field(default=30.0, ge=0)
    # An idle worker on REST polls every 2 s, backing off to the ceiling; on the Redis
    # protocol it blocks on the stream for `queue_block_seconds` at a time.
    queue_poll_min_seconds: float = Field(default=2.0, gt=0)
    queue_poll_max_seconds: float = Field(default=60.0, gt=0)
    queue_block_seconds: float = Field(default=60.0, gt=0)
    # The gateway's events consumer on REST backs off further (the API reads Redis).
    events_poll_max_seconds: float = Field(default=600.0, gt=0)
    # A busy worker renews its lease and heartbeat this often.
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    allowed_git_hosts: tuple[str, ...] = DEFAULT_HOSTS
    clone_timeout_seconds: int = Field(default=300, ge=1)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    max_repo_bytes: int = Field(default=1 << 30, ge=1)
    max_repo_files: int = Field(default=200_000, ge=1)
    # The clone brings the file lists (not the contents) of this many recent commits
    # for the co-change signal (0: none); commits touching more files are ignored.
    history_max_commits: int = Field(default=2000, ge=0)
    cochange_max_files: int = Field(default=15, ge=2)
    embedder_device: Literal["auto", "cpu", "cuda"] = "auto"
    # What one training may cost (services/embedder/budget.py); past it: RESOURCE_EXHAUSTED.
    embedder_max_memory_bytes: int = Field(default=4 << 30, ge=1 << 20)
    embedder_max_walk_steps: int = Field(default=5_000_000_000, ge=1)
    embedder_max_edges: int = Field(default=20_000_000, ge=1)
    train_epochs: int = Field(default=10, ge=1, le=1000)
    # Node2Vec's walk for the structure signal (benchmarks/README.md: how they were chosen).
    train_walk_length: int = Field(default=20, ge=1, le=1000)
    train_context_size: int = Field(default=10, ge=1, le=1000)
    train_p: float = Field(default=1.0, gt=0)
    train_q: float = Field(default=1.0, gt=0)
    # Co-change pairs join the import edges in the graph the walks run on.
    train_cochange_edges: bool = True
    # A new commit that kept TRAIN_WARM_MIN_KEPT of the files trains TRAIN_WARM_EPOCHS
    # from the previous commit's vectors (services/ingest/warm_start.py; measured in
    # benchmarks/README.md, `warm_start.py`).
    train_warm_start: bool = True
    train_warm_epochs: int = Field(default=2, ge=1, le=1000)
    train_warm_min_kept: float = Field(default=0.9, gt=0, le=1)
    # auto: JSON lines for `serve` processes and when stderr is not a terminal, else text.
    log_format: Literal["auto", "json", "text"] = "auto"
    # When set, a process logs to this file (JSON lines unless LOG_FORMAT=text) instead
    # of stderr, rotated once it passes LOG_MAX_BYTES, LOG_BACKUPS old files kept; `up`
    # sets it for each of its processes (<data dir>/logs/<name>.log).
    log_file: Path | None = None
    log_max_bytes: int = Field(default=10 << 20, ge=4096)
    log_backups: int = Field(default=3, ge=0)
    # Each edge process serves Prometheus metrics on its own port (0: not served).
    metrics_host: str = "127.0.0.1"
    parser_metrics_port: int = Field(default=0, ge=0, le=65535)
    embedder_metrics_port: int = Field(default=0, ge=0, le=65535)
    coordinator_metrics_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("redis_url")
    @classmethod
    def _redis_secure(cls, v: str | None) -> str | None:
        if v is not None:
            _require_secure("REDIS_URL", v, ("rediss",))
        return v

    @field_validator("upstash_redis_rest_url")
    @classmethod
    def _upstash_secure(cls, v: str | None) -> str | None:
        if v is not None:
            _require_secure("UPSTASH_REDIS_REST_URL", v, ("https",))
        return v

    @field_validator("gateway_url")
    @classmethod
    def _gateway_secure(cls, v: str) -> str:
        _require_secure("ALEXANDRIA_GATEWAY_URL", v, ("https",))
        return v.rstrip("/")

    @field_validator("qdrant_url")
    @classmethod
    def _qdrant_secure(cls, v: str | None) -> str | None:
        if v is not None:
            _require_secure("QDRANT_URL", v, ("https",))
        return v

    @field_validator("database_url")
    @classmethod
    def _database_secure(cls, v: str | None) -> str | None:
        if v is None or v.startswith("sqlite"):
            return v
        parts = urlsplit(v)
        tls = any(m in (parts.query or "") for m in ("sslmode=require", "sslmode=verify"))
        if not (tls or is_loopback_host(parts.hostname)):
            raise ValueError(
                "DATABASE_URL to a non-loopback host must require TLS (add ?sslmode=require)"
            )
        return v

    @model_validator(mode="after")
    def _cloud_needs_services(self) -> Settings:
        if bool(self.upstash_redis_rest_url) != bool(self.upstash_redis_rest_token):
            raise ValueError(
                "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set together"
            )
        if self.queue_poll_min_seconds > self.queue_poll_max_seconds:
            raise ValueError(
                "ALEXANDRIA_QUEUE_POLL_MIN_SECONDS must not exceed "
                "ALEXANDRIA_QUEUE_POLL_MAX_SECONDS"
            )
        queue = self.redis_url or self.upstash_redis_rest_url
        if self.mode == "CLOUD":
            missing = [
                name
                for name, value in (
                    ("ALEXANDRIA_ADMIN_TOKEN", self.admin_token),
                    ("REDIS_URL or UPSTASH_REDIS_REST_URL", queue),
                    ("DATABASE_URL", self.database_url),
                    ("QDRANT_URL", self.qdrant_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"ALEXANDRIA_MODE=CLOUD requires {', '.join(missing)}")
        if self.mode == "EDGE" and not queue:
            raise ValueError(
                "ALEXANDRIA_MODE=EDGE requires REDIS_URL or UPSTASH_REDIS_REST_URL"
                " (the queue shared with the gateway)"
            )
        return self

    @property
    def local(self) -> bool:
        """LOCAL mode: one machine, embedded services allowed, local git repos accepted."""
        return self.mode == "LOCAL"

    def rate_limit(self, budget: Literal["ingest", "reads"]) -> int:
        """Requests a minute per client for `budget` (0: unlimited): the setting, else
        the default, 0 in LOCAL mode."""
        value = getattr(self, f"rate_limit_{budget}_per_minute")
        if value is not None:
            return int(value)
        return 0 if self.local else DEFAULT_RATE_LIMITS[budget]

    @cached_property
    def data_dir(self) -> Path:
        path = (self.alexandria_data_dir or default_data_dir()).expanduser().resolve()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def grpc_address(self, service: Literal["parser", "embedder"]) -> str:
        """Where `service` listens and is reached, as a gRPC target: PARSER_ADDR /
        EMBEDDER_ADDR when set; otherwise, in LOCAL mode, a unix socket in the data dir
        (`local_socket`: only this user can connect), and else the default port on
        loopback."""
        field = f"{service}_addr"
        address: str = getattr(self, field)
        if self.local and field not in self.model_fields_set:
            return f"unix:{self.local_socket(service)}"
        return address

    def local_socket(self, service: str) -> Path:
        """The unix socket of `service` in LOCAL mode (services/common/local_sockets.py)."""
        return socket_path(self.data_dir, service)

    @property
    def admin_token_file(self) -> Path:
        """Where LOCAL mode keeps the generated ingest token (mode 0600)."""
        return self.data_dir / "admin_token"

    def ingest_token(self) -> str:
        """The ingest token; in LOCAL mode one is created under the data dir if unset."""
        if self.admin_token:
            return self.admin_token
        if not self.local:
            raise ConfigError("ALEXANDRIA_ADMIN_TOKEN is required outside LOCAL mode")
        token_file = self.admin_token_file
        if not token_file.exists():
            token_file.touch(mode=0o600)
            token_file.write_text(secrets.token_urlsafe(32))
        _check_private(token_file)
        return token_file.read_text().strip()


def default_data_dir() -> Path:
    """The data dir when `ALEXANDRIA_DATA_DIR` is unset: the platform's user data
    directory (`$XDG_DATA_HOME/alexandria`, by default `~/.local/share/alexandria` on
    Linux; `~/Library/Application Support/alexandria` on macOS)."""
    return Path(platformdirs.user_data_dir("alexandria", appauthor=False))


def _check_private(path: Path) -> None:
    """Refuse a secret file that another user owns or may read (ConfigError saying how
    to fix it): its token would not be this user's alone."""
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{path} belongs to uid {info.st_uid}, not to this user: remove it (a new token "
            "is made) or set ALEXANDRIA_ADMIN_TOKEN"
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{path} can be read by other users (mode {info.st_mode & 0o777:o}): chmod 600 {path}"
        )


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings (`overrides` win over the environment), turning
    pydantic's report into one clear ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field, *inner = [str(p) for p in err["loc"]] or ["configuration"]
            where = ".".join([env_name(field) if field in Settings.model_fields else field, *inner])
            lines.append(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
