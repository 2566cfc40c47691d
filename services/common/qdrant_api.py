"""The few Qdrant operations the project uses, in Qdrant's own REST JSON, on two backends.

`RestQdrant` speaks Qdrant's HTTP API with httpx (a Qdrant server or Qdrant Cloud): the
gateway then never imports qdrant-client, whose models alone take about 48 MB. Local
mode (no `QDRANT_URL`) has no HTTP API, so `LocalQdrant` runs the same operations on
qdrant-client's embedded engine, parsing the same JSON with qdrant-client's own models.
Both return what the REST API returns (`Record` / `ScoredPoint` as JSON objects).

A collection may have named vectors (dense and sparse): a query then names the one it
searches (`using`), its query being a dense list of floats or a sparse
`{"indices", "values"}` object; `with_vector` / `with_payload` take `True`, `False` or
the names of the vectors / payload fields to return.
"""

from __future__ import annotations

import functools
import sqlite3
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar

import httpx

Json = dict[str, Any]
Selector = bool | list[str]
"""`with_vector` / `with_payload`: all, none, or these names."""
TIMEOUT_SECONDS = 10.0
WAL_PAGES = 16384
"""Local mode's log holds up to this many pages (64 MB) before SQLite checkpoints it on
its own, with a sync: more than a job's upserts before its durable last one write
(sympy's 1,602 points: ~4,000 pages)."""
P = ParamSpec("P")
R = TypeVar("R")


class QdrantError(Exception):
    """Qdrant refused a request or could not be reached."""


class QdrantApi(Protocol):
    """What the vector store needs of Qdrant (filters and points are REST JSON)."""

    async def collections(self) -> list[str]: ...

    async def create_collection(self, name: str, config: Json) -> None:
        """`config`: the REST body, e.g. {"vectors": {...}, "sparse_vectors": {...}}."""
        ...

    async def create_keyword_index(self, name: str, field: str) -> None: ...

    async def upsert(self, name: str, points: list[Json], *, durable: bool = True) -> None:
        """Write `points`, applied when it returns. `durable`: on disk by then too;
        else (local mode) on disk once a later durable write returns: many batches,
        one sync. A Qdrant server syncs its own log as it is configured to."""
        ...

    async def delete(self, name: str, filter: Json) -> None: ...

    async def set_payload(self, name: str, payload: Json, filter: Json) -> None:
        """Set these payload fields on every point matching `filter`."""
        ...

    async def retrieve(
        self,
        name: str,
        ids: list[str],
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> list[Json]:
        """The points found among `ids` (missing ids are skipped)."""
        ...

    async def query(
        self,
        name: str,
        query: list[float] | Json,
        filter: Json,
        limit: int,
        *,
        using: str | None = None,
        with_payload: Selector = True,
        with_vector: Selector = False,
    ) -> list[Json]:
        """Nearest points to a dense (list) or sparse ({"indices", "values"}) query, best first."""
        ...

    async def scroll(
        self,
        name: str,
        filter: Json,
        limit: int,
        offset: str | int | None,
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> tuple[list[Json], str | int | None]: ...

    async def count(self, name: str, filter: Json) -> int:
        """How many points match `filter` (exact)."""
        ...

    async def close(self) -> None: ...


class RestQdrant:
    """Qdrant's REST API at `url` (`api-key` header when a key is given)."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport`: httpx's, for a benchmark's simulated network (default: TCP)."""
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"api-key": api_key} if api_key else {},
            timeout=timeout,
            transport=transport,
        )

    async def _call(
        self, method: str, path: str, body: Json | None = None, *, wait: bool = False
    ) -> Any:
        """One request; `wait`: a write to points or an index returns once applied."""
        params = {"wait": "true"} if wait else None
        try:
            reply = await self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise QdrantError(f"Qdrant unreachable: {type(exc).__name__}: {exc}") from None
        if reply.status_code >= 400:
            raise QdrantError(f"Qdrant {method} {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json()["result"]

    async def collections(self) -> list[str]:
        result = await self._call("GET", "/collections")
        return [c["name"] for c in result["collections"]]

    async def create_collection(self, name: str, config: Json) -> None:
        await self._call("PUT", f"/collections/{name}", config)

    async def create_keyword_index(self, name: str, field: str) -> None:
        body = {"field_name": field, "field_schema": "keyword"}
        await self._call("PUT", f"/collections/{name}/index", body, wait=True)

    async def upsert(self, name: str, points: list[Json], *, durable: bool = True) -> None:
        await self._call("PUT", f"/collections/{name}/points", {"points": points}, wait=True)

    async def delete(self, name: str, filter: Json) -> None:
        body = {"filter": filter}
        await self._call("POST", f"/collections/{name}/points/delete", body, wait=True)

    async def set_payload(self, name: str, payload: Json, filter: Json) -> None:
        body = {"payload": payload, "filter": filter}
        await self._call("POST", f"/collections/{name}/points/payload", body, wait=True)

    async def retrieve(
        self,
        name: str,
        ids: list[str],
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> list[Json]:
        body = {"ids": ids, "with_payload": with_payload, "with_vector": with_vector}
        return list(await self._call("POST", f"/collections/{name}/points", body))

    async def query(
        self,
        name: str,
        query: list[float] | Json,
        filter: Json,
        limit: int,
        *,
        using: str | None = None,
        with_payload: Selector = True,
        with_vector: Selector = False,
    ) -> list[Json]:
        body: Json = {
            "query": query,
            "filter": filter,
            "limit": limit,
            "with_payload": with_payload,
            "with_vector": with_vector,
        }
        if using is not None:
            body["using"] = using
        return list((await self._call("POST", f"/collections/{name}/points/query", body))["points"])

    async def scroll(
        self,
        name: str,
        filter: Json,
        limit: int,
        offset: str | int | None,
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> tuple[list[Json], str | int | None]:
        body: Json = {
            "filter": filter,
            "limit": limit,
            "with_payload": with_payload,
            "with_vector": with_vector,
        }
        if offset is not None:
            body["offset"] = offset
        result = await self._call("POST", f"/collections/{name}/points/scroll", body)
        return list(result["points"]), result.get("next_page_offset")

    async def count(self, name: str, filter: Json) -> int:
        body = {"filter": filter, "exact": True}
        return int((await self._call("POST", f"/collections/{name}/points/count", body))["count"])

    async def close(self) -> None:
        await self._http.aclose()


def _as_qdrant_error(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except QdrantError:
            raise
        except Exception as exc:  # the engine raises ValueError, RuntimeError, ...
            raise QdrantError(f"Qdrant (local mode) {method.__name__}: {exc}") from exc

    return wrapped


class LocalQdrant:
    """qdrant-client's embedded engine on `path` (one process per path); its errors are
    raised as QdrantError, like the server's.

    The engine keeps each collection's points in SQLite and commits every point on its
    own: in SQLite's default rollback journal that is two fsyncs a point, most of a job's
    upload (1,600 points: 2.3-3.0 s, of which 0.7-1.5 s is the rest of the work). Its
    connection is switched to write-ahead logging without a sync per commit, and each
    durable write ends with a checkpoint that syncs the log: it is on disk when it
    returns, with every write before it. An upsert that is not `durable` skips that
    sync (a job's batches: one sync for all of them, by the last one), and the log is
    left to grow to `WAL_PAGES` before SQLite checkpoints it by itself."""

    def __init__(self, path: str) -> None:
        from qdrant_client import AsyncQdrantClient, models
        from qdrant_client.http import models as rest

        self._models = models
        self._rest = rest
        self._client = AsyncQdrantClient(path=path)
        self._journals: dict[str, sqlite3.Connection] = {}

    def _storage(self, name: str) -> sqlite3.Connection | None:
        """Collection `name`'s SQLite connection, in write-ahead-log mode (qdrant-client
        1.20's layout: `LocalCollection.storage.storage`; None when there is none)."""
        conn = self._journals.get(name)
        if conn is None:
            collection = getattr(self._client._client, "collections", {}).get(name)
            conn = getattr(getattr(collection, "storage", None), "storage", None)
            if not isinstance(conn, sqlite3.Connection):
                return None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            self._journals[name] = conn
        return conn

    def _sync(self, name: str) -> None:
        """Write what the last commits left in the log into the database, synced."""
        conn = self._journals.get(name)
        if conn is not None:
            conn.execute("PRAGMA wal_checkpoint(FULL)")

    @_as_qdrant_error
    async def collections(self) -> list[str]:
        return [c.name for c in (await self._client.get_collections()).collections]

    @_as_qdrant_error
    async def create_collection(self, name: str, config: Json) -> None:
        body = self._rest.CreateCollection.model_validate(config)
        await self._client.create_collection(
            name, vectors_config=body.vectors, sparse_vectors_config=body.sparse_vectors
        )

    @_as_qdrant_error
    async def create_keyword_index(self, name: str, field: str) -> None:
        with warnings.catch_warnings():  # local mode: "Payload indexes have no effect"
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            await self._client.create_payload_index(
                name, field, self._models.PayloadSchemaType.KEYWORD
            )

    @_as_qdrant_error
    async def upsert(self, name: str, points: list[Json], *, durable: bool = True) -> None:
        structs = [self._models.PointStruct.model_validate(p) for p in points]
        self._storage(name)
        await self._client.upsert(name, points=structs, wait=True)
        if durable:
            self._sync(name)

    @_as_qdrant_error
    async def delete(self, name: str, filter: Json) -> None:
        selector = self._models.FilterSelector(filter=self._models.Filter.model_validate(filter))
        self._storage(name)
        await self._client.delete(name, points_selector=selector, wait=True)
        self._sync(name)

    @_as_qdrant_error
    async def set_payload(self, name: str, payload: Json, filter: Json) -> None:
        self._storage(name)
        await self._client.set_payload(
            name, payload, points=self._models.Filter.model_validate(filter), wait=True
        )
        self._sync(name)

    @_as_qdrant_error
    async def retrieve(
        self,
        name: str,
        ids: list[str],
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> list[Json]:
        found = await self._client.retrieve(
            name, ids, with_payload=with_payload, with_vectors=with_vector
        )
        return [r.model_dump(mode="json") for r in found]

    @_as_qdrant_error
    async def query(
        self,
        name: str,
        query: list[float] | Json,
        filter: Json,
        limit: int,
        *,
        using: str | None = None,
        with_payload: Selector = True,
        with_vector: Selector = False,
    ) -> list[Json]:
        hits = await self._client.query_points(
            name,
            query=self._models.SparseVector.model_validate(query)
            if isinstance(query, dict)
            else query,
            using=using,
            query_filter=self._models.Filter.model_validate(filter),
            limit=limit,
            with_payload=with_payload,
            with_vectors=with_vector,
        )
        return [p.model_dump(mode="json") for p in hits.points]

    @_as_qdrant_error
    async def scroll(
        self,
        name: str,
        filter: Json,
        limit: int,
        offset: str | int | None,
        *,
        with_payload: Selector = True,
        with_vector: Selector = True,
    ) -> tuple[list[Json], str | int | None]:
        page, next_offset = await self._client.scroll(
            name,
            scroll_filter=self._models.Filter.model_validate(filter),
            limit=limit,
            offset=offset,
            with_payload=with_payload,
            with_vectors=with_vector,
        )
        return [r.model_dump(mode="json") for r in page], next_offset  # type: ignore[return-value]

    @_as_qdrant_error
    async def count(self, name: str, filter: Json) -> int:
        found = await self._client.count(
            name, count_filter=self._models.Filter.model_validate(filter), exact=True
        )
        return found.count

    async def close(self) -> None:
        await self._client.close()
