"""The Upstash REST test double, driven by the real `upstash-redis` SDK and raw HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest
import redis
from doubles.upstash_rest import UpstashRestDouble, serve_upstash_rest
from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

T = TypeVar("T")


@pytest.fixture(scope="module")
def server(embedded_redis_url: str) -> Iterator[UpstashRestDouble]:
    with serve_upstash_rest(embedded_redis_url) as double:
        yield double


@pytest.fixture
def double(server: UpstashRestDouble, embedded_redis_url: str) -> UpstashRestDouble:
    """The shared double over a flushed Redis, counters zeroed."""
    client = redis.Redis.from_url(embedded_redis_url)
    client.flushdb()
    client.close()
    server.reset_counts()
    return server


def run(
    double: UpstashRestDouble, use: Callable[[Redis], Awaitable[T]], token: str | None = None
) -> T:
    """Run `use` with an SDK client pointed at the double."""

    async def main() -> T:
        async with Redis(
            double.url, token or double.token, rest_retries=0, allow_telemetry=False
        ) as client:
            return await use(client)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


Post = Callable[..., httpx.Response]


@pytest.fixture
def post(double: UpstashRestDouble, http: httpx.Client) -> Post:
    """POST a JSON body to the double with its token, base64 encoding on unless b64=False."""

    def send(path: str, body: object, b64: bool = True) -> httpx.Response:
        headers = {"Authorization": f"Bearer {double.token}"}
        if b64:
            headers["Upstash-Encoding"] = "base64"
        return http.post(double.url + path, json=body, headers=headers)

    return send


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_set_get_round_trip_with_base64(double: UpstashRestDouble) -> None:
    async def use(client: Redis) -> tuple[object, object]:
        return await client.execute(["SET", "k", "héllo ✓"]), await client.execute(["GET", "k"])

    assert run(double, use) == (True, "héllo ✓")


def test_wire_format(post: Post) -> None:
    assert post("/", ["SET", "k", "v"]).json() == {"result": "OK"}
    assert post("/", ["GET", "k"]).json() == {"result": b64("v")}
    assert post("/", ["GET", "k"], b64=False).json() == {"result": "v"}
    assert post("/", ["INCRBY", "n", 2]).json() == {"result": 2}
    assert post("/", ["GET", "missing"]).json() == {"result": None}
    assert post("/", ["HSET", "h", "f", 1.5]).json() == {"result": 1}
    assert post("/", ["HGETALL", "h"], b64=False).json() == {"result": ["f", "1.5"]}
    wrong_type = post("/", ["LPUSH", "k", "x"])
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"].startswith("WRONGTYPE")
    arity = post("/", ["GET"])
    assert arity.status_code == 400
    assert arity.json()["error"].startswith("ERR wrong number of arguments")


def test_eval_returns_nested_array(double: UpstashRestDouble) -> None:
    script = "return {1, 'two', false, {3, 'four'}}"

    async def use(client: Redis) -> object:
        return await client.execute(["EVAL", script, 0])

    assert run(double, use) == [1, "two", None, [3, "four"]]


def test_xreadgroup_without_block_returns_the_entry(double: UpstashRestDouble) -> None:
    async def use(client: Redis) -> tuple[object, object]:
        entry_id = await client.execute(["XADD", "s", "*", "f", "v"])
        await client.execute(["XGROUP", "CREATE", "s", "g", "0"])
        read = await client.execute(["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"])
        return entry_id, read

    entry_id, read = run(double, use)
    assert read == [["s", [[entry_id, ["f", "v"]]]]]


@pytest.mark.parametrize(
    "command",
    [
        ["XREADGROUP", "GROUP", "g", "c", "block", 0, "STREAMS", "s", ">"],
        ["XREAD", "BLOCK", 10, "STREAMS", "s", "$"],
        ["WATCH", "k"],
        ["BLPOP", "q", 0],
        ["MULTI"],
    ],
)
def test_unsupported_commands_are_refused(double: UpstashRestDouble, command: list[object]) -> None:
    async def use(client: Redis) -> object:
        return await client.execute(command)

    with pytest.raises(UpstashError, match=str(command[0]).upper()):
        run(double, use)
    assert double.commands == 0


def test_batch_errors(post: Post) -> None:
    """A pipeline reports errors per command; a refused or aborted transaction runs nothing."""
    batch = [["SET", "k", "v"], ["BLPOP", "q", 0], ["GET", "k"]]
    piped = post("/pipeline", batch)
    assert piped.status_code == 200
    assert piped.json()[0] == {"result": "OK"}
    assert "blocking" in piped.json()[1]["error"]
    assert piped.json()[2] == {"result": b64("v")}
    refused = post("/multi-exec", [["DEL", "k"], ["WATCH", "k"]])
    assert refused.status_code == 400
    assert "WATCH" in refused.json()["error"]
    aborted = post("/multi-exec", [["DEL", "k"], ["NOSUCHCOMMAND"]])
    assert aborted.status_code == 400
    assert aborted.json()["error"].startswith("EXECABORT")
    assert post("/", ["EXISTS", "k"]).json() == {"result": 1}
    ran = post("/multi-exec", [["LPUSH", "k", "x"], ["DEL", "k"]]).json()
    assert ran[0]["error"].startswith("WRONGTYPE")
    assert ran[1] == {"result": 1}


def test_wrong_token_is_refused(double: UpstashRestDouble, http: httpx.Client) -> None:
    async def use(client: Redis) -> object:
        return await client.execute(["PING"])

    with pytest.raises(UpstashError, match="Unauthorized"):
        run(double, use, token="wrong")
    assert http.post(double.url, json=["PING"]).status_code == 401


def test_pipeline_and_multi_exec_through_the_sdk(double: UpstashRestDouble) -> None:
    async def use(client: Redis) -> object:
        pipe = client.pipeline()
        pipe.set("a", "1")
        pipe.incr("a")
        pipe.get("a")
        multi = client.multi()
        multi.incr("a")
        multi.lpush("l", "x")
        multi.get("a")
        return await pipe.exec(), await multi.exec()

    assert run(double, use) == ([True, 2, "2"], [3, 1, "3"])


def test_counters_count_requests_and_commands(double: UpstashRestDouble) -> None:
    async def use(client: Redis) -> None:
        await client.execute(["SET", "k", "v"])
        pipe = client.pipeline()
        pipe.get("k")
        pipe.get("k")
        await pipe.exec()
        multi = client.multi()
        multi.get("k")
        await multi.exec()

    run(double, use)
    assert (double.requests, double.commands) == (3, 4)
    double.reset_counts()
    assert (double.requests, double.commands) == (0, 0)
