"""Crash recovery with real processes: parser, embedder and two coordinators as separate
`alexandria serve` processes on the embedded Redis. The first coordinator is SIGKILLed
mid-job; the second reclaims the job after the lease and completes it exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models
from queue_helpers import open_queue, task

from alexandria.stack import free_port, grpc_serving
from neo_alexandria.v1 import jobs_pb2
from services.common.embedded_redis import ensure_embedded_redis
from services.common.vectors import COLLECTION

pytestmark = pytest.mark.slow

JOB = "crashjob"


class Processes:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "alexandria.cli", "serve", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[Processes, dict[str, str]]]:
    data = tmp_path / "data"
    clones = tmp_path / "clones"
    clones.mkdir()
    redis_url, redis_proc = ensure_embedded_redis(data)
    parser_port, embedder_port = free_port(), free_port()
    env = {
        **os.environ,
        "ALEXANDRIA_DATA_DIR": str(data),
        "REDIS_URL": redis_url,
        "ALEXANDRIA_PARSER_ADDR": f"127.0.0.1:{parser_port}",
        "ALEXANDRIA_EMBEDDER_ADDR": f"127.0.0.1:{embedder_port}",
        "TMPDIR": str(clones),
        "ALEXANDRIA_JOB_LEASE_SECONDS": "5",
        "ALEXANDRIA_HEARTBEAT_SECONDS": "1",
        "ALEXANDRIA_QUEUE_BLOCK_SECONDS": "0.5",
        "ALEXANDRIA_TRAIN_EPOCHS": "1000",  # long enough to be killed mid-training
        "ALEXANDRIA_EMBEDDER_DEVICE": "cpu",
    }
    procs = Processes(env, tmp_path)
    procs.start("parser", "parser", "--port", str(parser_port))
    procs.start("embedder", "embedder", "--port", str(embedder_port))
    deadline = time.monotonic() + 120
    while not (grpc_serving(parser_port) and grpc_serving(embedder_port)):
        exited = [n for n, p in procs.running.items() if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            procs.stop_all()
            pytest.fail(f"{exited or 'parser/embedder'} did not start; see {tmp_path}/*.log")
        time.sleep(0.2)
    try:
        yield procs, {"redis_url": redis_url}
    finally:
        procs.stop_all()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()


async def job_state(config: dict[str, str]) -> jobs_pb2.JobRecord | None:
    async with open_queue(config) as queue:
        return await queue.get_job(JOB)


def wait_for(config: dict[str, str], done: object, timeout: float) -> jobs_pb2.JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = asyncio.run(job_state(config))
        if record is not None and done(record):  # type: ignore[operator]
            return record
        time.sleep(0.05)
    pytest.fail(f"job never reached the expected state; last: {record}")


def test_sigkill_mid_job_then_another_coordinator_completes_it_once(
    processes: tuple[Processes, dict[str, str]], sample_repo: Path, tmp_path: Path
) -> None:
    procs, config = processes

    async def enqueue() -> None:
        async with open_queue(config) as queue:
            await queue.enqueue(task(JOB, repo=str(sample_repo)), cap=10)

    asyncio.run(enqueue())
    first = procs.start("coordinator-1", "coordinator")
    wait_for(config, lambda r: r.status == jobs_pb2.JOB_STATUS_RUNNING and r.phase == "train", 120)
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = procs.start("coordinator-2", "coordinator")
    record = wait_for(config, lambda r: r.status == jobs_pb2.JOB_STATUS_COMPLETE, 180)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0

    assert record.attempts == 2 and record.files_processed == 9
    assert record.embeddings_generated == 9

    async def history() -> tuple[list[jobs_pb2.JobRecord], list[jobs_pb2.JobRecord], int]:
        async with open_queue(config) as queue:
            events = [r for _, r in await queue.events_after("0-0", 10_000) if r.job_id == JOB]
            return await queue.history(), events, await queue.pending()

    jobs, events, pending = asyncio.run(history())
    assert [r.job_id for r in jobs] == [JOB] and pending == 0
    assert [e.status for e in events].count(jobs_pb2.JOB_STATUS_COMPLETE) == 1
    store = QdrantClient(path=str(tmp_path / "data" / "qdrant"))
    try:
        points, _ = store.scroll(COLLECTION, limit=100, with_payload=True)
        hits = store.count(
            COLLECTION,
            count_filter=models.Filter(
                must=[models.FieldCondition(key="job_id", match=models.MatchValue(value=JOB))]
            ),
        )
    finally:
        store.close()
    paths = [p.payload["file_path"] for p in points if p.payload]
    assert len(points) == hits.count == 9 and len(set(paths)) == 9  # no duplicates
    assert list((tmp_path / "clones").glob("alexandria-clone-*")) == []
