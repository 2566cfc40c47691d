"""Open the configured Redis: `REDIS_URL`, or the embedded server in LOCAL mode."""

from __future__ import annotations

import subprocess

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.config import ConfigError, Settings
from services.common.embedded_redis import ensure_embedded_redis


def redis_url(settings: Settings) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The URL to use, and the embedded server process if this call started one."""
    if settings.redis_url:
        return settings.redis_url, None
    if not settings.local:
        raise ConfigError("REDIS_URL is required outside LOCAL mode")
    return ensure_embedded_redis(settings.data_dir)


def open_redis(url: str) -> Redis:
    """An asyncio client that decodes replies to str and retries dropped connections (R8.6)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        retry=Retry(ExponentialBackoff(cap=5.0, base=0.1), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
