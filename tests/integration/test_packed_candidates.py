"""The job's candidates packed in each point (services/common/candidate_payload.py) on
both Qdrant backends: read back as they were written, and hybrid `similar` answers
exactly as it did from the lists that points written before hold."""

from __future__ import annotations

import pytest
from related_helpers import COMMIT, HISTORY, REPO, known_files

from gateway.routes.graph import similar_files
from services.common import vectors
from services.common.qdrant_api import Json, QdrantApi
from services.ingest.candidates import with_candidates


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(qdrant_backend: QdrantApi) -> QdrantApi:
    await vectors.ensure_collection(qdrant_backend)
    return qdrant_backend


def listed(point: Json) -> Json:
    """`point` with its candidates as the lists points written before hold."""
    payload = dict(point["payload"])
    found = vectors.stored_file(point).candidates
    assert found is not None and "candidate_paths" in payload
    del payload["candidate_paths"], payload["candidate_scores"]
    payload["candidates"] = list(found.paths)
    payload["candidate_structure"] = list(found.structure)
    payload["candidate_text"] = list(found.text)
    return {**point, "payload": payload}


async def answers(store: QdrantApi, paths: list[str]) -> dict[str, object]:
    found = {}
    for path in paths:
        result = await similar_files(store, repo_url=REPO, file_path=path, limit=5)
        assert result is not None
        found[path] = result[1]
    return found


@pytest.mark.anyio
async def test_packed_candidates_read_back_as_written(store: QdrantApi) -> None:
    files = with_candidates(REPO, known_files())
    await vectors.upsert_file_vectors(
        store, repo_url=REPO, commit=COMMIT, job_id="j1", files=files, history=HISTORY
    )
    for f in files:
        stored = await vectors.read_file(store, repo_url=REPO, file_path=f.file_path)
        assert stored is not None and stored.candidates is not None and f.candidates is not None
        assert stored.candidates.paths == tuple(f.candidates.paths)
        assert stored.candidates.structure == tuple(f.candidates.structure)
        assert stored.candidates.text == tuple(f.candidates.text)
        assert stored.candidates.imported_by == tuple(f.candidates.imported_by)


@pytest.mark.anyio
async def test_hybrid_answers_are_those_of_the_listed_candidates(store: QdrantApi) -> None:
    files = with_candidates(REPO, known_files())
    bodies = [
        vectors.point_body(f, repo_url=REPO, commit=COMMIT, job_id="j1", history=HISTORY)
        for f in files
    ]
    paths = [f.file_path for f in files]
    await store.upsert(vectors.COLLECTION, bodies)
    packed = await answers(store, paths)
    await store.upsert(vectors.COLLECTION, [listed(b) for b in bodies])
    raw = await store.retrieve(vectors.COLLECTION, [b["id"] for b in bodies], with_vector=False)
    assert all("candidates" in p["payload"] and "candidate_paths" not in p["payload"] for p in raw)
    assert await answers(store, paths) == packed
    assert any(ranked for ranked in packed.values())
