"""`ingest --wait` and `jobs ID --wait` ride out a gateway that is briefly unreachable
or restarting: connection errors and 502-504 are retried with backoff until the job
ends or --timeout; other errors end the wait at once. The gateway here is a test double
(a real uvicorn server) that answers 503, then 502, then the job running, then done."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serving import serve_asgi
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alexandria import output
from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import retrying
from alexandria.gateway_errors import GatewayError
from alexandria.stack import free_port
from services.common.config import Settings

JOB = {
    "job_id": "j1",
    "repo_url": "https://github.com/a/b",
    "status": "complete",
    "phase": "done",
    "progress_percent": 100.0,
    "files_processed": 9,
    "embeddings_generated": 9,
    "final_loss": 0.5,
    "duration_seconds": 1.5,
    "error": "",
    "commit": "c" * 40,
    "history": "",
}


def restarting_gateway() -> Starlette:
    """GET /api/v1/ingestion/jobs/j1: 503 twice, 502 once, running once, then complete."""
    answers = iter(
        [(503, {"error": "queue_unavailable", "detail": "redis: restarting"})] * 2
        + [(502, {"error": "bad_gateway", "detail": "upstream"})]
        + [(200, {"job": {**JOB, "status": "running", "phase": "train"}})]
    )

    async def job(request: Request) -> JSONResponse:
        status, body = next(answers, (200, {"job": JOB}))
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/api/v1/ingestion/jobs/j1", job)])


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "alexandria.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_jobs_wait_rides_out_503s_and_502s(tmp_path: Path) -> None:
    with serve_asgi(restarting_gateway(), lifespan="off") as url:
        done = cli(tmp_path, "jobs", "j1", "--wait", "--gateway", url)
    assert done.returncode == output.OK, done.stderr
    assert done.stdout.startswith("complete: 9 files, 9 embeddings")
    assert done.stderr.count("retrying") == 1  # said once, when the trouble starts


def test_an_unreachable_gateway_is_transient_and_past_the_timeout_is_75(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        GatewayClient(Settings(alexandria_data_dir=tmp_path), url) as client,
        pytest.raises(GatewayError) as refused,
    ):
        client.get("/health")
    assert refused.value.transient
    started = time.monotonic()
    done = cli(tmp_path, "jobs", "j1", "--wait", "--timeout", "2", "--gateway", url)
    assert done.returncode == output.TEMPFAIL
    assert "still fails" in done.stderr and time.monotonic() - started < 30


def test_other_errors_end_the_wait_at_once() -> None:
    calls = []

    def not_found() -> None:
        calls.append(1)
        raise GatewayError("GET /x: 404 job_not_found", status=404)

    with pytest.raises(GatewayError):
        retrying(not_found, deadline=time.monotonic() + 60, what="job j1")
    assert calls == [1]


def test_a_rate_limited_wait_asks_again_after_retry_after(tmp_path: Path) -> None:
    """429 rate_limited is this client going too fast, not a failure: the wait sleeps
    the Retry-After the gateway asked for, then goes on; a full queue (429 queue_full)
    still ends it."""
    asked: list[float] = []

    async def job(request: Request) -> JSONResponse:
        asked.append(time.monotonic())
        if len(asked) == 1:
            body = {"error": "rate_limited", "detail": "over 600 reads a minute"}
            return JSONResponse(body, status_code=429, headers={"Retry-After": "2"})
        return JSONResponse({"job": JOB})

    app = Starlette(routes=[Route("/api/v1/ingestion/jobs/j1", job)])
    with serve_asgi(app, lifespan="off") as url:
        done = cli(tmp_path, "jobs", "j1", "--wait", "--gateway", url)
    assert done.returncode == output.OK, done.stderr
    assert asked[1] - asked[0] >= 2.0  # not the 0.5 s of a restarting gateway
    assert "429 rate_limited" in done.stderr and "retrying" in done.stderr

    def queue_full() -> None:
        raise GatewayError("POST /x: 429 queue_full", status=429, retry_after=30)

    with pytest.raises(GatewayError):
        retrying(queue_full, deadline=time.monotonic() + 60, what="ingest")
