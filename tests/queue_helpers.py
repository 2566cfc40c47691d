"""Queue test helpers: open the queue a `queue_config` fixture selects, make tasks, and
drive coordinators with a job-runner test double (scripted outcomes, no edge services)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc

from neo_alexandria.v1 import jobs_pb2
from services.common.config import Settings
from services.common.jobs import now, worker_state_name
from services.common.queue import JobQueue
from services.common.transport import open_transport
from services.ingest.coordinator import Coordinator, JobRunner
from services.ingest.pipeline import PipelineResult, ProgressFn


def task(
    job_id: str | None = None,
    *,
    repo: str = "https://github.com/a/b",
    age_seconds: int = 0,
    ttl: int = 3600,
) -> jobs_pb2.QueuedTask:
    t = jobs_pb2.QueuedTask(job_id=job_id or uuid.uuid4().hex, repo_url=repo, ttl_seconds=ttl)
    t.submitted_at.CopyFrom(now())
    t.submitted_at.seconds -= age_seconds
    return t


def flush(redis_url: str) -> str:
    """Empty the Redis at `redis_url` (raises redis.ConnectionError when unreachable)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url


@asynccontextmanager
async def open_queue(config: dict[str, Any], **queue_kw: Any) -> AsyncIterator[JobQueue]:
    transport, _ = open_transport(Settings(**config))
    try:
        queue = JobQueue(transport, **queue_kw)
        await queue.ensure_group()
        yield queue
    finally:
        await transport.close()


def worker(worker_id: str) -> jobs_pb2.WorkerStatus:
    return jobs_pb2.WorkerStatus(
        worker_id=worker_id, state=jobs_pb2.WORKER_STATE_IDLE, heartbeat_interval_seconds=60
    )


def well_formed(seen: tuple[str, str]) -> bool:
    """A `StatusSpy` entry has the fields its state calls for, and only those: a busy
    state its repository, an error its message, idle and offline nothing."""
    state, detail = seen
    if state in ("parsing", "training", "uploading", "error"):
        return bool(detail) and "\n" not in detail
    return state in ("idle", "offline") and detail == ""


FAST = {
    "queue_poll_min_seconds": 0.02,
    "queue_poll_max_seconds": 0.1,
    "queue_block_seconds": 0.1,
    "heartbeat_seconds": 0.2,
    "job_retry_delay_seconds": 0.05,
}
TERMINAL = {
    jobs_pb2.JOB_STATUS_COMPLETE,
    jobs_pb2.JOB_STATUS_FAILED,
    jobs_pb2.JOB_STATUS_SKIPPED,
    jobs_pb2.JOB_STATUS_DEAD,
}


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def result(files: int = 3) -> PipelineResult:
    return PipelineResult(
        commit="abc",
        files_processed=files,
        embeddings_generated=files,
        final_loss=0.5,
        history="12 commits",
    )


class StatusSpy:
    """Records every change of the worker status the coordinator writes, as (state name,
    repository or error message): ("parsing", "https://github.com/a/b")."""

    def __init__(self, queue: JobQueue) -> None:
        self.seen: list[tuple[str, str]] = []
        for name in ("poll", "poll_next", "heartbeat", "save_progress", "finish", "release"):
            original = getattr(queue, name)

            def spy(*args: Any, _original: Any = original, **kw: Any) -> Awaitable[Any]:
                status = next(a for a in args if isinstance(a, jobs_pb2.WorkerStatus))
                state = worker_state_name(status.state)
                entry = (state, status.message if state == "error" else status.repo_url)
                if not self.seen or self.seen[-1] != entry:
                    self.seen.append(entry)
                return _original(*args, **kw)

            setattr(queue, name, spy)

    def states(self) -> list[str]:
        return [state for state, _ in self.seen]


async def run_until_settled(
    coordinators: list[Coordinator], queue: JobQueue, job_ids: set[str], timeout: float = 30
) -> dict[str, jobs_pb2.JobRecord]:
    stop = asyncio.Event()
    runners = [asyncio.create_task(c.run(stop)) for c in coordinators]
    records: dict[str, jobs_pb2.JobRecord] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while set(records) != job_ids and loop.time() < deadline:
        for job_id in job_ids - set(records):
            record = await queue.get_job(job_id)
            if record is not None and record.status in TERMINAL:
                records[job_id] = record
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*runners), 30)
    assert set(records) == job_ids, f"unsettled: {job_ids - set(records)}"
    return records


def scripted_runner(outcomes: dict[str, list[Any]], calls: list[str]) -> JobRunner:
    """Each call pops the job's next outcome: a PipelineResult or an exception to raise."""

    async def run(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        calls.append(queued.job_id)
        progress("train", 50.0)
        await asyncio.sleep(0)
        outcome = outcomes[queued.job_id].pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return run


def settings_for(config: dict[str, Any], tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(alexandria_data_dir=tmp_path, **config, **{**FAST, **overrides})
