"""`GET /health`: Redis, the metadata DB and Qdrant each checked; 200 or 503 naming the failure."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.db import ping

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/health", summary="Liveness and dependency checks")
async def health(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {
        "redis": state.queue.transport.ping(),
        "database": asyncio.to_thread(ping, state.engine),
        "qdrant": state.store.get_collections(),
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
