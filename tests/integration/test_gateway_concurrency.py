"""200 concurrent clients get answers, not 503s: the gateway's Redis pool makes a
command past its connections wait for one (here 5 connections, to make them wait)
instead of failing "Too many connections", and /health shares one check among the
calls that arrive while it runs. A real uvicorn server, real Redis, Qdrant local mode."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from serving import serve_asgi

from gateway.app import create_app
from services.common.config import Settings

CLIENTS = 200


async def burst(base: str, path: str) -> Counter[int]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        replies = await asyncio.gather(*(client.get(path) for _ in range(CLIENTS)))
    return Counter(r.status_code for r in replies)


@pytest.mark.parametrize("path", ["/api/v1/ingestion/jobs/history", "/health"])
def test_200_concurrent_reads_are_all_answered(tmp_path: Path, redis_url: str, path: str) -> None:
    settings = Settings(
        alexandria_data_dir=tmp_path / "data",
        redis_url=redis_url,
        redis_max_connections=5,
        health_cache_seconds=0.0,
    )
    with serve_asgi(create_app(settings)) as base:
        assert asyncio.run(burst(base, path)) == Counter({200: CLIENTS})
