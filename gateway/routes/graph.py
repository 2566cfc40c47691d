"""Related files: those a developer will likely change with one file (`similar`: structure,
identifiers, history, imports and place, fused or one at a time, each result with its
reasons), files matching free text by their identifiers (`search`), and every file of a
repository with its vector and imports (the picture `alexandria show` draws)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gateway import ranking
from gateway.auth import require_reader
from gateway.errors import ApiError
from gateway.rate_limit import limit_reads
from gateway.schemas import RepositoryFiles, SearchResults, SimilarFiles, errors
from gateway.validation import canonical_repo_url
from services.common import vectors
from services.common.qdrant_api import QdrantApi, QdrantError

MAX_FILES = 20_000
SIMILAR_SLOTS = 8
"""`similar` requests reading and ranking at once; the others wait their turn. One that
reads its candidates' vectors (not hybrid over the job's candidates) holds ~130-230 of
them (~0.4-0.7 MB of JSON, a few MB parsed): 50 at once took the gateway past 150 MB
(benchmarks/gateway_load.py), while the work is CPU-bound, so fewer at once costs no
throughput."""

router = APIRouter(
    prefix="/api/v1/graph",
    tags=["graph"],
    dependencies=[Depends(limit_reads), Depends(require_reader)],
)


@contextlib.contextmanager
def _vector_store_errors() -> Iterator[None]:
    """A failure talking to Qdrant becomes a 503."""
    try:
        yield
    except QdrantError as exc:
        raise ApiError(503, "vector_store_unavailable", f"Qdrant unavailable: {exc}") from None


def _timestamp(unix_seconds: int) -> str | None:
    if unix_seconds <= 0:
        return None
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat().replace("+00:00", "Z")


def _result(ranked: ranking.Ranked) -> dict[str, Any]:
    f = ranked.features
    return {
        "repo_url": f.repo_url,
        "file_path": f.file_path,
        "language": f.language,
        "score": round(ranked.score, 6),
        "reasons": {
            "structure": round(f.structure, 6),
            "text": round(f.text, 6),
            "shared_identifiers": list(f.shared_identifiers),
            "commits_together": f.commits,
            "last_changed_together": _timestamp(f.last_changed) if f.commits else None,
            "import_relation": f.import_relation,
            "same_directory": f.same_directory,
            "history": round(f.history, 6),
            "same_name": f.same_name,
        },
    }


@router.get(
    "/similar",
    response_model=SimilarFiles,
    responses=errors(400, 401, 404, 422, 429, 503),
    summary="Files a developer will likely change with one file, and why",
)
async def similar(
    request: Request,
    repo_url: Annotated[str, Query(max_length=512)],
    file_path: Annotated[str, Query(min_length=1, max_length=1024)],
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    same_repo: bool = True,
    mode: Annotated[
        ranking.Mode,
        Query(
            description="hybrid (all signals fused), structure (embedding cosine), "
            "text (shared identifiers) or history (past commits together)"
        ),
    ] = "hybrid",
) -> dict[str, Any]:
    canonical = canonical_repo_url(repo_url, request.app.state.settings, read=True)
    state = request.app.state
    if getattr(state, "similar_slots", None) is None:
        state.similar_slots = asyncio.Semaphore(SIMILAR_SLOTS)
    async with state.similar_slots:
        return await _similar(request, canonical, file_path, limit, same_repo, mode)


async def _similar(
    request: Request,
    canonical: str,
    file_path: str,
    limit: int,
    same_repo: bool,
    mode: ranking.Mode,
) -> dict[str, Any]:
    with _vector_store_errors():
        found = await similar_files(
            request.app.state.store,
            repo_url=canonical,
            file_path=file_path,
            limit=limit,
            same_repo=same_repo,
            mode=mode,
        )
    if found is None:
        raise ApiError(404, "file_not_found", f"{file_path} has no embedding in {canonical}")
    query, ranked = found
    return {
        "repo_url": canonical,
        "file_path": file_path,
        "mode": mode,
        "history": query.history,
        "results": [_result(r) for r in ranked],
    }


async def similar_files(
    store: QdrantApi,
    *,
    repo_url: str,
    file_path: str,
    limit: int,
    same_repo: bool = True,
    mode: ranking.Mode = "hybrid",
) -> tuple[vectors.StoredFile, list[ranking.Ranked]] | None:
    """The queried file's point and its best `limit` related files in `mode`; None when
    it has no point. Two round trips to Qdrant: the point, then either the few returned
    files' details (hybrid over the candidates the job measured) or the candidates with
    their vectors, for the ranking to measure."""
    query = await vectors.read_file(store, repo_url=repo_url, file_path=file_path)
    if query is None:
        return None
    if vectors.ranks_stored(query, mode=mode, limit=limit, same_repo=same_repo):
        ranked = ranking.rank(ranking.stored_features(query), mode, limit)
        details = await vectors.file_details(
            store, repo_url=repo_url, paths=[r.features.file_path for r in ranked]
        )
        return query, ranking.with_details(ranked, query, details)
    candidates = await vectors.candidate_files(
        store, query, limit=limit, same_repo=same_repo, mode=mode
    )
    return query, ranking.rank(ranking.candidate_features(query, candidates), mode, limit)


@router.get(
    "/search",
    response_model=SearchResults,
    responses=errors(400, 401, 404, 422, 429, 503),
    summary="Files whose identifiers match free text, and why",
)
async def search(
    request: Request,
    repo_url: Annotated[str, Query(max_length=512)],
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="words or identifiers in any case style (split like identifiers)",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    canonical = canonical_repo_url(repo_url, request.app.state.settings, read=True)
    words = ranking.query_words(q)
    if not words:
        raise ApiError(
            422, "invalid_request", "query.q: no word of two or more letters to search for"
        )
    with _vector_store_errors():
        hits = await vectors.identifier_matches(
            request.app.state.store,
            repo_url=canonical,
            words=words,
            limit=max(limit, vectors.IDENTIFIER_TOP),
        )
    if hits is None:
        raise ApiError(404, "repository_not_found", f"{canonical} has no embeddings")
    return {
        "repo_url": canonical,
        "q": q,
        "results": [_result(r) for r in ranking.search_rank(hits, words, limit)],
    }


@router.get(
    "/files",
    response_model=RepositoryFiles,
    responses=errors(400, 401, 404, 422, 429, 503),
    summary="Every embedded file of a repository with its vector and imports",
)
async def files(
    request: Request,
    repo_url: Annotated[str, Query(max_length=512)],
    limit: Annotated[int, Query(ge=1, le=MAX_FILES)] = MAX_FILES,
) -> dict[str, Any]:
    canonical = canonical_repo_url(repo_url, request.app.state.settings, read=True)
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
