"""The coordinator against real Redis: stale tasks skipped (P18), failures recorded while
the worker carries on (R3.6), status strings (P2, P11) and job record fields (P9)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from alexandria.stack import free_port
from neo_alexandria.v1 import jobs_pb2
from services.common.config import Settings
from services.common.jobs import now
from services.common.queue import JobQueue
from services.common.redis_client import open_redis
from services.common.vectors import open_vector_store
from services.ingest.coordinator import Coordinator

STATUS_PATTERNS = [r"^Idle$", r"^Training Graph on .+$", r"^Error: .+$", r"^Offline$"]


def queued_task(job_id: str, *, age_seconds: int = 0, ttl: int = 3600) -> jobs_pb2.QueuedTask:
    task = jobs_pb2.QueuedTask(job_id=job_id, repo_url="https://github.com/a/b", ttl_seconds=ttl)
    ts = now()
    ts.seconds -= age_seconds
    task.submitted_at.CopyFrom(ts)
    return task


async def run_coordinator_until(
    settings: Settings, redis_url: str, tasks: list[jobs_pb2.QueuedTask], done_ids: set[str]
) -> tuple[dict[str, jobs_pb2.JobRecord], list[str]]:
    redis = open_redis(redis_url)
    store = open_vector_store(settings)
    queue = JobQueue(redis)
    await queue.ensure_group()
    for task in tasks:
        await queue.enqueue(task, cap=100)
    coordinator = Coordinator(settings, queue, store, worker_id="w-test")
    statuses: list[str] = []
    original = queue.set_worker

    async def spy(status: jobs_pb2.WorkerStatus) -> None:
        statuses.append(status.status)
        await original(status)

    queue.set_worker = spy  # type: ignore[method-assign]
    stop = asyncio.Event()
    runner = asyncio.create_task(coordinator.run(stop))
    records: dict[str, jobs_pb2.JobRecord] = {}
    for _ in range(300):
        for job_id in done_ids:
            record = await queue.get_job(job_id)
            if record is not None and record.status not in (
                jobs_pb2.JOB_STATUS_QUEUED,
                jobs_pb2.JOB_STATUS_RUNNING,
            ):
                records[job_id] = record
        if set(records) == done_ids:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 30)
    assert await queue.pending() == 0
    await redis.aclose()
    await store.close()
    return records, statuses


def settings_with_dead_services(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(
        alexandria_data_dir=tmp_path,
        redis_url=redis_url,
        parser_addr=f"127.0.0.1:{free_port()}",
        embedder_addr=f"127.0.0.1:{free_port()}",
    )


def test_a_stale_task_is_skipped_and_recorded(tmp_path: Path, redis_url: str) -> None:
    settings = settings_with_dead_services(tmp_path, redis_url)
    records, _ = asyncio.run(
        run_coordinator_until(
            settings, redis_url, [queued_task("old", age_seconds=120, ttl=60)], {"old"}
        )
    )
    record = records["old"]
    assert record.status == jobs_pb2.JOB_STATUS_SKIPPED
    assert "past its TTL" in record.error


def test_a_failed_job_is_recorded_and_the_worker_carries_on(tmp_path: Path, redis_url: str) -> None:
    settings = settings_with_dead_services(tmp_path, redis_url)
    records, statuses = asyncio.run(
        run_coordinator_until(
            settings, redis_url, [queued_task("first"), queued_task("second")], {"first", "second"}
        )
    )
    for record in records.values():
        assert record.status == jobs_pb2.JOB_STATUS_FAILED
        assert record.error.startswith("UNAVAILABLE")
        # P9: the fields every job record carries.
        assert record.repo_url and record.started_at.seconds and record.finished_at.seconds
        assert record.duration_seconds >= 0 and record.worker_id == "w-test"
    # P2: Idle → Training… → Error for each job, Offline at the end; P11: only four shapes.
    assert statuses[0] == "Idle" and statuses[-1] == "Offline"
    assert statuses.count("Training Graph on https://github.com/a/b") == 2
    assert any(s.startswith("Error: UNAVAILABLE") for s in statuses)
    for status in statuses:
        assert any(re.match(p, status) for p in STATUS_PATTERNS), status
