"""Per-client rate limits through the real app: real Redis (each queue transport for the
budgets themselves), SQLite, Qdrant local mode. The limiter's clock is set by hand, so
a refilled budget needs no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from environment import flush_redis
from fastapi.testclient import TestClient

from gateway.app import create_app
from services.common.config import Settings

ADMIN = "rate-admin-token-0123456789"
HISTORY = "/api/v1/ingestion/jobs/history"
READS = [HISTORY, "/api/v1/repositories", "/api/v1/ingestion/worker/status"]
UNLIMITED = ["/health", "/metrics", "/openapi.json", "/docs"]
PEER = ("10.0.0.1", 50000)


def limited_settings(tmp_path: Path, queue: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alexandria_data_dir": tmp_path / "data",
        "admin_token": ADMIN,
        "max_queue_size": 100,
        "rate_limit_ingest_per_minute": 2,
        "rate_limit_reads_per_minute": 3,
        **queue,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def embedded(embedded_redis_url: str) -> dict[str, str]:
    return {"redis_url": flush_redis(embedded_redis_url, may_skip=False)}


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serves settings: `serve(settings)` is (client, clock), the clock the limiter's."""
    with ExitStack() as stack:

        def start(settings: Settings) -> tuple[TestClient, list[float]]:
            client = stack.enter_context(TestClient(create_app(settings), client=PEER))
            now = [1_700_000_000.0]
            client.app.state.rate_limiter.clock = lambda: now[0]  # type: ignore[attr-defined]
            return client, now

        yield start


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ingest(client: TestClient, repo: str, headers: dict[str, str]) -> Any:
    return client.post(f"/api/v1/ingestion/ingest/github.com/a/{repo}", headers=headers)


def test_reads_past_the_budget_get_429_with_retry_after_until_it_refills(
    tmp_path: Path, queue_config: dict[str, str], serve: Any
) -> None:
    client, now = serve(limited_settings(tmp_path, queue_config))
    replies = [client.get(path) for path in READS]  # every read route shares one budget
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [r.headers["RateLimit-Remaining"] for r in replies] == ["2", "1", "0"]
    assert {r.headers["RateLimit-Limit"] for r in replies} == {"3"}
    refused = client.get(HISTORY)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited" and set(refused.json()) == {"error", "detail"}
    assert refused.headers["Retry-After"] == "20"  # one request every 60/3 s
    assert refused.headers["RateLimit-Remaining"] == "0" and refused.headers["X-Request-ID"]
    for path in UNLIMITED * 3:
        assert client.get(path).status_code == 200, path
    now[0] += 19.9
    assert client.get(HISTORY).status_code == 429
    now[0] += 0.1
    assert client.get(HISTORY).status_code == 200
    assert client.get(HISTORY).status_code == 429
    metrics = client.get("/metrics").text
    assert 'alexandria_gateway_rate_limited_total{budget="reads"} 3.0' in metrics
    assert 'route="/api/v1/ingestion/jobs/history",status="429"} 3.0' in metrics


def test_ingest_has_its_own_budget_and_counts_bad_tokens_by_address(
    tmp_path: Path, queue_config: dict[str, str], serve: Any
) -> None:
    client, _ = serve(limited_settings(tmp_path, queue_config))
    admin = [ingest(client, f"r{i}", bearer(ADMIN)).status_code for i in range(3)]
    assert admin == [202, 202, 429]
    refused = ingest(client, "r3", bearer(ADMIN))
    assert refused.json()["error"] == "rate_limited" and refused.headers["Retry-After"] == "30"
    assert client.get(HISTORY).status_code == 200  # the read budget is apart
    # A made-up token counts under the address (the limit comes before the token check).
    guesses = [ingest(client, "x", bearer(f"guess-{i}")).status_code for i in range(3)]
    assert guesses == [401, 401, 429]


def test_another_token_or_address_has_its_own_budget(
    tmp_path: Path, embedded: dict[str, str], serve: Any
) -> None:
    client, _ = serve(limited_settings(tmp_path, embedded, forwarded_for_hops=1))
    behind = {"X-Forwarded-For": "203.0.113.1"}
    assert [client.get(HISTORY, headers=behind).status_code for _ in range(4)][-1] == 429
    assert client.get(HISTORY, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200
    assert client.get(HISTORY, headers={**behind, **bearer(ADMIN)}).status_code == 200
    # Entries left of the one the proxy added are the client's own: they change nothing.
    forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
    assert client.get(HISTORY, headers=forged).status_code == 429
    assert client.get(HISTORY, headers={**behind, **bearer("made-up")}).status_code == 429


def test_forwarded_for_is_ignored_unless_a_proxy_is_configured(
    tmp_path: Path, embedded: dict[str, str], serve: Any
) -> None:
    client, _ = serve(limited_settings(tmp_path, embedded))
    statuses = [
        client.get(HISTORY, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_local_mode_has_no_limit_by_default(
    tmp_path: Path, embedded: dict[str, str], serve: Any
) -> None:
    client, _ = serve(Settings(alexandria_data_dir=tmp_path / "data", **embedded))
    replies = [client.get(HISTORY) for _ in range(50)]
    assert {r.status_code for r in replies} == {200}
    assert not any("RateLimit-Limit" in r.headers for r in replies)


def test_reads_fail_open_when_redis_is_down(tmp_path: Path, serve: Any) -> None:
    from alexandria.stack import free_port

    down = {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    client, _ = serve(limited_settings(tmp_path, down))
    assert [client.get("/api/v1/repositories").status_code for _ in range(5)] == [200] * 5
    metrics = client.get("/metrics").text
    assert 'alexandria_gateway_rate_limit_unchecked_total{budget="reads"} 5.0' in metrics
    # An ingest goes through to the queue, which answers for itself.
    reply = ingest(client, "r", bearer(ADMIN))
    assert reply.status_code == 503 and reply.json()["error"] == "queue_unavailable"
