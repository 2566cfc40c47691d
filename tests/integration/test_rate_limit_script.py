"""The rate limit's GCRA script on each transport against a real Redis: the embedded
server, the machine's (CI), and Upstash REST (the test double in front of a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from gateway.rate_limit import RateLimiter
from services.common import keys
from services.common.config import Settings
from services.common.transport import open_transport

if TYPE_CHECKING:
    from doubles.upstash_rest import UpstashRestDouble

T0 = 1_700_000_000.0  # seconds; the limiter's clock is set by hand


@asynccontextmanager
async def open_limiter(config: dict[str, Any], now: list[float]) -> AsyncIterator[RateLimiter]:
    transport, _ = open_transport(Settings(**config))
    try:
        yield RateLimiter(transport, clock=lambda: now[0])
    finally:
        await transport.close()


def run(config: dict[str, Any], body: Callable[[RateLimiter, list[float]], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        now = [T0]
        async with open_limiter(config, now) as limiter:
            return await body(limiter, now)

    return asyncio.run(main())


async def allowed(limiter: RateLimiter, budget: str, limit: int, client: str) -> bool:
    decision = await limiter.check(budget, limit, client)
    assert decision is not None
    return decision.allowed


def test_a_burst_of_the_limit_then_one_per_interval(queue_config: dict[str, Any]) -> None:
    async def body(limiter: RateLimiter, now: list[float]) -> None:
        burst = [await limiter.check("reads", 3, "ip:a") for _ in range(3)]
        assert [(d.allowed, d.remaining) for d in burst if d] == [(1, 2), (1, 1), (1, 0)]
        assert [d.reset_ms for d in burst if d] == [20_000, 40_000, 60_000]
        refused = await limiter.check("reads", 3, "ip:a")
        assert refused is not None and not refused.allowed
        assert (refused.remaining, refused.retry_after_ms, refused.reset_ms) == (0, 20_000, 60_000)
        assert refused.headers()["Retry-After"] == "20"
        now[0] += 19.999  # a refusal changes nothing: the wait is still what it said
        late = await limiter.check("reads", 3, "ip:a")
        assert late is not None and (late.allowed, late.retry_after_ms) == (False, 1)
        now[0] += 0.001
        again = await limiter.check("reads", 3, "ip:a")
        assert again is not None and (again.allowed, again.remaining) == (True, 0)
        now[0] += 60  # a full budget again
        full = await limiter.check("reads", 3, "ip:a")
        assert full is not None and (full.allowed, full.remaining) == (True, 2)

    run(queue_config, body)


def test_clients_and_budgets_are_counted_apart(queue_config: dict[str, Any]) -> None:
    async def body(limiter: RateLimiter, _: list[float]) -> None:
        assert [await allowed(limiter, "ingest", 2, "ip:a") for _ in range(3)] == [1, 1, 0]
        assert await allowed(limiter, "ingest", 2, "ip:b")
        assert await allowed(limiter, "reads", 2, "ip:a")

    run(queue_config, body)


def test_the_key_expires_when_the_budget_is_full_again(queue_config: dict[str, Any]) -> None:
    async def body(limiter: RateLimiter, _: list[float]) -> None:
        await limiter.check("reads", 10, "ip:a")
        await limiter.check("reads", 10, "ip:a")
        ttl = await limiter.transport.call("PTTL", keys.rate_limit("reads", "ip:a"))
        assert 11_000 < int(ttl) <= 12_000  # two intervals of 6 s

    run(queue_config, body)


def test_concurrent_requests_never_pass_more_than_the_limit(queue_config: dict[str, Any]) -> None:
    async def body(limiter: RateLimiter, _: list[float]) -> None:
        decisions = await asyncio.gather(*(limiter.check("ingest", 10, "ip:a") for _ in range(50)))
        assert sum(d.allowed for d in decisions if d) == 10
        assert sorted(d.remaining for d in decisions if d and d.allowed) == list(range(10))

    run(queue_config, body)


def test_each_check_on_upstash_rest_is_one_request_and_a_refused_client_none(
    upstash_rest: UpstashRestDouble,
) -> None:
    from environment import flush_redis

    flush_redis(upstash_rest.redis_url, may_skip=False)
    config = {"upstash_redis_rest_url": upstash_rest.url, "upstash_redis_rest_token": "test-token"}

    async def body(limiter: RateLimiter, now: list[float]) -> None:
        await limiter.check("reads", 5, "ip:warm")  # may load the script (EVALSHA, EVAL)
        upstash_rest.reset_counts()
        assert [await allowed(limiter, "reads", 5, "ip:a") for _ in range(6)] == [1] * 5 + [0]
        assert (upstash_rest.requests, upstash_rest.commands) == (6, 6)
        for _ in range(20):  # until its Retry-After (12 s) has passed: known without asking
            now[0] += 0.5
            assert not await allowed(limiter, "reads", 5, "ip:a")
        assert await allowed(limiter, "reads", 5, "ip:b")
        now[0] += 2
        assert await allowed(limiter, "reads", 5, "ip:a")
        assert (upstash_rest.requests, upstash_rest.commands) == (8, 8)

    run(config, body)
