"""End to end through separate processes on embedded defaults: REST → queue →
coordinator → parser → embedder → Qdrant → REST search. No in-process shortcuts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis
from git_repos import git
from prometheus_client.parser import text_string_to_metric_families

from alexandria.stack import LocalStack, free_port
from services.common import keys
from services.common.config import Settings, env_name

pytestmark = pytest.mark.slow


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/ingestion/jobs/{job_id}").json()["job"]
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish; last state: {job}")


def scrape(port: int) -> dict[tuple[str, ...], float]:
    """A process's Prometheus samples, by (name, *label values)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, *sample.labels.values()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def json_log(path: Path) -> list[dict]:
    """A process's log: every line must be one JSON object."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ingest_then_search_through_the_running_stack(
    tmp_path: Path, sample_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(alexandria_data_dir=tmp_path / "data", train_epochs=10)
    metrics = {name: free_port() for name in ("parser", "embedder", "coordinator")}
    for name, port in metrics.items():  # the stack's processes inherit the environment
        monkeypatch.setenv(env_name(f"{name}_metrics_port"), str(port))
    monkeypatch.delenv("ALEXANDRIA_LOG_FORMAT", raising=False)  # auto: JSON lines from `serve`
    stack = LocalStack(settings, gateway_port=free_port())  # parser, embedder: unix sockets
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        auth = {"Authorization": f"Bearer {settings.ingest_token()}"}
        reply = client.post(
            f"/api/v1/ingestion/ingest/{quote(str(sample_repo), safe='')}", headers=auth
        )
        assert reply.status_code == 202, reply.text
        queued = reply.json()
        job = wait_for_job(client, queued["job_id"])
        assert job["status"] == "complete", job
        assert job["files_processed"] == 9 and job["embeddings_generated"] == 9
        assert job["duration_seconds"] > 0 and job["commit"]
        # The events stream saw the job move queued → running (parse, train, upload) → complete.
        events = redis.Redis(unix_socket_path=str(settings.local_socket("redis")))
        records = [
            json.loads(fields[b"job"])
            for _, fields in events.xrange(keys.EVENTS)
            if json.loads(fields[b"job"])["job_id"] == queued["job_id"]
        ]
        events.close()
        statuses = [r["status"] for r in records]
        assert statuses[0] == "JOB_STATUS_QUEUED" and statuses[-1] == "JOB_STATUS_COMPLETE"
        assert "JOB_STATUS_RUNNING" in statuses

        # Each process logs JSON lines; the request id the gateway returned and the job id
        # tag the gateway's and in-process coordinator's lines, and reach the parser's and
        # the embedder's over gRPC metadata.
        request_id = reply.headers["X-Request-ID"]
        for name in ("gateway", "parser", "embedder"):
            tagged = [
                e
                for e in json_log(stack.log_dir / f"{name}.log")
                if e.get("job_id") == queued["job_id"]
            ]
            assert tagged and all(e["request_id"] == request_id for e in tagged), name
        # Each edge process serves its metrics (the coordinator's from the gateway process).
        deadline = time.monotonic() + 10  # the count follows the job's record by a moment
        while not scrape(metrics["coordinator"]).get(
            ("alexandria_coordinator_jobs_total", "complete")
        ):
            assert time.monotonic() < deadline, "the coordinator never counted the job"
            time.sleep(0.1)
        coordinator = scrape(metrics["coordinator"])
        for phase in ("parse", "train", "upload"):
            assert coordinator[("alexandria_job_phase_seconds_count", phase)] == 1
        assert coordinator[("alexandria_upload_retries_total",)] == 0
        assert ("alexandria_queue_depth",) in coordinator
        parser = scrape(metrics["parser"])
        assert parser[("alexandria_parser_files_total",)] == 9
        assert parser[("alexandria_parser_parse_seconds_count",)] == 1
        embedder = scrape(metrics["embedder"])
        assert embedder[("alexandria_embedder_epochs_total",)] == 10
        assert embedder[("alexandria_embedder_loss",)] > 0

        similar = client.get(
            "/api/v1/graph/similar",
            params={"repo_url": queued["repo_url"], "file_path": "app/models.py", "limit": 5},
        ).json()
        assert len(similar["results"]) == 5
        assert all(r["repo_url"] == queued["repo_url"] for r in similar["results"])
        assert "app/models.py" not in {r["file_path"] for r in similar["results"]}
        scores = [r["score"] for r in similar["results"]]
        assert scores == sorted(scores, reverse=True)

        # Each file's point carries the files it imports: the edges `alexandria show` draws.
        files = client.get("/api/v1/graph/files", params={"repo_url": queued["repo_url"]}).json()
        assert (files["commit"], len(files["files"])) == (job["commit"], 9)
        imports = {f["file_path"]: f["imports"] for f in files["files"]}
        assert imports["app/models.py"] == ["app/db.py"] and imports["app/db.py"] == []
        assert all(len(f["vector"]) == 64 for f in files["files"])

        status = client.get("/api/v1/ingestion/worker/status").json()
        assert (status["state"], status["status"]) == ("idle", "Idle")

        # Re-ingesting the same commit ends `unchanged`: nothing parsed, trained or written.
        ingest_url = f"/api/v1/ingestion/ingest/{quote(str(sample_repo), safe='')}"
        again = client.post(ingest_url, headers=auth).json()
        unchanged = wait_for_job(client, again["job_id"])
        assert (unchanged["status"], unchanged["phase"], unchanged["unchanged"]) == (
            "complete",
            "unchanged",
            True,
        )
        assert (unchanged["commit"], unchanged["files_processed"]) == (job["commit"], 9)
        assert unchanged["embeddings_generated"] == 0
        assert scrape(metrics["parser"])[("alexandria_parser_files_total",)] == 9
        # Forced, it is redone, and overwrites the points instead of duplicating them.
        forced = client.post(ingest_url, params={"force": "true"}, headers=auth).json()
        redone = wait_for_job(client, forced["job_id"])
        assert (redone["status"], redone["unchanged"], redone["embeddings_generated"]) == (
            "complete",
            False,
            9,
        )
        assert not job["warm_start"] and not redone["warm_start"]  # first, forced: cold
        assert scrape(metrics["parser"])[("alexandria_parser_files_total",)] == 18
        similar = client.get(
            "/api/v1/graph/similar",
            params={"repo_url": queued["repo_url"], "file_path": "app/models.py", "limit": 50},
        ).json()
        assert len(similar["results"]) == 8

        # A new commit that kept 9 of its 10 files trains warm from the sealed vectors.
        (sample_repo / "app/extra.py").write_text("from app import db\n")
        git(sample_repo, "add", "-A")
        git(sample_repo, "commit", "-q", "-m", "extra")
        moved = wait_for_job(client, client.post(ingest_url, headers=auth).json()["job_id"])
        assert (moved["status"], moved["warm_start"], moved["embeddings_generated"]) == (
            "complete",
            True,
            10,
        )


def test_demo_command_prints_nearest_files(tmp_path: Path, sample_repo: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "alexandria.cli", "demo", str(sample_repo)],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Files most related to" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith("  ") and "(" in line]
    assert len(rows) >= 5 and all(line.split()[0].count(".") == 1 for line in rows)
