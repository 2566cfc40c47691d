"""The gateway's repositories, metrics, read token, size limits, CORS and partial
outages, through the real app (real Redis, SQLite/Postgres, Qdrant local mode)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from log_capture import captured_json_log

from gateway.app import create_app
from gateway.events import apply_events
from neo_alexandria.v1 import jobs_pb2
from services.common import logs
from services.common.config import Settings

ADMIN = "admin-token-0123456789abcdef"
READER = "read-token-0123456789abcdef"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, database_url: str) -> Settings:
    return Settings(
        alexandria_data_dir=tmp_path / "data",
        redis_url=redis_url,
        database_url=database_url,
        admin_token=ADMIN,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def completed(job_id: str, repo: str, files: int, finished: int) -> jobs_pb2.JobRecord:
    record = jobs_pb2.JobRecord(
        job_id=job_id,
        repo_url=repo,
        status=jobs_pb2.JOB_STATUS_COMPLETE,
        commit=f"c{job_id}",
        files_processed=files,
    )
    record.finished_at.FromSeconds(finished)
    return record


def test_repositories_lists_the_ingested_newest_first(client: TestClient) -> None:
    assert client.get("/api/v1/repositories").json() == {"repositories": []}
    engine = client.app.state.engine  # type: ignore[attr-defined]
    records = [
        completed("j1", "https://github.com/a/old", 3, 1_700_000_000),
        completed("j2", "https://github.com/a/new", 5, 1_800_000_000),
        completed("j3", "https://github.com/a/old", 4, 1_750_000_000),  # re-ingested
    ]
    apply_events(engine, [(f"{i}-0", r) for i, r in enumerate(records, 1)])
    body = client.get("/api/v1/repositories").json()["repositories"]
    assert [(r["repo_url"], r["file_count"], r["last_job_id"]) for r in body] == [
        ("https://github.com/a/new", 5, "j2"),
        ("https://github.com/a/old", 4, "j3"),
    ]
    assert body[0]["last_commit"] == "cj2" and body[0]["updated_at"].startswith("2027-01-15")
    assert len(client.get("/api/v1/repositories", params={"limit": 1}).json()["repositories"]) == 1
    assert client.get("/api/v1/repositories", params={"limit": 0}).status_code == 422


def test_metrics_count_requests_and_show_queue_jobs_and_workers(client: TestClient) -> None:
    client.post("/api/v1/ingestion/ingest/github.com/a/b", headers=bearer(ADMIN))
    client.get("/api/v1/ingestion/jobs/nope")
    queue = client.app.state.queue  # type: ignore[attr-defined]
    worker = jobs_pb2.WorkerStatus(
        worker_id="w", state=jobs_pb2.WORKER_STATE_IDLE, heartbeat_interval_seconds=60
    )
    client.portal.call(queue.heartbeat, worker)  # type: ignore[union-attr]
    parsing = jobs_pb2.WorkerStatus(
        worker_id="p", state=jobs_pb2.WORKER_STATE_PARSING, heartbeat_interval_seconds=60
    )
    client.portal.call(queue.heartbeat, parsing)  # type: ignore[union-attr]
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert (
        'alexandria_gateway_requests_total{method="POST",'
        'route="/api/v1/ingestion/ingest/{repo_url:anypath}",status="202"} 1.0' in text
    )
    assert 'route="/api/v1/ingestion/jobs/{job_id}",status="404"} 1.0' in text
    assert "alexandria_gateway_request_seconds_bucket" in text
    assert "alexandria_queue_pending 1.0" in text
    assert 'alexandria_workers{state="idle"} 1.0' in text
    assert 'alexandria_workers{state="parsing"} 1.0' in text  # by state, not by text
    assert 'alexandria_workers{state="training"} 0.0' in text
    assert 'alexandria_jobs{status="complete"} 0.0' in text


def test_a_read_token_guards_the_read_routes(settings: Settings, caplog: Any) -> None:
    settings = settings.model_copy(update={"read_token": READER})
    reads = [
        "/api/v1/ingestion/jobs/history",
        "/api/v1/ingestion/jobs/abc",
        "/api/v1/ingestion/worker/status",
        "/api/v1/repositories",
        "/api/v1/graph/similar?repo_url=github.com/a/b&file_path=x.py",
        "/api/v1/graph/files?repo_url=github.com/a/b",
        "/metrics",
    ]
    with TestClient(create_app(settings)) as client:
        with caplog.at_level(logging.WARNING, logger="gateway.auth"):
            for path in reads:
                for headers in ({}, bearer("wrong")):
                    reply = client.get(path, headers=headers)
                    assert reply.status_code == 401, path
                    assert reply.json()["error"] == "unauthorized"
                for token in (READER, ADMIN):
                    assert client.get(path, headers=bearer(token)).status_code != 401, path
        assert client.get("/health").status_code == 200  # health stays open
        # The read token is not an admin token.
        ingest = client.post("/api/v1/ingestion/ingest/github.com/a/b", headers=bearer(READER))
        assert ingest.status_code == 401
    assert READER not in caplog.text and ADMIN not in caplog.text and "wrong" not in caplog.text
    # The first failure is logged; the next ones from the same address within 10 s are
    # counted into the next line instead (test_gateway_api.py).
    first = "auth failed from testclient on GET /api/v1/ingestion/jobs/history: missing"
    assert first in caplog.text and caplog.text.count("auth failed") == 1


def test_oversized_paths_and_bodies_are_refused(client: TestClient) -> None:
    long_path = "/api/v1/ingestion/jobs/" + "a" * 17_000
    reply = client.get(long_path)
    assert reply.status_code == 414 and reply.json()["error"] == "uri_too_long"
    body = client.post(
        "/api/v1/ingestion/ingest/github.com/a/b", headers=bearer(ADMIN), content=b"x" * 70_000
    )
    assert body.status_code == 413 and body.json()["error"] == "body_too_large"


def test_a_streamed_body_over_the_limit_is_413() -> None:
    """No route reads a body, so the streamed case is checked on an app that does."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from gateway.middleware import RequestLimits

    async def echo_size(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = RequestLimits(
        Starlette(routes=[Route("/", echo_size, methods=["POST"])]),
        max_path_bytes=1024,
        max_body_bytes=4096,
    )

    def chunks(count: int) -> Iterator[bytes]:
        for _ in range(count):
            yield b"x" * 1024

    with TestClient(app) as plain:
        assert plain.post("/", content=chunks(4)).text == "4096"
        over = plain.post("/", content=chunks(5))
        assert over.status_code == 413 and over.json()["error"] == "body_too_large"


def test_cors_is_off_unless_configured(settings: Settings) -> None:
    origin = {"Origin": "https://app.example"}
    with TestClient(create_app(settings)) as client:
        assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    allowed = settings.model_copy(update={"cors_allow_origins": ("https://app.example",)})
    with TestClient(create_app(allowed)) as client:
        headers = client.get("/health", headers=origin).headers
        assert headers["access-control-allow-origin"] == "https://app.example"


def test_with_qdrant_down_queueing_works_and_search_answers_503(settings: Settings) -> None:
    down = settings.model_copy(update={"qdrant_url": "http://127.0.0.1:9"})
    with TestClient(create_app(down)) as client:
        queued = client.post("/api/v1/ingestion/ingest/github.com/a/b", headers=bearer(ADMIN))
        assert queued.status_code == 202
        search = client.get(
            "/api/v1/graph/similar", params={"repo_url": "github.com/a/b", "file_path": "x.py"}
        )
        assert search.status_code == 503 and search.json()["error"] == "vector_store_unavailable"
        files = client.get("/api/v1/graph/files", params={"repo_url": "github.com/a/b"})
        assert files.status_code == 503 and files.json()["error"] == "vector_store_unavailable"
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["checks"]["qdrant"].startswith("error")


def test_with_the_database_down_repositories_answers_503(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.app.state.engine.dispose()  # type: ignore[attr-defined]
        from sqlalchemy import create_engine

        client.app.state.engine = create_engine(  # type: ignore[attr-defined]
            "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
        )
        reply = client.get("/api/v1/repositories")
        assert reply.status_code == 503 and reply.json()["error"] == "database_unavailable"
        assert (
            client.post(
                "/api/v1/ingestion/ingest/github.com/a/b", headers=bearer(ADMIN)
            ).status_code
            == 202
        )


def test_a_batch_keeps_each_jobs_newest_snapshot_and_a_replay_changes_nothing(
    client: TestClient,
) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from gateway.db import EventOffset, IngestionJob, Repository

    engine = client.app.state.engine  # type: ignore[attr-defined]
    snapshots = [
        jobs_pb2.JobRecord(job_id="j", repo_url="https://github.com/a/b", status=status)
        for status in (
            jobs_pb2.JOB_STATUS_QUEUED,
            jobs_pb2.JOB_STATUS_RUNNING,
        )
    ] + [completed("j", "https://github.com/a/b", 7, 1_800_000_000)]
    batch = [(f"{i}-0", r) for i, r in enumerate(snapshots, 1)]

    def state() -> tuple[list[tuple[str, str, int]], list[tuple[str, int]], str]:
        with Session(engine) as session:
            jobs = [
                (j.job_id, j.status, j.files_processed)
                for j in session.scalars(select(IngestionJob))
            ]
            repos = [(r.repo_url, r.file_count) for r in session.scalars(select(Repository))]
            offsets = [o.last_id for o in session.scalars(select(EventOffset))]
            return jobs, repos, offsets[0]

    assert apply_events(engine, batch) == "3-0"
    first = state()
    assert first == ([("j", "complete", 7)], [("https://github.com/a/b", 7)], "3-0")
    apply_events(engine, batch)
    assert state() == first


def test_each_request_gets_an_id_that_it_returns_logs_and_queues(client: TestClient) -> None:
    """A sane X-Request-ID is kept, any other replaced; the access lines, the ingest line
    (with the job id) and the queued task carry it; a refused request gets one too."""
    with captured_json_log() as captured:
        ingest = client.post(
            "/api/v1/ingestion/ingest/github.com/a/b",
            headers={**bearer(ADMIN), "X-Request-ID": "client-req-1"},
        )
        missing = client.get("/api/v1/ingestion/jobs/nope", headers={"X-Request-ID": "x" * 200})
        refused = client.get("/" + "a" * 20_000)
    assert ingest.headers["X-Request-ID"] == "client-req-1"
    generated = missing.headers["X-Request-ID"]
    assert logs.sane_id(generated) == generated != "x" * 200
    assert refused.status_code == 414 and logs.sane_id(refused.headers["X-Request-ID"])
    entries = captured.entries()
    access = {e["request_id"]: e for e in entries if e["logger"] == "gateway.middleware"}
    assert access["client-req-1"]["status"] == 202 and access["client-req-1"]["method"] == "POST"
    assert access[generated]["route"] == "/api/v1/ingestion/jobs/{job_id}"
    assert access[refused.headers["X-Request-ID"]]["status"] == 414
    (queued,) = [e for e in entries if e["logger"] == "gateway.routes.ingestion"]
    assert (queued["request_id"], queued["job_id"]) == ("client-req-1", ingest.json()["job_id"])
    queue = client.app.state.queue  # type: ignore[attr-defined]
    worker = jobs_pb2.WorkerStatus(
        worker_id="w", state=jobs_pb2.WORKER_STATE_IDLE, heartbeat_interval_seconds=60
    )
    claimed = client.portal.call(queue.poll, worker)  # type: ignore[union-attr]
    assert claimed.task.request_id == "client-req-1"


def test_an_unexpected_error_answers_500_with_the_request_id_logged(settings: Settings) -> None:
    async def broken(limit: int) -> list[jobs_pb2.JobRecord]:
        raise RuntimeError("bug")

    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as client,
        captured_json_log() as captured,
    ):
        client.app.state.queue.history = broken  # type: ignore[attr-defined]
        reply = client.get("/api/v1/ingestion/jobs/history", headers={"X-Request-ID": "r-500"})
    assert reply.status_code == 500 and reply.headers["X-Request-ID"] == "r-500"
    (error,) = [e for e in captured.entries() if e["logger"] == "gateway.errors"]
    assert error["request_id"] == "r-500" and "RuntimeError: bug" in error["exc"]
