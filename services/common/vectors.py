"""The structural-embedding collection in Qdrant: ids, payload, writes and search.

Point id = UUIDv5(UUIDv5(URL, repo_url), file_path), so re-ingesting a repository
overwrites its points; `delete_other_jobs` then removes files that no longer exist.
Qdrant is reached over its REST API at `QDRANT_URL`, or runs in-process on a path in
LOCAL mode (one process per path); `services/common/qdrant_api.py` has both backends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import prometheus_client

from services.common.config import Settings
from services.common.qdrant_api import Json, LocalQdrant, QdrantApi, RestQdrant

log = logging.getLogger(__name__)

COLLECTION = "code_structure_embeddings"
DIMENSIONS = 64
BATCH_SIZE = 100
SCROLL_PAGE = 1000
RETRIES = 3
UPLOAD_RETRIES = prometheus_client.Counter(
    "alexandria_upload_retries", "Qdrant writes retried after a failure"
)


@dataclass(frozen=True)
class FileVector:
    file_path: str
    language: str
    vector: Sequence[float]
    imports: Sequence[str] = ()  # repository paths of the files this one imports


@dataclass(frozen=True)
class StoredRepository:
    commit: str  # the commit most files carry (they differ only while a re-ingest writes)
    files: list[FileVector]  # sorted by path


@dataclass(frozen=True)
class Neighbour:
    repo_url: str
    file_path: str
    language: str
    score: float


def open_vector_store(settings: Settings) -> QdrantApi:
    """Qdrant's REST API at QDRANT_URL, or local mode under the data dir."""
    if settings.qdrant_url:
        return RestQdrant(settings.qdrant_url, settings.qdrant_api_key)
    return LocalQdrant(str(settings.data_dir / "qdrant"))


def point_id(repo_url: str, file_path: str) -> str:
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, repo_url), file_path))


async def ensure_collection(client: QdrantApi) -> None:
    """Create the collection (64-d, cosine) and its keyword indexes unless it exists."""
    if COLLECTION in await client.collections():
        return
    await client.create_collection(COLLECTION, size=DIMENSIONS, distance="Cosine")
    for field in ("repo_url", "file_path"):
        await client.create_keyword_index(COLLECTION, field)


def _match(key: str, value: str) -> Json:
    return {"key": key, "match": {"value": value}}


async def upsert_file_vectors(
    client: QdrantApi,
    *,
    repo_url: str,
    commit: str,
    job_id: str,
    files: Sequence[FileVector],
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write every file's vector in batches of 100, each retried 3 times with backoff."""
    written = 0
    for start in range(0, len(files), BATCH_SIZE):
        batch: list[Json] = [
            {
                "id": point_id(repo_url, f.file_path),
                "vector": [float(x) for x in f.vector],
                "payload": {
                    "repo_url": repo_url,
                    "file_path": f.file_path,
                    "language": f.language,
                    "imports": list(f.imports),
                    "commit": commit,
                    "job_id": job_id,
                    "embedding_type": "structural",
                    "model": "node2vec",
                },
            }
            for f in files[start : start + BATCH_SIZE]
        ]
        await _with_retries(functools.partial(client.upsert, COLLECTION, batch))
        written += len(batch)
        if on_batch is not None:
            on_batch(written)
    return written


async def delete_other_jobs(client: QdrantApi, *, repo_url: str, job_id: str) -> None:
    """Remove the repository's points written by earlier jobs (files since deleted)."""
    older = {"must": [_match("repo_url", repo_url)], "must_not": [_match("job_id", job_id)]}
    await _with_retries(functools.partial(client.delete, COLLECTION, older))


async def similar_files(
    client: QdrantApi, *, repo_url: str, file_path: str, limit: int, same_repo: bool
) -> list[Neighbour] | None:
    """The files nearest to one file, best first; None when that file has no vector."""
    own_id = point_id(repo_url, file_path)
    found = await client.retrieve(COLLECTION, [own_id])
    if not found:
        return None
    others: Json = {"must_not": [{"has_id": [own_id]}]}
    if same_repo:
        others["must"] = [_match("repo_url", repo_url)]
    hits = await client.query(COLLECTION, found[0]["vector"], others, limit)
    return [
        Neighbour(
            repo_url=p["payload"]["repo_url"],
            file_path=p["payload"]["file_path"],
            language=p["payload"].get("language", ""),
            score=float(p["score"]),
        )
        for p in hits
        if p.get("payload")
    ]


async def repository_files(
    client: QdrantApi, *, repo_url: str, limit: int
) -> StoredRepository | None:
    """Up to `limit` of the repository's files with vectors and imports; None when it has none."""
    found: list[tuple[dict[str, Any], list[float]]] = []
    offset: str | int | None = None
    repo = {"must": [_match("repo_url", repo_url)]}
    while len(found) < limit:
        page, offset = await client.scroll(
            COLLECTION, repo, min(SCROLL_PAGE, limit - len(found)), offset
        )
        found.extend((p["payload"], p["vector"]) for p in page if p.get("payload"))
        if offset is None:
            break
    if not found:
        return None
    files = [
        FileVector(
            file_path=payload["file_path"],
            language=payload.get("language", ""),
            vector=vector,
            imports=payload.get("imports", []),
        )
        for payload, vector in found
    ]
    files.sort(key=lambda f: f.file_path)
    commits = Counter(str(payload.get("commit", "")) for payload, _ in found)
    return StoredRepository(commit=commits.most_common(1)[0][0], files=files)


async def _with_retries(
    call: Callable[[], Awaitable[object]], *, retries: int = RETRIES, base_delay: float = 0.5
) -> None:
    for attempt in range(1, retries + 1):
        try:
            await call()
            return
        except Exception as exc:
            if attempt == retries:
                raise
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("qdrant write failed (%s), retry %d in %.1fs", exc, attempt, delay)
            UPLOAD_RETRIES.inc()
            await asyncio.sleep(delay)
