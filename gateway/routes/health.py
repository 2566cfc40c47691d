"""`GET /health`: Redis, the metadata DB and Qdrant each checked; 200 or 503 naming the
failure. `GET /metrics`: Prometheus exposition."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.auth import require_reader
from gateway.db import ping
from gateway.schemas import Health, errors

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is failing"}},
    summary="Liveness and dependency checks",
)
async def health(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {
        "redis": state.queue.transport.ping(),
        "database": asyncio.to_thread(ping, state.engine),
        "qdrant": state.store.collections(),
    }
    results: dict[str, Any] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"
    failed = [name for name, value in results.items() if value != "ok"]
    body = {"status": "ok" if not failed else "degraded", "checks": results}
    if failed:
        body["error"], body["detail"] = "unhealthy", f"failing: {', '.join(failed)}"
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get(
    "/metrics",
    dependencies=[Depends(require_reader)],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **errors(401)},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    body = await state.metrics.render(state.queue, state.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
