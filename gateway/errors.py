"""One error shape for every failure: `{"error": ..., "detail": ...}` with a fitting status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import logs
from services.common.transport import QueueCommandError, QueueUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by routes; becomes a JSON error response."""

    def __init__(
        self, status: int, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _body(error: str, detail: object) -> dict[str, object]:
    return {"error": error, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.error, exc.detail), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(_body("invalid_request", detail), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body("http_error", exc.detail), exc.status_code, headers=exc.headers)

    @app.exception_handler(QueueUnavailable)
    @app.exception_handler(QueueCommandError)
    async def _queue_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("queue unavailable on %s: %s", request.url.path, exc)
        return JSONResponse(_body("queue_unavailable", f"queue unavailable: {exc}"), 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Answered outside the middlewares: the request id is added here.
        headers = {"X-Request-ID": request_id} if (request_id := logs.REQUEST_ID.get()) else None
        return JSONResponse(
            _body("internal_error", "unexpected server error"), 500, headers=headers
        )
