"""How the queue reaches Redis: the Redis protocol, Upstash's REST API, or an embedded server.

Every queue operation is one Lua script (`Script`), so all three transports run the
same code and each operation is atomic and costs one command. The only other
commands are `PING` and, on the Redis protocol, the blocking stream read an idle
worker waits in (`Transport.blocking` says whether that is allowed).

Replies are raw RESP2 shapes on every transport: strings, integers, None, and
nested lists (a hash is a flat `[field, value, ...]` list).

Selection (`open_transport`): `UPSTASH_REDIS_REST_URL` + `UPSTASH_REDIS_REST_TOKEN`
→ Upstash REST; else `REDIS_URL` → Redis protocol (also Upstash over TLS,
`rediss://`); else, in LOCAL mode, the embedded redis-server under the data dir.
`check_queue` is the one authenticated call a process makes at start (R11.2).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, NoScriptError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from upstash_redis.asyncio import Redis as UpstashRedis
from upstash_redis.errors import UpstashError

from services.common.config import ConfigError, Settings
from services.common.embedded_redis import ensure_embedded_redis

Arg = str | int | float
Reply = Any
CHECK_TIMEOUT_SECONDS = 20.0
# A blocking read (ALEXANDRIA_QUEUE_BLOCK_SECONDS) may take this much longer before its socket
# read times out: the server answers only when the block ends.
BLOCK_READ_MARGIN_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS = 50
POOL_WAIT_SECONDS = 10.0
"""How long a command waits for a free connection of the pool before failing."""

# What Upstash's REST API cannot run: commands that block the connection, and
# optimistic transactions (WATCH/MULTI/EXEC; scripts give atomicity instead).
REST_UNSUPPORTED = frozenset(
    {
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BLMOVE",
        "BLMPOP",
        "BZPOPMIN",
        "BZPOPMAX",
        "BZMPOP",
        "WAIT",
        "WAITAOF",
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "MONITOR",
        "WATCH",
        "UNWATCH",
        "MULTI",
        "EXEC",
        "DISCARD",
    }
)


class QueueUnavailable(Exception):
    """Redis could not be reached (connection refused, dropped, timed out)."""


class QueueAuthFailed(QueueUnavailable):
    """Redis refused the credentials. Once running it is retried like an outage (a rotated
    password may come back); at start `check_queue` turns it into a ConfigError."""


class QueueCommandError(Exception):
    """Redis answered with an error."""


class UnsupportedCommand(QueueCommandError):
    """The transport cannot run this command (Upstash REST: blocking commands, WATCH)."""


@dataclass(frozen=True)
class Script:
    """A Lua script, run by its SHA1 once the server has seen it."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


class Transport(ABC):
    """One way of sending commands to the queue's Redis."""

    name: str
    blocking: bool

    @abstractmethod
    async def call(self, *args: Arg) -> Reply:
        """Send one command and return its raw reply."""

    @abstractmethod
    async def close(self) -> None: ...

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg] = ()) -> Reply:
        """EVALSHA the script, sending its source (EVAL) only when the server lacks it."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except QueueCommandError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        return await self.call("EVAL", script.source, len(keys), *keys, *args)

    async def ping(self) -> None:
        await self.call("PING")


class RespTransport(Transport):
    """The Redis protocol through redis-py: any Redis, Upstash over TLS, or the embedded one."""

    blocking = True

    def __init__(
        self,
        url: str,
        *,
        name: str = "redis",
        read_timeout_seconds: float,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.name = name
        # RESP2 with no reply callbacks: the same raw shapes Lua and the REST API give.
        # No health-check PINGs: they would be commands billed while idle; TCP
        # keepalive notices a dead peer during a long blocking read instead. The read
        # timeout must outlast the longest blocking read (redis-py's default is 5 s).
        # At most `max_connections` connections: a command past them waits for one
        # (up to POOL_WAIT_SECONDS) instead of failing with "Too many connections".
        tcp = {} if url.startswith("unix:") else {"socket_keepalive": True}
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=POOL_WAIT_SECONDS,
            protocol=2,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=read_timeout_seconds,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            **tcp,
        )
        self._client = Redis(connection_pool=pool)
        self._client.response_callbacks.clear()

    async def call(self, *args: Arg) -> Reply:
        try:
            return await self._client.execute_command(*args)
        except NoScriptError as exc:
            raise QueueCommandError(f"NOSCRIPT {exc}") from exc
        except (AuthenticationError, AuthorizationError) as exc:
            raise QueueAuthFailed(f"{self.name}: {exc}") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailable(f"{self.name}: {exc}") from exc
        except RedisError as exc:
            raise QueueCommandError(str(exc)) from exc

    async def close(self) -> None:
        await self._client.aclose()


class RestTransport(Transport):
    """Upstash's REST API through the `upstash-redis` SDK: one HTTPS request per command."""

    name = "upstash-rest"
    blocking = False

    def __init__(self, url: str, token: str) -> None:
        self._client = UpstashRedis(url, token, allow_telemetry=False, rest_retries=0)

    async def call(self, *args: Arg) -> Reply:
        refuse_unsupported_rest_command(args)
        try:
            return await self._client.execute(list(args))
        except UpstashError as exc:
            raise QueueCommandError(str(exc)) from exc
        except (httpx.TransportError, ValueError) as exc:  # ValueError: a non-JSON reply
            raise QueueUnavailable(f"{self.name}: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()


def refuse_unsupported_rest_command(args: Sequence[Arg]) -> None:
    """Raise UnsupportedCommand for what Upstash REST cannot run, before it is sent."""
    name = str(args[0]).upper()
    blocking_read = name in ("XREAD", "XREADGROUP") and any(
        str(a).upper() == "BLOCK" for a in args[1:]
    )
    if name in REST_UNSUPPORTED or blocking_read:
        raise UnsupportedCommand(
            f"{name}{' BLOCK' if blocking_read else ''} is not supported by the Upstash REST API"
        )


def redis_url(
    settings: Settings, *, die_with_caller: bool = False
) -> tuple[str, subprocess.Popen[bytes] | None]:
    """The Redis-protocol URL to use, and the embedded server process if this call
    started it (`die_with_caller`: see `ensure_embedded_redis`)."""
    if settings.redis_url:
        return settings.redis_url, None
    if not settings.local:
        raise ConfigError("REDIS_URL or UPSTASH_REDIS_REST_URL is required outside LOCAL mode")
    return ensure_embedded_redis(
        settings.data_dir,
        die_with_caller=die_with_caller,
        log_limits=(settings.log_max_bytes, settings.log_backups),
    )


def open_transport(settings: Settings) -> tuple[Transport, subprocess.Popen[bytes] | None]:
    """The configured transport, and the embedded server process if this call started one."""
    if settings.upstash_redis_rest_url and settings.upstash_redis_rest_token:
        return RestTransport(
            settings.upstash_redis_rest_url, settings.upstash_redis_rest_token
        ), None
    url, embedded = redis_url(settings)
    name = "redis" if settings.redis_url else "embedded"
    read_timeout = settings.queue_block_seconds + BLOCK_READ_MARGIN_SECONDS
    transport = RespTransport(
        url,
        name=name,
        read_timeout_seconds=read_timeout,
        max_connections=settings.redis_max_connections,
    )
    return transport, embedded


def describe_queue(settings: Settings) -> str:
    """Which variable selects the queue and where it points, with no secret in it."""
    if settings.upstash_redis_rest_url:
        return f"UPSTASH_REDIS_REST_URL ({settings.upstash_redis_rest_url})"
    if settings.redis_url:
        return f"REDIS_URL ({_redact(settings.redis_url, settings)})"
    return f"the embedded redis-server under {settings.data_dir}"


async def check_queue(transport: Transport, settings: Settings) -> None:
    """One authenticated call (PING), so a process stops at start on bad queue settings.

    Raises ConfigError naming the variable and the reason (credentials refused, host
    unreachable, no answer), never a secret. Later outages are the caller's to retry."""
    where = describe_queue(settings)
    try:
        await asyncio.wait_for(transport.ping(), CHECK_TIMEOUT_SECONDS)
    except QueueAuthFailed as exc:
        reason = f"credentials refused ({exc})"
    except QueueCommandError as exc:  # on REST: a wrong token (401)
        if isinstance(transport, RestTransport):
            where = "UPSTASH_REDIS_REST_TOKEN"
        reason = f"refused by {settings.upstash_redis_rest_url or 'Redis'} ({exc})"
    except QueueUnavailable as exc:
        reason = f"unreachable ({exc})"
    except TimeoutError:
        reason = f"no answer in {CHECK_TIMEOUT_SECONDS:.0f}s"
    else:
        return
    raise ConfigError(_redact(f"queue check failed: {where}: {reason}", settings)) from None


async def check_queue_settings(settings: Settings) -> None:
    """`check_queue` over a connection of its own, opened and closed here."""
    transport, _ = open_transport(settings)
    try:
        await check_queue(transport, settings)
    finally:
        await transport.close()


def _redact(text: str, settings: Settings) -> str:
    """`text` with the queue's password and REST token replaced by ***."""
    password = urlsplit(settings.redis_url or "").password
    secrets = (password, unquote(password or ""), settings.upstash_redis_rest_token)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
