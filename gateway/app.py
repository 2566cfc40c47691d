"""The gateway: FastAPI app factory and lifespan (clients created once, closed after).

Never imports torch, torch_geometric or tree_sitter (tests/unit/gateway proves it):
it runs on a 512 MB free-tier host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.db import open_database
from gateway.errors import install_error_handlers
from gateway.events import consume_events
from gateway.metrics import Metrics
from gateway.middleware import RequestIds, RequestLimits, RequestMetrics
from gateway.rate_limit import RateLimiter
from gateway.routes import graph, health, ingestion, repositories
from services.common.config import Settings, load_settings
from services.common.qdrant_api import QdrantApi
from services.common.queue import JobQueue
from services.common.transport import open_transport
from services.common.vectors import ensure_collection, open_vector_store

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, with_coordinator: bool = False) -> FastAPI:
    """Build the app. `with_coordinator` also runs a coordinator in this process
    (the LOCAL default: Qdrant local mode allows one process per storage path)."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        transport, embedded_redis = open_transport(settings)
        store = open_vector_store(settings)
        engine = await asyncio.to_thread(open_database, settings)
        queue = JobQueue(transport, lease_seconds=settings.job_lease_seconds)
        try:
            await queue.ensure_group()
        except Exception as exc:
            log.warning("queue not ready at start (%s); ingest answers 503 until it is", exc)
        try:
            await ensure_collection(store)
        except Exception as exc:
            log.warning("Qdrant not ready at start (%s); search answers 503 until it is", exc)
        app.state.settings, app.state.queue, app.state.store = settings, queue, store
        app.state.engine = engine
        app.state.rate_limiter = RateLimiter(transport)
        app.state.admin_token = settings.ingest_token()

        stop = asyncio.Event()
        app.state.events_wake = asyncio.Event()
        events = asyncio.create_task(
            consume_events(queue, engine, stop, settings, app.state.events_wake)
        )
        coordinator, own_transport = None, None
        if with_coordinator:  # its own connections: its blocking reads hold one for long
            own_transport, _ = open_transport(settings)
            own_queue = JobQueue(own_transport, lease_seconds=settings.job_lease_seconds)
            coordinator = asyncio.create_task(_run_coordinator(settings, own_queue, store, stop))
        try:
            yield
        finally:
            stop.set()
            events.cancel()
            if coordinator is not None:
                # The coordinator releases its job in hand before it returns.
                await asyncio.wait({coordinator}, timeout=50)
            if own_transport is not None:
                await own_transport.close()
            await transport.close()
            await store.close()
            engine.dispose()
            if embedded_redis is not None:
                embedded_redis.terminate()

    app = FastAPI(
        title="Neo Alexandria gateway",
        version="0.1.0",
        summary="Queue repositories for structural embedding and search files by role.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(ingestion.router)
    app.include_router(repositories.router)
    app.include_router(graph.router)
    app.include_router(health.router)
    app.state.metrics = Metrics()
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Idempotency-Key", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
    app.add_middleware(
        RequestLimits,
        max_path_bytes=settings.max_request_path_bytes,
        max_body_bytes=settings.max_request_body_bytes,
    )
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(RequestIds)  # outermost: refused requests get an id too
    return app


async def _run_coordinator(
    settings: Settings, queue: JobQueue, store: QdrantApi, stop: asyncio.Event
) -> None:
    from services.ingest.coordinator import Coordinator
    from services.ingest.pipeline import edge_pipeline

    async with edge_pipeline(settings, store) as run_job:
        await Coordinator(settings, queue, run_job).run(stop)
