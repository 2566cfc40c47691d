"""The gateway through its real app: real Redis, real metadata DB (SQLite and CI Postgres),
Qdrant local mode. Covers P1, P4, P15, P16, P17 and the events → metadata path."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import create_app
from gateway.auth import WARNING_INTERVAL_SECONDS, WarningLimiter
from gateway.db import IngestionJob
from neo_alexandria.v1 import jobs_pb2
from services.common import keys, vectors
from services.common.config import Settings
from services.common.jobs import to_json

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "https://github.com/a/b"


@pytest.fixture
def settings(tmp_path: Path, queue_config: dict[str, str], database_url: str) -> Settings:
    return Settings(
        alexandria_data_dir=tmp_path / "data",
        **queue_config,
        database_url=database_url,
        admin_token=TOKEN,
        max_queue_size=3,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def ingest(client: TestClient, repo: str, headers: dict[str, str] | None = AUTH):
    return client.post(f"/api/v1/ingestion/ingest/{repo}", headers=headers or {})


def test_ingest_queues_a_job_and_reports_its_position(client: TestClient) -> None:
    reply = ingest(client, "github.com/psf/requests")
    assert reply.status_code == 202
    body = reply.json()
    assert body["status"] == "queued" and body["repo_url"] == "https://github.com/psf/requests"
    assert (body["queue_position"], body["queue_size"], body["max_queue_size"]) == (1, 1, 3)
    job = client.get(f"/api/v1/ingestion/jobs/{body['job_id']}").json()["job"]
    assert job["status"] == "queued" and job["repo_url"] == body["repo_url"]


def test_full_url_with_scheme_in_the_path_is_accepted(client: TestClient) -> None:
    url = quote("https://github.com/psf/requests.git", safe="")
    assert ingest(client, url).json()["repo_url"] == "https://github.com/psf/requests"


@pytest.mark.parametrize(
    "headers", [None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_ingest_without_the_token_is_401_and_logged_without_it(
    client: TestClient, headers: dict[str, str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.auth"):
        reply = ingest(client, "github.com/a/b", headers=headers)
    assert reply.status_code == 401
    assert set(reply.json()) == {"error", "detail"}
    assert "auth failed from" in caplog.text
    assert TOKEN not in caplog.text and "wrong" not in caplog.text


def test_a_flood_of_bad_tokens_logs_one_line_per_address_and_interval(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.auth"):
        for _ in range(100):
            assert (
                ingest(client, "github.com/a/b", {"Authorization": "Bearer x"}).status_code == 401
            )
    assert caplog.text.count("auth failed from") == 1


def test_the_next_line_counts_the_failures_left_out() -> None:
    now = [0.0]
    limiter = WarningLimiter(clock=lambda: now[0])
    assert limiter.admit("10.0.0.1") == 0
    assert [limiter.admit("10.0.0.1") for _ in range(99)] == [None] * 99
    assert limiter.admit("10.0.0.2") == 0  # another address has its own line
    now[0] = WARNING_INTERVAL_SECONDS
    assert limiter.admit("10.0.0.1") == 99


@pytest.mark.parametrize(
    "repo", ["http%3A%2F%2Fgithub.com%2Fa%2Fb", "evil.example/a/b", "github.com/a"]
)
def test_bad_urls_are_400_and_nothing_is_queued(client: TestClient, repo: str) -> None:
    reply = ingest(client, repo)
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_repo_url"
    assert client.get("/api/v1/ingestion/jobs/history").json()["jobs"] == []


def test_a_full_queue_answers_429_with_retry_after(client: TestClient) -> None:
    for i in range(3):
        assert ingest(client, f"github.com/a/r{i}").status_code == 202
    reply = ingest(client, "github.com/a/r3")
    assert reply.status_code == 429 and reply.headers["Retry-After"]


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/ingestion/jobs/doesnotexist").status_code == 404


def test_worker_status_returns_what_redis_holds(client: TestClient) -> None:
    assert client.get("/api/v1/ingestion/worker/status").json() == {
        "status": "Offline",
        "state": "offline",
        "workers": [],
    }
    queue = client.app.state.queue  # type: ignore[attr-defined]
    status = jobs_pb2.WorkerStatus(
        worker_id="w1",
        state=jobs_pb2.WORKER_STATE_TRAINING,
        repo_url="https://github.com/a/b",
        job_id="j1",
        heartbeat_interval_seconds=15,
    )
    client.portal.call(queue.heartbeat, status)  # type: ignore[union-attr]
    body = client.get("/api/v1/ingestion/worker/status").json()
    assert (body["state"], body["status"]) == (
        "training",
        "Training Graph on https://github.com/a/b",
    )
    (worker,) = body["workers"]
    assert {k: worker[k] for k in ("worker_id", "state", "repo_url", "message", "job_id")} == {
        "worker_id": "w1",
        "state": "training",
        "repo_url": "https://github.com/a/b",
        "message": "",
        "job_id": "j1",
    }
    assert worker["status"] == "Training Graph on https://github.com/a/b"


def test_the_busiest_worker_gives_the_overall_state(client: TestClient) -> None:
    """Busy before error before idle, whatever the order of the workers; an error's
    message is its own field, and the text is built from it."""
    queue = client.app.state.queue  # type: ignore[attr-defined]
    workers = [
        jobs_pb2.WorkerStatus(worker_id="a-idle", state=jobs_pb2.WORKER_STATE_IDLE),
        jobs_pb2.WorkerStatus(
            worker_id="b-error",
            state=jobs_pb2.WORKER_STATE_ERROR,
            repo_url="https://github.com/a/b",
            message="NOT_FOUND: no such repository",
        ),
    ]
    for worker in workers:
        worker.heartbeat_interval_seconds = 60
        client.portal.call(queue.heartbeat, worker)  # type: ignore[union-attr]
    body = client.get("/api/v1/ingestion/worker/status").json()
    assert (body["state"], body["status"]) == ("error", "Error: NOT_FOUND: no such repository")
    assert body["workers"][1]["message"] == "NOT_FOUND: no such repository"
    uploading = jobs_pb2.WorkerStatus(
        worker_id="c-uploading",
        state=jobs_pb2.WORKER_STATE_UPLOADING,
        repo_url="https://github.com/c/d",
        heartbeat_interval_seconds=60,
    )
    client.portal.call(queue.heartbeat, uploading)  # type: ignore[union-attr]
    body = client.get("/api/v1/ingestion/worker/status").json()
    assert (body["state"], body["status"]) == ("uploading", "Uploading https://github.com/c/d")
    assert [w["state"] for w in body["workers"]] == ["idle", "error", "uploading"]


def test_a_worker_silent_for_twice_its_heartbeat_interval_is_offline(client: TestClient) -> None:
    queue = client.app.state.queue  # type: ignore[attr-defined]
    status = jobs_pb2.WorkerStatus(
        worker_id="w1",
        state=jobs_pb2.WORKER_STATE_TRAINING,
        repo_url="https://github.com/a/b",
        heartbeat_interval_seconds=60,
    )
    status.heartbeat_at.FromSeconds(int(time.time()) - 131)  # 2 x 60 s + 10 s grace, passed
    hset = queue.transport.call
    client.portal.call(hset, "HSET", keys.WORKERS, "w1", to_json(status))  # type: ignore[union-attr]
    body = client.get("/api/v1/ingestion/worker/status").json()
    assert (body["state"], body["status"]) == ("offline", "Offline")
    (worker,) = body["workers"]
    assert (worker["state"], worker["status"], worker["repo_url"]) == ("offline", "Offline", "")


def test_a_worker_older_than_the_state_shows_its_own_text(client: TestClient) -> None:
    """A coordinator from before `state` wrote only text: it is shown as it is, never
    parsed (state `unspecified`)."""
    queue = client.app.state.queue  # type: ignore[attr-defined]
    old = jobs_pb2.WorkerStatus(
        worker_id="w-old", status="Training Graph on x", heartbeat_interval_seconds=60
    )
    old.heartbeat_at.FromSeconds(int(time.time()))
    hset = queue.transport.call
    client.portal.call(hset, "HSET", keys.WORKERS, "w-old", to_json(old))  # type: ignore[union-attr]
    body = client.get("/api/v1/ingestion/worker/status").json()
    assert (body["state"], body["status"]) == ("unspecified", "Training Graph on x")
    assert body["workers"][0]["state"] == "unspecified"


def test_a_retried_ingest_with_the_same_idempotency_key_queues_once(client: TestClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "retry-me-1"}
    first = ingest(client, "github.com/psf/requests", headers)
    again = ingest(client, "https://github.com/psf/requests.git", headers)
    other = ingest(client, "github.com/psf/requests", {**AUTH, "Idempotency-Key": "another"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"] != other.json()["job_id"]
    assert (again.json()["queue_size"], other.json()["queue_size"]) == (1, 2)  # retry: no-op
    bad = ingest(client, "github.com/psf/requests", {**AUTH, "Idempotency-Key": "x" * 256})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_idempotency_key"


def test_force_travels_with_the_task_and_a_bad_value_is_422(client: TestClient) -> None:
    url = "/api/v1/ingestion/ingest/github.com/psf/requests"
    assert client.post(url, params={"force": "true"}, headers=AUTH).status_code == 202
    bad = client.post(url, params={"force": "maybe"}, headers=AUTH)
    assert bad.status_code == 422 and "force" in bad.text
    queue = client.app.state.queue  # type: ignore[attr-defined]
    worker = jobs_pb2.WorkerStatus(worker_id="w1", state=jobs_pb2.WORKER_STATE_IDLE)
    claimed = client.portal.call(queue.poll, worker)  # type: ignore[union-attr]
    assert claimed is not None and claimed.task.force
    assert ingest(client, "github.com/psf/other").status_code == 202
    plain = client.portal.call(queue.poll, worker)  # type: ignore[union-attr]
    assert plain is not None and not plain.task.force


def test_similar_for_an_unknown_file_is_404(client: TestClient) -> None:
    reply = client.get(
        "/api/v1/graph/similar", params={"repo_url": "github.com/a/b", "file_path": "x.py"}
    )
    assert reply.status_code == 404 and reply.json()["error"] == "file_not_found"


def test_graph_files_lists_a_repositorys_vectors_and_imports(client: TestClient) -> None:
    axis = [[1.0 if d == i else 0.0 for d in range(64)] for i in range(3)]
    files = [
        vectors.FileVector("app/views.py", "python", axis[0], imports=["app/models.py"]),
        vectors.FileVector("app/models.py", "python", axis[1]),
        vectors.FileVector("web/index.ts", "typescript", axis[2], imports=["app/views.py"]),
    ]
    store = client.app.state.store  # type: ignore[attr-defined]
    upsert = functools.partial(
        vectors.upsert_file_vectors, store, repo_url=REPO, commit="c1", job_id="j1", files=files
    )
    client.portal.call(upsert)  # type: ignore[union-attr]
    reply = client.get("/api/v1/graph/files", params={"repo_url": "github.com/a/b.git"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["repo_url"], body["commit"], body["truncated"]) == (REPO, "c1", False)
    assert [(f["file_path"], f["language"], f["imports"]) for f in body["files"]] == [
        ("app/models.py", "python", []),
        ("app/views.py", "python", ["app/models.py"]),
        ("web/index.ts", "typescript", ["app/views.py"]),
    ]
    assert body["files"][0]["vector"] == axis[1]
    first = client.get("/api/v1/graph/files", params={"repo_url": REPO, "limit": 2}).json()
    assert len(first["files"]) == 2 and first["truncated"] is True


def test_graph_files_of_a_repository_without_vectors_is_404(client: TestClient) -> None:
    reply = client.get("/api/v1/graph/files", params={"repo_url": "github.com/a/none"})
    assert reply.status_code == 404
    assert reply.json() == {
        "error": "repository_not_found",
        "detail": "https://github.com/a/none has no embeddings",
    }
    bad = client.get("/api/v1/graph/files", params={"repo_url": "evil.example/a/b"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_repo_url"


def test_health_checks_every_dependency(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["checks"] == {"redis": "ok", "database": "ok", "qdrant": "ok"}


def test_job_events_reach_the_metadata_db(client: TestClient) -> None:
    job_id = ingest(client, "github.com/a/b").json()["job_id"]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Session(engine) as session:
            row = session.scalars(select(IngestionJob).where(IngestionJob.job_id == job_id)).first()
        if row is not None:
            assert (row.status, row.repo_url) == ("queued", "https://github.com/a/b")
            return
        time.sleep(0.1)
    pytest.fail("the queued event never reached the metadata DB")


def test_queue_down_answers_503_never_200(tmp_path: Path) -> None:
    from alexandria.stack import free_port

    settings = Settings(
        alexandria_data_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        admin_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        reply = ingest(client, "github.com/a/b")
        assert reply.status_code == 503 and reply.json()["error"] == "queue_unavailable"
        assert client.get("/api/v1/ingestion/worker/status").status_code == 503
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["redis"].startswith("error")
        assert health.json()["checks"]["database"] == "ok"


def test_local_reads_never_look_at_the_filesystem(client: TestClient, tmp_path: Path) -> None:
    """A read names a stored repository; it must not tell which paths exist on the
    gateway's machine or which of them are repositories (no "is not a git repository")."""
    plain = tmp_path / "plain-directory"
    plain.mkdir()
    answers = []
    for path in ("/root/.ssh", str(plain), "/no/such/path", f"file://{plain}/../plain-directory"):
        for route, extra in (
            ("/api/v1/graph/files", {}),
            ("/api/v1/graph/similar", {"file_path": "a.py"}),
            ("/api/v1/graph/search", {"q": "retry"}),
        ):
            reply = client.get(route, params={"repo_url": path, **extra})
            assert reply.status_code == 404, (route, path, reply.text)
            assert "git repository" not in reply.text
            answers.append((route, reply.json()["error"]))
    assert len(set(answers)) == 3  # one answer per route, whatever the path


def test_a_running_job_whose_worker_went_offline_is_stalled(client: TestClient) -> None:
    """The record still says running; the worker's heartbeat says otherwise. A worker
    offline for over ALEXANDRIA_WORKER_FORGET_SECONDS leaves `status` and the worker set."""
    queue = client.app.state.queue  # type: ignore[attr-defined]
    job_id = ingest(client, "github.com/a/b").json()["job_id"]
    record = jobs_pb2.JobRecord(
        job_id=job_id,
        repo_url=REPO,
        status=jobs_pb2.JOB_STATUS_RUNNING,
        phase="train",
        progress_percent=66.0,
        worker_id="w-dead",
    )
    now = time.time()
    dead = jobs_pb2.WorkerStatus(
        worker_id="w-dead", state=jobs_pb2.WORKER_STATE_TRAINING, repo_url="x"
    )
    dead.heartbeat_interval_seconds = 15
    dead.heartbeat_at.FromSeconds(int(now) - 60)
    ancient = jobs_pb2.WorkerStatus(worker_id="w-ancient", state=jobs_pb2.WORKER_STATE_OFFLINE)
    ancient.heartbeat_at.FromSeconds(int(now) - 3 * 86400)
    call = functools.partial(client.portal.call, queue.transport.call)  # type: ignore[union-attr]
    call("SET", keys.job(job_id), to_json(record))
    call("HSET", keys.WORKERS, "w-dead", to_json(dead), "w-ancient", to_json(ancient))

    job = client.get(f"/api/v1/ingestion/jobs/{job_id}").json()["job"]
    assert job["status"] == "running"
    assert job["stalled"].startswith("worker w-dead offline since ")
    assert "will be retried by " in job["stalled"]
    listed = client.get("/api/v1/ingestion/jobs/history").json()["jobs"]
    assert [j["stalled"] for j in listed] == [job["stalled"]]
    workers = client.get("/api/v1/ingestion/worker/status").json()["workers"]
    assert [w["worker_id"] for w in workers] == ["w-dead"]
    assert call("HKEYS", keys.WORKERS) == ["w-dead"]  # forgotten for good
