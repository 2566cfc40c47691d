"""The structural-embedding collection in Qdrant: ids, payload, writes and search.

Point id = UUIDv5(UUIDv5(URL, repo_url), file_path), so re-ingesting a repository
overwrites its points; `delete_other_jobs` then removes files that no longer exist.
In LOCAL mode Qdrant runs in-process on a path (one process per path).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from qdrant_client import AsyncQdrantClient, models

from services.common.config import Settings

log = logging.getLogger(__name__)

COLLECTION = "code_structure_embeddings"
DIMENSIONS = 64
BATCH_SIZE = 100
RETRIES = 3


@dataclass(frozen=True)
class FileVector:
    file_path: str
    language: str
    vector: Sequence[float]


@dataclass(frozen=True)
class Neighbour:
    repo_url: str
    file_path: str
    language: str
    score: float


def open_vector_store(settings: Settings) -> AsyncQdrantClient:
    """Qdrant at QDRANT_URL, or local mode under the data dir."""
    if settings.qdrant_url:
        return AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
    return AsyncQdrantClient(path=str(settings.data_dir / "qdrant"))


def point_id(repo_url: str, file_path: str) -> str:
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, repo_url), file_path))


async def ensure_collection(client: AsyncQdrantClient) -> None:
    if await client.collection_exists(COLLECTION):
        return
    await client.create_collection(
        COLLECTION,
        vectors_config=models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE),
    )
    with warnings.catch_warnings():
        # Local mode warns that payload indexes do nothing there; servers need them.
        warnings.filterwarnings("ignore", message="Payload indexes have no effect")
        for field in ("repo_url", "file_path"):
            await client.create_payload_index(COLLECTION, field, models.PayloadSchemaType.KEYWORD)


def _repo_filter(repo_url: str) -> models.FieldCondition:
    return models.FieldCondition(key="repo_url", match=models.MatchValue(value=repo_url))


async def upsert_file_vectors(
    client: AsyncQdrantClient,
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
        batch = [
            models.PointStruct(
                id=point_id(repo_url, f.file_path),
                vector=[float(x) for x in f.vector],
                payload={
                    "repo_url": repo_url,
                    "file_path": f.file_path,
                    "language": f.language,
                    "commit": commit,
                    "job_id": job_id,
                    "embedding_type": "structural",
                    "model": "node2vec",
                },
            )
            for f in files[start : start + BATCH_SIZE]
        ]
        await _with_retries(functools.partial(client.upsert, COLLECTION, points=batch, wait=True))
        written += len(batch)
        if on_batch is not None:
            on_batch(written)
    return written


async def delete_other_jobs(client: AsyncQdrantClient, *, repo_url: str, job_id: str) -> None:
    """Remove the repository's points written by earlier jobs (files since deleted)."""
    selector = models.FilterSelector(
        filter=models.Filter(
            must=[_repo_filter(repo_url)],
            must_not=[models.FieldCondition(key="job_id", match=models.MatchValue(value=job_id))],
        )
    )
    await _with_retries(
        functools.partial(client.delete, COLLECTION, points_selector=selector, wait=True)
    )


async def similar_files(
    client: AsyncQdrantClient, *, repo_url: str, file_path: str, limit: int, same_repo: bool
) -> list[Neighbour] | None:
    """The files nearest to one file, best first; None when that file has no vector."""
    own_id = point_id(repo_url, file_path)
    found = await client.retrieve(COLLECTION, [own_id], with_vectors=True)
    if not found:
        return None
    hits = await client.query_points(
        COLLECTION,
        query=cast(list[float], found[0].vector),
        query_filter=models.Filter(
            must=[_repo_filter(repo_url)] if same_repo else None,
            must_not=[models.HasIdCondition(has_id=[own_id])],
        ),
        limit=limit,
        with_payload=True,
    )
    return [
        Neighbour(
            repo_url=p.payload["repo_url"],
            file_path=p.payload["file_path"],
            language=p.payload.get("language", ""),
            score=float(p.score),
        )
        for p in hits.points
        if p.payload
    ]


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
            await asyncio.sleep(delay)
