"""`similar` in every mode and `search` on a hand-made repository with known answers, on
both Qdrant backends (local mode and the REST double, which runs the real engine): the
same tests, the same answers; then the routes themselves, with their reasons and their
validation."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from doubles.qdrant_rest import QdrantRestDouble
from fastapi.testclient import TestClient
from related_helpers import (
    ALWAYS_TOGETHER,
    COMMIT,
    HISTORY,
    ONCE_TOGETHER,
    OTHER_REPO,
    QUERY,
    RARE_WORDS,
    REPO,
    elsewhere_files,
    known_files,
    plain_cosine_order,
)

from gateway import ranking
from gateway.app import create_app
from gateway.routes.graph import similar_files
from services.common import vectors
from services.common.config import Settings
from services.common.qdrant_api import LocalQdrant, QdrantApi, RestQdrant
from services.ingest.candidates import with_candidates

KEY = "qdrant-test-key"
TOKEN = "test-admin-token-0123456789"


async def seed(store: QdrantApi, *, stored: bool = True) -> None:
    """Both repositories; `stored`: with the candidates a job stores (else none, as
    points written before they were)."""
    await vectors.ensure_collection(store)
    for repo, files in ((REPO, known_files()), (OTHER_REPO, elsewhere_files())):
        if stored:
            files = with_candidates(repo, files)
        await vectors.upsert_file_vectors(
            store, repo_url=repo, commit=COMMIT, job_id="j1", files=files, history=HISTORY
        )


@pytest.fixture
def qdrant_api_key() -> str:
    return KEY


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(qdrant_backend: QdrantApi) -> QdrantApi:
    await seed(qdrant_backend)
    return qdrant_backend


async def ranked(
    store: QdrantApi, mode: ranking.Mode, limit: int = 10, same_repo: bool = True
) -> list[ranking.Ranked]:
    found = await similar_files(
        store, repo_url=REPO, file_path=QUERY, limit=limit, same_repo=same_repo, mode=mode
    )
    assert found is not None
    query, results = found
    assert query.history == HISTORY and query.terms[0] == "frobnicate"
    return results


def paths(results: list[ranking.Ranked]) -> list[str]:
    return [r.features.file_path for r in results]


@pytest.mark.anyio
async def test_history_ranks_the_always_co_changed_partner_first(store: QdrantApi) -> None:
    results = await ranked(store, "history")
    assert paths(results) == [ALWAYS_TOGETHER, ONCE_TOGETHER]
    first, second = (r.features for r in results)
    assert (first.commits, first.history, first.import_relation) == (8, 4.0, "none")
    assert (second.commits, second.import_relation, second.same_directory) == (1, "imports", True)


@pytest.mark.anyio
async def test_text_ranks_the_file_sharing_rare_identifiers_first(store: QdrantApi) -> None:
    results = await ranked(store, "text")
    assert paths(results)[0] == RARE_WORDS
    assert results[0].features.shared_identifiers == ("frobnicate", "widget", "self")
    assert all(r.score > 0 for r in results)
    assert "docs/conf.py" not in paths(results)  # no identifiers at all


@pytest.mark.anyio
async def test_structure_is_plain_cosine_order(store: QdrantApi) -> None:
    results = await ranked(store, "structure")
    assert paths(results) == plain_cosine_order()
    assert results[0].score == pytest.approx(results[0].features.structure)
    assert paths(await ranked(store, "structure", limit=3)) == plain_cosine_order()[:3]


@pytest.mark.anyio
async def test_hybrid_fuses_every_signal_and_other_repositories_only_when_asked(
    store: QdrantApi,
) -> None:
    results = await ranked(store, "hybrid")
    assert QUERY not in paths(results) and len(set(paths(results))) == len(results) == 7
    assert paths(results)[0] in {ALWAYS_TOGETHER, ONCE_TOGETHER, RARE_WORDS}
    assert {r.features.repo_url for r in results} == {REPO}
    wide = await ranked(store, "structure", same_repo=False)
    assert (wide[0].features.repo_url, wide[0].features.file_path) == (OTHER_REPO, QUERY)
    assert wide[0].features.import_relation == "none" and not wide[0].features.same_directory


@pytest.mark.anyio
async def test_unknown_files_and_repositories(store: QdrantApi) -> None:
    assert await similar_files(store, repo_url=REPO, file_path="nope.py", limit=5) is None
    none = await vectors.identifier_matches(store, repo_url="https://x/y", words=["self"], limit=5)
    assert none is None
    assert await vectors.identifier_matches(store, repo_url=REPO, words=["zzzq"], limit=5) == []


@pytest.mark.anyio
async def test_search_ranks_by_identifier_match(store: QdrantApi) -> None:
    hits = await vectors.identifier_matches(store, repo_url=REPO, words=["frobnicate"], limit=50)
    assert hits is not None
    results = ranking.search_rank(hits, ["frobnicate"], 10)
    assert paths(results) == [RARE_WORDS, QUERY]
    assert results[0].features.shared_identifiers == ("frobnicate",)
    assert results[0].features.structure == pytest.approx(1.0)


@pytest.mark.anyio
async def test_the_files_listing_reads_the_new_collection(store: QdrantApi) -> None:
    stored = await vectors.repository_files(store, repo_url=REPO, limit=100)
    assert stored is not None and stored.commit == COMMIT
    assert [f.file_path for f in stored.files] == sorted(f.file_path for f in known_files())
    by_path = {f.file_path: f for f in stored.files}
    assert by_path[QUERY].imports == [ONCE_TOGETHER] and len(by_path[QUERY].vector) == 64


RETRIEVE, QUERY_ROUTE, SCROLL = (
    f"POST /collections/{{name}}/points{tail}" for tail in ("", "/query", "/scroll")
)


@pytest.mark.parametrize(
    ("stored", "mode", "limit", "same_repo", "reads"),
    [
        # hybrid: the file, whose point holds its measured candidates, then the details
        # of those returned
        (True, "hybrid", 5, True, {RETRIEVE: 2}),
        (True, "hybrid", 50, True, {RETRIEVE: 2}),
        # beyond the stored tops, or across repositories: the candidates with their
        # vectors, and the dense and sparse queries too
        (True, "hybrid", 51, True, {RETRIEVE: 2, QUERY_ROUTE: 2}),
        (True, "hybrid", 5, False, {RETRIEVE: 2, QUERY_ROUTE: 2}),
        # one signal: its exact top from Qdrant
        (True, "structure", 5, True, {RETRIEVE: 1, QUERY_ROUTE: 1}),
        (True, "text", 5, True, {RETRIEVE: 1, QUERY_ROUTE: 1}),
        (True, "history", 5, True, {RETRIEVE: 2}),
        # points without stored candidates: queries and filtered scrolls, as before
        (False, "hybrid", 5, True, {RETRIEVE: 2, QUERY_ROUTE: 2, SCROLL: 2}),
    ],
)
def test_similar_reads_in_two_round_trips(
    qdrant_double: tuple[str, QdrantRestDouble],
    stored: bool,
    mode: ranking.Mode,
    limit: int,
    same_repo: bool,
    reads: dict[str, int],
) -> None:
    url, server = qdrant_double

    async def go() -> None:
        store = RestQdrant(url, KEY)
        await seed(store, stored=stored)
        server.requests.clear()
        found = await similar_files(
            store, repo_url=REPO, file_path=QUERY, limit=limit, same_repo=same_repo, mode=mode
        )
        assert found is not None and (found[0].candidates is not None) == stored
        await store.close()

    asyncio.run(go())
    assert server.requests == reads


def _rounded(results: list[ranking.Ranked]) -> list[tuple[Any, ...]]:
    """Each result as the route shows it: scores and cosines to 6 decimals."""
    return [
        (
            round(r.score, 6),
            dataclasses.replace(
                r.features,
                structure=round(r.features.structure, 6),
                text=round(r.features.text, 6),
            ),
        )
        for r in results
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("same_repo", [True, False])
async def test_stored_candidates_rank_as_the_queries_did(
    store: QdrantApi, tmp_path: Path, same_repo: bool
) -> None:
    """Every mode and limit answers the same from the candidates the job measured as
    from points without them (whose candidates come from Qdrant's queries and scrolls
    and are measured from their vectors)."""
    legacy = LocalQdrant(str(tmp_path / "legacy"))
    try:
        await seed(legacy, stored=False)
        for mode in ranking.MODES:
            for limit in (1, 3, 10, 50, 60):
                new = await ranked(store, mode, limit, same_repo)
                old = await ranked(legacy, mode, limit, same_repo)
                assert _rounded(new) == _rounded(old), (mode, limit)
    finally:
        await legacy.close()


# The routes, on both backends.


def _settings(tmp_path: Path, redis_url: str, qdrant_url: str | None) -> Settings:
    return Settings(
        alexandria_data_dir=tmp_path / ("rest" if qdrant_url else "local"),
        redis_url=redis_url,
        admin_token=TOKEN,
        qdrant_url=qdrant_url,
        qdrant_api_key=KEY if qdrant_url else None,
    )


def _answers(settings: Settings) -> dict[str, Any]:
    async def seeded() -> None:
        store = vectors.open_vector_store(settings)
        try:
            await seed(store)
        finally:
            await store.close()

    asyncio.run(seeded())
    answers: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        for mode in ranking.MODES:
            reply = client.get(
                "/api/v1/graph/similar",
                params={"repo_url": "github.com/known/answers", "file_path": QUERY, "mode": mode},
            )
            assert reply.status_code == 200, reply.text
            answers[mode] = reply.json()
        default = client.get("/api/v1/graph/similar", params={"repo_url": REPO, "file_path": QUERY})
        assert default.json() == answers["hybrid"]
        reply = client.get(
            "/api/v1/graph/search", params={"repo_url": REPO, "q": "Frobnicate_self"}
        )
        assert reply.status_code == 200, reply.text
        answers["search"] = reply.json()
        answers["errors"] = _errors(client)
    return answers


def _errors(client: TestClient) -> list[tuple[int, str, str]]:
    similar = {"repo_url": REPO, "file_path": QUERY}
    search = {"repo_url": REPO, "q": "session"}
    asks = [
        ("/api/v1/graph/similar", {**similar, "mode": "fuzzy"}),
        ("/api/v1/graph/similar", {**similar, "limit": 0}),
        ("/api/v1/graph/similar", {**similar, "limit": 101}),
        ("/api/v1/graph/similar", {**similar, "file_path": "nope.py"}),
        ("/api/v1/graph/search", {**search, "q": ""}),
        ("/api/v1/graph/search", {**search, "q": "x" * 201}),
        ("/api/v1/graph/search", {**search, "q": "1 2 !"}),
        ("/api/v1/graph/search", {**search, "limit": 0}),
        ("/api/v1/graph/search", {"repo_url": REPO}),
        ("/api/v1/graph/search", {**search, "repo_url": "github.com/known/none"}),
        ("/api/v1/graph/search", {**search, "repo_url": "evil.example/a/b"}),
    ]
    return [
        (r.status_code, r.json()["error"], str(r.json()["detail"]))
        for r in (client.get(route, params=params) for route, params in asks)
    ]


def test_the_routes_answer_alike_on_both_backends_with_reasons(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    rest = _answers(_settings(tmp_path, embedded_redis_url, qdrant_double[0]))
    local = _answers(_settings(tmp_path, embedded_redis_url, None))
    assert rest == local
    history = rest["history"]
    assert (history["mode"], history["history"], history["repo_url"]) == ("history", HISTORY, REPO)
    assert [r["file_path"] for r in history["results"]] == [ALWAYS_TOGETHER, ONCE_TOGETHER]
    assert history["results"][0]["reasons"] == {
        "structure": 0.0,
        "text": pytest.approx(0.01, abs=0.002),  # the common weak term only
        "shared_identifiers": ["self"],
        "commits_together": 8,
        "last_changed_together": "2025-11-24T16:00:00Z",
        "import_relation": "none",
        "same_directory": False,
        "history": 4.0,
        "same_name": False,
    }
    models = history["results"][1]["reasons"]
    assert (models["import_relation"], models["same_directory"]) == ("imports", True)
    assert rest["text"]["results"][0]["file_path"] == RARE_WORDS
    assert [r["file_path"] for r in rest["structure"]["results"]] == plain_cosine_order()[:5]
    hybrid = rest["hybrid"]["results"]
    assert QUERY not in {r["file_path"] for r in hybrid} and len(hybrid) == 5
    assert [r["score"] for r in hybrid] == sorted((r["score"] for r in hybrid), reverse=True)
    search = rest["search"]
    assert search["q"] == "Frobnicate_self"
    assert [r["file_path"] for r in search["results"]][:2] == [RARE_WORDS, QUERY]
    assert search["results"][0]["reasons"]["shared_identifiers"] == ["frobnicate", "self"]
    codes = [(status, error) for status, error, _ in rest["errors"]]
    assert codes == [
        (422, "invalid_request"),
        (422, "invalid_request"),
        (422, "invalid_request"),
        (404, "file_not_found"),
        (422, "invalid_request"),
        (422, "invalid_request"),
        (422, "invalid_request"),
        (422, "invalid_request"),
        (422, "invalid_request"),
        (404, "repository_not_found"),
        (400, "invalid_repo_url"),
    ]
    named = [detail.split(":")[0] for status, _, detail in rest["errors"] if status == 422]
    assert named == ["query.mode", "query.limit", "query.limit"] + ["query.q"] * 3 + [
        "query.limit",
        "query.q",
    ]


def test_a_qdrant_outage_is_a_503_for_both_routes(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    url, server = qdrant_double
    settings = _settings(tmp_path, embedded_redis_url, url)
    with TestClient(create_app(settings)) as client:
        server.down = True
        for route, params in (
            ("/api/v1/graph/similar", {"repo_url": REPO, "file_path": QUERY}),
            ("/api/v1/graph/search", {"repo_url": REPO, "q": "session"}),
        ):
            reply = client.get(route, params=params)
            assert reply.status_code == 503 and reply.json()["error"] == "vector_store_unavailable"
