"""Test double for a Qdrant server's REST API: the routes the project uses, served over
HTTP and forwarded to qdrant-client's embedded engine (the real Qdrant code, local mode).

Request bodies are parsed with qdrant-client's own REST models (`extra="forbid"`), so a
misspelt or misplaced field is a 400 here as on a server; answers use the server's
envelope `{"result", "status", "time"}`. With an API key set, requests without the
matching `api-key` header get 401. It counts requests, so tests can see what was sent.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from qdrant_client import QdrantClient
from qdrant_client.http import models
from serving import serve_asgi
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[JSONResponse]]
DONE = {"operation_id": 0, "status": "completed"}


class QdrantRestDouble:
    """Starlette app over a `QdrantClient(path=…)`; `requests` counts calls by route."""

    def __init__(self, path: Path, api_key: str | None = None) -> None:
        self.engine = QdrantClient(path=str(path))
        self.api_key = api_key
        self.requests: dict[str, int] = {}
        self.down = False  # when set, every request gets 503, as from a failing server
        # Each route with the query parameters Qdrant's API documents for it.
        writes, reads = {"wait", "ordering", "timeout"}, {"consistency", "timeout"}
        routes = {
            ("GET", "/collections"): (self._collections, set()),
            ("PUT", "/collections/{name}"): (self._create_collection, {"timeout"}),
            ("PUT", "/collections/{name}/index"): (self._create_index, writes),
            ("PUT", "/collections/{name}/points"): (self._upsert, writes),
            ("POST", "/collections/{name}/points/delete"): (self._delete, writes),
            ("POST", "/collections/{name}/points/payload"): (self._set_payload, writes),
            ("POST", "/collections/{name}/points"): (self._retrieve, reads),
            ("POST", "/collections/{name}/points/query"): (self._query, reads),
            ("POST", "/collections/{name}/points/scroll"): (self._scroll, reads),
            ("POST", "/collections/{name}/points/count"): (self._count, reads),
        }
        self.app = Starlette(
            routes=[
                Route(path, self._guarded(f"{method} {path}", handler, params), methods=[method])
                for (method, path), (handler, params) in routes.items()
            ]
        )

    def _guarded(self, route: str, handler: Handler, params: set[str]) -> Handler:
        async def endpoint(request: Request) -> JSONResponse:
            self.requests[route] = self.requests.get(route, 0) + 1
            if self.down:
                return _error(503, "Service unavailable")
            if self.api_key and request.headers.get("api-key") != self.api_key:
                return _error(401, "Must provide an API key or an Authorization bearer token")
            if unknown := set(request.query_params) - params:
                return _error(400, f"unknown query parameters {sorted(unknown)}")
            try:
                return await handler(request)
            except ValidationError as exc:
                return _error(400, f"Format error in JSON body: {exc.errors()[0]['msg']}")
            except ValueError as exc:  # the engine's "Collection … not found"
                return _error(404, f"Not found: {exc}")

        return endpoint

    async def _collections(self, _: Request) -> JSONResponse:
        return _ok(self.engine.get_collections().model_dump(mode="json"))

    async def _create_collection(self, request: Request) -> JSONResponse:
        body = models.CreateCollection.model_validate(await request.json())
        self.engine.create_collection(
            request.path_params["name"],
            vectors_config=body.vectors,
            sparse_vectors_config=body.sparse_vectors,
        )
        return _ok(True)

    async def _create_index(self, request: Request) -> JSONResponse:
        body = models.CreateFieldIndex.model_validate(await request.json())
        with warnings.catch_warnings():  # the engine notes that local indexes do nothing
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            self.engine.create_payload_index(
                request.path_params["name"], body.field_name, body.field_schema
            )
        return _ok(DONE)

    async def _upsert(self, request: Request) -> JSONResponse:
        body = models.PointsList.model_validate(await request.json())
        self.engine.upsert(request.path_params["name"], points=body.points, wait=True)
        return _ok(DONE)

    async def _delete(self, request: Request) -> JSONResponse:
        body = models.FilterSelector.model_validate(await request.json())
        self.engine.delete(request.path_params["name"], points_selector=body, wait=True)
        return _ok(DONE)

    async def _set_payload(self, request: Request) -> JSONResponse:
        body = models.SetPayload.model_validate(await request.json())
        selected = body.filter if body.filter is not None else body.points or []
        self.engine.set_payload(request.path_params["name"], body.payload, selected, wait=True)
        return _ok(DONE)

    async def _retrieve(self, request: Request) -> JSONResponse:
        body = models.PointRequest.model_validate(await request.json())
        found = self.engine.retrieve(
            request.path_params["name"],
            body.ids,
            with_payload=body.with_payload if body.with_payload is not None else True,
            with_vectors=body.with_vector or False,
        )
        return _ok([r.model_dump(mode="json") for r in found])

    async def _query(self, request: Request) -> JSONResponse:
        body = models.QueryRequest.model_validate(await request.json())
        hits = self.engine.query_points(
            request.path_params["name"],
            query=body.query,  # type: ignore[arg-type]
            using=body.using,
            query_filter=body.filter,
            limit=body.limit or 10,
            with_payload=body.with_payload if body.with_payload is not None else False,
            with_vectors=body.with_vector or False,
        )
        return _ok(hits.model_dump(mode="json"))

    async def _scroll(self, request: Request) -> JSONResponse:
        body = models.ScrollRequest.model_validate(await request.json())
        page, next_offset = self.engine.scroll(
            request.path_params["name"],
            scroll_filter=body.filter,
            limit=body.limit or 10,
            offset=body.offset,
            with_payload=body.with_payload if body.with_payload is not None else True,
            with_vectors=body.with_vector or False,
        )
        points = [r.model_dump(mode="json") for r in page]
        return _ok({"points": points, "next_page_offset": next_offset})

    async def _count(self, request: Request) -> JSONResponse:
        body = models.CountRequest.model_validate(await request.json())
        found = self.engine.count(request.path_params["name"], count_filter=body.filter)
        return _ok(found.model_dump(mode="json"))


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"result": result, "status": "ok", "time": 0.0})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": {"error": message}, "time": 0.0}, status_code=status)


@contextmanager
def serve_qdrant(path: Path, api_key: str | None = None) -> Iterator[tuple[str, QdrantRestDouble]]:
    """Run the double on a free port until the block ends; yields (url, double)."""
    double = QdrantRestDouble(path, api_key)
    try:
        with serve_asgi(double.app) as url:
            yield url, double
    finally:
        double.engine.close()


def main() -> None:
    """`python tests/doubles/qdrant_rest.py PATH PORT [API_KEY]`: serve the double alone
    (benchmarks/gateway_load.py runs it as the gateway's Qdrant server)."""
    import sys

    import uvicorn

    path, port = Path(sys.argv[1]), int(sys.argv[2])
    double = QdrantRestDouble(path, sys.argv[3] if len(sys.argv) > 3 else None)
    uvicorn.run(double.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
