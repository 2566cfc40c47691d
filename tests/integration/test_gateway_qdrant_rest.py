"""The gateway and the coordinator's vector writes over Qdrant's REST API (the path a
`QDRANT_URL` deployment takes), against the Qdrant REST test double: search, the files
route, health, a Qdrant outage, and the same answers as local mode."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from doubles.qdrant_rest import QdrantRestDouble
from fastapi.testclient import TestClient
from show_helpers import COMMIT, IMPORTS, REPO, sample_files

from gateway.app import create_app
from services.common import vectors
from services.common.config import Settings

TOKEN = "test-admin-token-0123456789"
KEY = "qdrant-test-key"


def settings_for(tmp_path: Path, redis_url: str, qdrant_url: str | None) -> Settings:
    return Settings(
        alexandria_data_dir=tmp_path / ("rest" if qdrant_url else "local"),
        redis_url=redis_url,
        admin_token=TOKEN,
        qdrant_url=qdrant_url,
        qdrant_api_key=KEY if qdrant_url else None,
    )


async def seed(settings: Settings) -> None:
    store = vectors.open_vector_store(settings)
    try:
        await vectors.ensure_collection(store)
        await vectors.upsert_file_vectors(
            store, repo_url=REPO, commit=COMMIT, job_id="old", files=sample_files(seed=1)
        )
        await vectors.upsert_file_vectors(
            store, repo_url=REPO, commit=COMMIT, job_id="new", files=sample_files()[:-1]
        )
        await vectors.delete_other_jobs(store, repo_url=REPO, job_id="new")
    finally:
        await store.close()


@pytest.fixture
def qdrant_api_key() -> str:
    return KEY


def answers(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    asyncio.run(seed(settings))
    with TestClient(create_app(settings)) as client:
        similar = client.get(
            "/api/v1/graph/similar",
            params={"repo_url": REPO, "file_path": "app/models.py", "limit": 4},
        )
        files = client.get("/api/v1/graph/files", params={"repo_url": REPO})
        assert similar.status_code == files.status_code == 200
        return similar.json(), files.json()


def test_rest_and_local_mode_answer_alike(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    url, server = qdrant_double
    similar, listing = answers(settings_for(tmp_path, embedded_redis_url, url))
    local_similar, local_listing = answers(settings_for(tmp_path, embedded_redis_url, None))
    assert similar == local_similar and len(similar["results"]) == 4
    rest_files, local_files = listing.pop("files"), local_listing.pop("files")
    assert listing == local_listing  # repo_url, commit, truncated
    # The re-ingest removed the file the new job no longer wrote (the last one).
    dropped = list(IMPORTS)[-1]
    assert [f["file_path"] for f in rest_files] == sorted(set(IMPORTS) - {dropped})
    for rest_file, local_file in zip(rest_files, local_files, strict=True):
        # float32 vectors travel as JSON over REST: equal to the 6th decimal, not bit for bit
        assert rest_file.pop("vector") == pytest.approx(local_file.pop("vector"), abs=2e-6)
        assert rest_file == local_file
    assert server.requests["POST /collections/{name}/points/query"] == 1
    assert server.requests["POST /collections/{name}/points/delete"] == 1


def test_a_qdrant_outage_is_a_503_naming_qdrant_and_ingest_still_queues(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    url, server = qdrant_double
    settings = settings_for(tmp_path, embedded_redis_url, url).model_copy(
        update={"health_cache_seconds": 0.0}  # every /health checks again
    )
    asyncio.run(seed(settings))
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        server.down = True
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["detail"] == "failing: qdrant"
        similar = client.get(
            "/api/v1/graph/similar", params={"repo_url": REPO, "file_path": "app/models.py"}
        )
        assert similar.status_code == 503
        assert similar.json()["error"] == "vector_store_unavailable"
        queued = client.post(
            "/api/v1/ingestion/ingest/github.com/a/c",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert queued.status_code == 202


def test_a_wrong_api_key_is_reported_not_hidden(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    url, _ = qdrant_double
    settings = settings_for(tmp_path, embedded_redis_url, url).model_copy(
        update={"qdrant_api_key": "wrong"}
    )
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert "401" in health["checks"]["qdrant"]


def test_health_reuses_its_checks_for_a_few_seconds(
    tmp_path: Path, embedded_redis_url: str, qdrant_double: tuple[str, QdrantRestDouble]
) -> None:
    """/health needs no token, and each check is a Qdrant call (and a Redis command,
    billed on Upstash): 50 calls within ALEXANDRIA_HEALTH_CACHE_SECONDS make one of each."""
    url, server = qdrant_double
    settings = settings_for(tmp_path, embedded_redis_url, url).model_copy(
        update={"health_cache_seconds": 2.0}
    )
    with TestClient(create_app(settings)) as client:
        before = server.requests.get("GET /collections", 0)
        assert all(client.get("/health").status_code == 200 for _ in range(50))
        assert server.requests["GET /collections"] == before + 1
        server.down = True
        assert client.get("/health").status_code == 200  # the answer of 2 s ago
        time.sleep(2.1)
        assert client.get("/health").status_code == 503
