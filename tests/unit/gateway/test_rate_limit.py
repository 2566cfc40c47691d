"""gateway/rate_limit.py without Redis: who a request counts as, the headers, the
settings' defaults, and failing open when Redis cannot answer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.requests import Request

from gateway import rate_limit
from gateway.rate_limit import Decision, RateLimiter, client_address, client_id
from services.common.config import Settings
from services.common.transport import Arg, QueueUnavailable, Reply, Transport

ADMIN, READER = "admin-token-0123456789", "read-token-0123456789"


def request(
    headers: Sequence[tuple[str, str]] = (), peer: tuple[str, int] | None = ("10.0.0.9", 5)
) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "client": peer})


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ([], 0, "10.0.0.9"),
        (["203.0.113.7"], 0, "10.0.0.9"),  # not behind a proxy: the header is the client's
        (["203.0.113.7"], 1, "203.0.113.7"),
        (["198.51.100.1, 203.0.113.7"], 1, "203.0.113.7"),  # a forged entry on the left
        (["198.51.100.1, 203.0.113.7, 104.22.17.40"], 2, "203.0.113.7"),  # client, CDN
        (["198.51.100.1", "203.0.113.7, 104.22.17.40"], 2, "203.0.113.7"),  # two headers
        (["104.22.17.40"], 2, "10.0.0.9"),  # fewer entries than proxies: the peer
        (["not-an-ip, 104.22.17.40"], 2, "10.0.0.9"),
        (["203.0.113.7:4242"], 1, "10.0.0.9"),
        (["2001:db8:1:2:3:4:5:6"], 1, "2001:db8:1:2::/64"),  # one client may hold a /64
        (["::ffff:203.0.113.7"], 1, "203.0.113.7"),
    ],
)
def test_the_address_trusts_only_the_configured_proxies(
    forwarded: list[str], hops: int, expected: str
) -> None:
    assert client_address("10.0.0.9", forwarded, hops) == expected


def test_a_peer_that_is_no_ip_is_kept_as_it_is() -> None:
    assert client_address("testclient", [], 0) == "testclient"
    assert client_address(None, ["203.0.113.7"], 2) == "unknown"


def test_a_valid_token_counts_under_its_hash_never_the_token() -> None:
    tokens = [ADMIN, READER]
    as_admin = client_id(request([("Authorization", f"Bearer {ADMIN}")]), tokens, 0)
    as_reader = client_id(request([("Authorization", f"bearer  {READER} ")]), tokens, 0)
    assert as_admin == "token:" + hashlib.sha256(ADMIN.encode()).hexdigest()[:16]
    assert as_reader.startswith("token:") and as_reader != as_admin
    assert ADMIN not in as_admin and READER not in as_reader
    # The same token from another address is the same client.
    other_peer = request([("Authorization", f"Bearer {ADMIN}")], peer=("10.0.0.10", 1))
    assert client_id(other_peer, tokens, 0) == as_admin


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Authorization", "Bearer made-up-token")],  # random tokens must not buy budgets
        [("Authorization", ADMIN)],
        [("Authorization", f"Basic {ADMIN}")],
        [("Authorization", "Bearer ")],
    ],
)
def test_anything_else_counts_under_the_address(headers: list[tuple[str, str]]) -> None:
    assert client_id(request(headers), [ADMIN, READER], 0) == "ip:10.0.0.9"


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    refused = Decision(False, 30, 0, retry_after_ms=1001, reset_ms=59_001)
    assert refused.headers() == {
        "RateLimit-Limit": "30",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "60",
        "Retry-After": "2",
    }
    assert Decision(False, 1, 0, 3, 3).headers()["Retry-After"] == "1"
    assert "Retry-After" not in Decision(True, 30, 29, 0, 2000).headers()


@pytest.mark.parametrize(
    ("mode", "overrides", "expected"),
    [
        ("LOCAL", {}, (0, 0)),  # one user on loopback: no limit unless asked
        ("CLOUD", {}, (30, 600)),
        ("LOCAL", {"rate_limit_ingest_per_minute": 5, "rate_limit_reads_per_minute": 50}, (5, 50)),
        ("CLOUD", {"rate_limit_ingest_per_minute": 0, "rate_limit_reads_per_minute": 0}, (0, 0)),
    ],
)
def test_the_defaults_depend_on_the_mode(
    mode: str, overrides: dict[str, int], expected: tuple[int, int]
) -> None:
    cloud = {
        "admin_token": ADMIN,
        "redis_url": "rediss://default:pw@eu1.upstash.io:6379",
        "database_url": "postgresql://u:p@ep.neon.tech/db?sslmode=require",
        "qdrant_url": "https://x.cloud.qdrant.io:6333",
    }
    settings = Settings(mode=mode, **(cloud if mode == "CLOUD" else {}), **overrides)
    assert (settings.rate_limit("ingest"), settings.rate_limit("reads")) == expected


class DownTransport(Transport):
    """Every command fails as an unreachable Redis does, or hangs with `hang`."""

    name = "down"
    blocking = True

    def __init__(self, hang: bool = False) -> None:
        self.calls, self.hang = 0, hang

    async def call(self, *args: Arg) -> Reply:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(3600)
        raise QueueUnavailable("down: connection refused")

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("hang", [False, True])
def test_redis_down_fails_open_once_then_skips_checks_for_a_while(
    hang: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rate_limit, "CHECK_TIMEOUT_SECONDS", 0.05)
    now = [1000.0]
    transport = DownTransport(hang)
    limiter = RateLimiter(transport, clock=lambda: now[0])

    async def checks(count: int) -> list[Any]:
        return [await limiter.check("reads", 10, "ip:10.0.0.9") for _ in range(count)]

    assert asyncio.run(checks(20)) == [None] * 20
    assert transport.calls == 1  # the others skipped: no added latency, one warning
    assert caplog.text.count("rate limits unchecked") == 1
    now[0] += rate_limit.SKIP_AFTER_FAILURE_SECONDS
    assert asyncio.run(checks(1)) == [None]
    assert transport.calls == 2
