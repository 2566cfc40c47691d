"""`GET /health`: Redis, the metadata DB and Qdrant each checked; 200 or 503 naming the
failure. `GET /metrics`: Prometheus exposition.

The checks cost a Redis command (billed on Upstash), a DB query and a Qdrant call, and
`/health` needs no token: so their answer is reused for `ALEXANDRIA_HEALTH_CACHE_SECONDS`, and
calls that arrive while a check runs wait for that one (`CachedChecks`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
    if getattr(state, "health_checks", None) is None:
        state.health_checks = CachedChecks(state.settings.health_cache_seconds)
    results = await state.health_checks.get(lambda: _check(state))
    failed = [name for name, value in results.items() if value != "ok"]
    body: dict[str, Any] = {"status": "ok" if not failed else "degraded", "checks": results}
    if failed:
        body["error"], body["detail"] = "unhealthy", f"failing: {', '.join(failed)}"
    return JSONResponse(body, status_code=503 if failed else 200)


class CachedChecks:
    """The last checks' results, reused for `seconds`; one run at a time."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds, self._clock = seconds, clock
        self._results: dict[str, str] | None = None
        self._at = 0.0
        self._running: asyncio.Future[dict[str, str]] | None = None

    async def get(self, run: Callable[[], Awaitable[dict[str, str]]]) -> dict[str, str]:
        if self._results is not None and self._clock() - self._at < self._seconds:
            return self._results
        if self._running is None:
            self._running = asyncio.ensure_future(run())
            self._running.add_done_callback(self._finished)
        return await asyncio.shield(self._running)

    def _finished(self, running: asyncio.Future[dict[str, str]]) -> None:
        self._running = None
        if not running.cancelled() and running.exception() is None:
            self._results, self._at = running.result(), self._clock()


async def _check(state: Any) -> dict[str, str]:
    checks = {
        "redis": state.queue.transport.ping(),
        "database": asyncio.to_thread(ping, state.engine),
        "qdrant": state.store.collections(),
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"
    return results


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
