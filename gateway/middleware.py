"""Small ASGI middlewares: request ids, request size limits, and per-route request
metrics and log lines."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import Metrics
from services.common import logs

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = logs.REQUEST_ID_KEY.encode()


async def _send_error(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """414 for a path (with query) over `max_path_bytes`; 413 for a body over
    `max_body_bytes`, whether declared by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, *, max_path_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_path_bytes, self.max_body_bytes = max_path_bytes, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope["query_string"]
        )
        if path_bytes > self.max_path_bytes:
            await _send_error(send, 414, "uri_too_long", f"path over {self.max_path_bytes} bytes")
            return
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = f"body over {self.max_body_bytes} bytes"
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _send_error(send, 413, "body_too_large", too_large)
            return
        seen = 0
        started = refused = False

        async def limited_receive() -> Message:
            """Past the limit: answer 413 and tell the app the client is gone."""
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                refused = True
                if not started:
                    await _send_error(send, 413, "body_too_large", too_large)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:  # the app's own failure; a refused body's disconnect is expected
                raise


class RequestIds:
    """Gives each HTTP request an id: a sane incoming `X-Request-ID`, else a new one. The
    lines logged while answering carry it and the response returns it in `X-Request-ID`.

    The id is left set: each request runs in a task of its own, and the 500 handler,
    which runs outside every middleware, still finds it there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = logs.sane_id(incoming) or logs.new_id()
        logs.REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class RequestMetrics:
    """Counts, times and logs requests by method, route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route: Any = scope.get("route")
            method, template = scope["method"], getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            self.metrics.observe_request(method, template, status, seconds)
            log.info(
                "%s %s %d",
                method,
                template,
                status,
                extra={
                    "method": method,
                    "route": template,
                    "status": status,
                    "seconds": round(seconds, 4),
                },
            )
