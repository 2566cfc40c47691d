"""Test double for the Upstash Redis REST API: an HTTP server speaking the wire protocol of
the `upstash-redis` SDK (`POST /`, `/pipeline`, `/multi-exec`, bearer token, optional
base64 replies) that forwards every command verbatim to a real Redis and returns its raw
replies. Like Upstash it refuses blocking commands (BLPOP, WAIT, XREAD/XREADGROUP with
BLOCK, SUBSCRIBE, MONITOR, ...) and WATCH/MULTI/EXEC-style commands; it counts requests
and forwarded commands so benchmarks can see how many a client sent.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import ResponseError
from serving import serve_asgi
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BLOCKING_COMMANDS = frozenset(
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
    }
)
TRANSACTION_COMMANDS = frozenset({"WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD"})

Command = list[str]
Reply = bytes | int | list["Reply"] | ResponseError | None
Json = str | int | list["Json"] | None


class Refused(Exception):
    """A request the REST API rejects with HTTP 400; the message is the error text."""


def parse_command(raw: object) -> Command:
    """Validate one JSON command and return it as strings, or raise Refused."""
    if not isinstance(raw, list) or not raw or any(type(a) not in (str, int, float) for a in raw):
        raise Refused("ERR a command must be a non-empty JSON array of strings and numbers")
    command = [str(arg) for arg in raw]
    name = command[0].upper()
    if name in BLOCKING_COMMANDS or (name in ("XREAD", "XREADGROUP") and _has_block(command)):
        raise Refused(f"ERR {name} is blocking: the REST API does not support blocking commands")
    if name in TRANSACTION_COMMANDS:
        raise Refused(
            f"ERR {name} is not supported by the REST API: it does not support WATCH or "
            "transaction commands (use /multi-exec)"
        )
    return command


def _has_block(command: Command) -> bool:
    """Whether an XREAD/XREADGROUP has a BLOCK option (options precede STREAMS)."""
    words = [arg.upper() for arg in command[1:]]
    options = words[: words.index("STREAMS")] if "STREAMS" in words else words
    return "BLOCK" in options


def error_text(error: ResponseError) -> str:
    """The Redis error line, restoring the code prefix (ERR, NOSCRIPT...) redis-py strips."""
    return f"{error.status_code} {error}" if error.status_code else str(error)


def encode(reply: Reply, b64: bool) -> Json:
    """A raw Redis reply as Upstash JSON: bulk strings base64'd (all but "OK") or UTF-8."""
    if isinstance(reply, list):
        return [encode(item, b64) for item in reply]
    if isinstance(reply, bytes):
        if b64 and reply != b"OK":
            return base64.b64encode(reply).decode("ascii")
        return reply.decode("utf-8", errors="replace")
    if isinstance(reply, ResponseError):
        raise TypeError(f"nested Redis error in a reply: {error_text(reply)}")
    return reply


def entry(reply: Reply, b64: bool) -> dict[str, Json]:
    """One `{"result": ...}` or `{"error": ...}` object."""
    if isinstance(reply, ResponseError):
        return {"error": error_text(reply)}
    return {"result": encode(reply, b64)}


class UpstashRestDouble:
    """The running double: its URL, token and request/command counters."""

    def __init__(self, redis_url: str, url: str, token: str) -> None:
        self.redis_url = redis_url
        self.url = url
        self.token = token
        # RESP2 gives the flat arrays Upstash returns (redis-py 8 defaults to RESP3 maps).
        self._pool = redis.ConnectionPool.from_url(redis_url, protocol=2)
        self._lock = threading.Lock()
        self._requests = 0
        self._commands = 0
        self.app = Starlette(
            routes=[
                Route(path, self._handle, methods=["POST"])
                for path in ("/", "/pipeline", "/multi-exec")
            ]
        )

    @property
    def requests(self) -> int:
        """HTTP requests served (including refused ones)."""
        with self._lock:
            return self._requests

    @property
    def commands(self) -> int:
        """Commands forwarded to Redis (refused commands excluded)."""
        with self._lock:
            return self._commands

    def reset_counts(self) -> None:
        """Zero both counters."""
        with self._lock:
            self._requests = 0
            self._commands = 0

    def close(self) -> None:
        """Close the Redis connections."""
        self._pool.disconnect()

    def forward(self, commands: list[Command], transaction: bool) -> list[Reply]:
        """Send commands to Redis in one round trip and return one raw reply per command.

        With transaction=True they run in MULTI/EXEC; a transaction Redis aborts
        (EXECABORT) raises Refused.
        """
        wrapped = [["MULTI"], *commands, ["EXEC"]] if transaction else commands
        conn = self._pool.get_connection()
        try:
            conn.send_packed_command(conn.pack_commands(wrapped))
            replies = [_read(conn) for _ in wrapped]
        finally:
            self._pool.release(conn)
        with self._lock:
            self._commands += len(commands)
        if not transaction:
            return replies
        executed = replies[-1]
        if isinstance(executed, ResponseError):
            raise Refused(error_text(executed))
        assert isinstance(executed, list)
        return executed

    async def _handle(self, request: Request) -> JSONResponse:
        with self._lock:
            self._requests += 1
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        b64 = request.headers.get("upstash-encoding") == "base64"
        try:
            try:
                body = await request.json()
            except ValueError as exc:
                raise Refused("ERR the request body must be JSON") from exc
            if request.url.path == "/":
                [reply] = await run_in_threadpool(self.forward, [parse_command(body)], False)
                if isinstance(reply, ResponseError):
                    raise Refused(error_text(reply))
                return JSONResponse({"result": encode(reply, b64)})
            if not isinstance(body, list):
                raise Refused("ERR the request body must be a JSON array of commands")
            if request.url.path == "/multi-exec":
                commands = [parse_command(raw) for raw in body]
                replies = await run_in_threadpool(self.forward, commands, True)
                return JSONResponse([entry(reply, b64) for reply in replies])
            return JSONResponse(await run_in_threadpool(self._pipeline, body, b64))
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def _pipeline(self, body: list[object], b64: bool) -> list[dict[str, Json]]:
        """Run a pipeline's valid commands; each refused one gets an error entry instead."""
        parsed: list[Command | Refused] = []
        for raw in body:
            try:
                parsed.append(parse_command(raw))
            except Refused as exc:
                parsed.append(exc)
        commands = [command for command in parsed if not isinstance(command, Refused)]
        replies = iter(self.forward(commands, False) if commands else [])
        return [
            {"error": str(command)} if isinstance(command, Refused) else entry(next(replies), b64)
            for command in parsed
        ]


def _read(conn: redis.Connection) -> Reply:
    """Read one raw reply, returning (not raising) a Redis error reply."""
    try:
        reply: Reply = conn.read_response(disable_decoding=True)
    except ResponseError as exc:
        return exc
    return reply


@contextmanager
def serve_upstash_rest(redis_url: str, token: str = "test-token") -> Iterator[UpstashRestDouble]:
    """Serve an Upstash REST double for `redis_url` on a free 127.0.0.1 port."""
    double = UpstashRestDouble(redis_url, "", token)
    try:
        with serve_asgi(double.app, lifespan="off") as url:
            double.url = url
            yield double
    finally:
        double.close()
