"""Search by structural role: the files whose embeddings are nearest to one file's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gateway.auth import require_reader
from gateway.errors import ApiError
from gateway.schemas import SimilarFiles, errors
from gateway.validation import canonical_repo_url
from services.common import vectors

router = APIRouter(prefix="/api/v1/graph", tags=["graph"], dependencies=[Depends(require_reader)])


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
    try:
        hits = await vectors.similar_files(
            request.app.state.store,
            repo_url=canonical,
            file_path=file_path,
            limit=limit,
            same_repo=same_repo,
        )
    except Exception as exc:
        raise ApiError(503, "vector_store_unavailable", f"Qdrant unavailable: {exc}") from None
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
