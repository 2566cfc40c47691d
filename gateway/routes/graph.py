"""The embeddings: files nearest to one file's (search by structural role), and every
file of a repository with its vector and imports (the picture `alexandria show` draws)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gateway.auth import require_reader
from gateway.errors import ApiError
from gateway.schemas import RepositoryFiles, SimilarFiles, errors
from gateway.validation import canonical_repo_url
from services.common import vectors
from services.common.qdrant_api import QdrantError

MAX_FILES = 20_000

router = APIRouter(prefix="/api/v1/graph", tags=["graph"], dependencies=[Depends(require_reader)])


@contextlib.contextmanager
def _vector_store_errors() -> Iterator[None]:
    """A failure talking to Qdrant becomes a 503."""
    try:
        yield
    except QdrantError as exc:
        raise ApiError(503, "vector_store_unavailable", f"Qdrant unavailable: {exc}") from None


@router.get(
    "/similar",
    response_model=SimilarFiles,
    responses=errors(400, 401, 404, 422, 503),
    summary="Files that play the same structural role as one file",
)
async def similar(
    request: Request,
    repo_url: Annotated[str, Query(max_length=512)],
    file_path: Annotated[str, Query(min_length=1, max_length=1024)],
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    same_repo: bool = True,
) -> dict[str, Any]:
    canonical = canonical_repo_url(repo_url, request.app.state.settings)
    with _vector_store_errors():
        hits = await vectors.similar_files(
            request.app.state.store,
            repo_url=canonical,
            file_path=file_path,
            limit=limit,
            same_repo=same_repo,
        )
    if hits is None:
        raise ApiError(404, "file_not_found", f"{file_path} has no embedding in {canonical}")
    return {
        "repo_url": canonical,
        "file_path": file_path,
        "results": [
            {
                "repo_url": h.repo_url,
                "file_path": h.file_path,
                "language": h.language,
                "score": round(h.score, 6),
            }
            for h in hits
        ],
    }


@router.get(
    "/files",
    response_model=RepositoryFiles,
    responses=errors(400, 401, 404, 422, 503),
    summary="Every embedded file of a repository with its vector and imports",
)
async def files(
    request: Request,
    repo_url: Annotated[str, Query(max_length=512)],
    limit: Annotated[int, Query(ge=1, le=MAX_FILES)] = MAX_FILES,
) -> dict[str, Any]:
    canonical = canonical_repo_url(repo_url, request.app.state.settings)
    with _vector_store_errors():
        stored = await vectors.repository_files(
            request.app.state.store, repo_url=canonical, limit=limit + 1
        )
    if stored is None:
        raise ApiError(404, "repository_not_found", f"{canonical} has no embeddings")
    return {
        "repo_url": canonical,
        "commit": stored.commit,
        "files": [
            {
                "file_path": f.file_path,
                "language": f.language,
                "vector": [round(x, 6) for x in f.vector],
                "imports": list(f.imports),
            }
            for f in stored.files[:limit]
        ],
        "truncated": len(stored.files) > limit,
    }
