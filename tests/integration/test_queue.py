"""The queue against real Redis servers: the embedded one and (in CI) the machine's."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.jobs import now
from services.common.queue import DuplicateJob, JobQueue, QueueFull
from services.common.redis_client import open_redis


def task(job_id: str | None = None, repo: str = "https://github.com/a/b") -> jobs_pb2.QueuedTask:
    t = jobs_pb2.QueuedTask(job_id=job_id or uuid.uuid4().hex, repo_url=repo, ttl_seconds=60)
    t.submitted_at.CopyFrom(now())
    return t


def run(redis_url: str, body, **queue_kw):
    async def main():
        redis = open_redis(redis_url)
        try:
            queue = JobQueue(redis, **queue_kw)
            await queue.ensure_group()
            return await body(queue)
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_enqueue_claim_ack_round_trip(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        queued = await queue.enqueue(task("job1"), cap=10)
        assert (queued.position, queued.size) == (1, 1)
        record = await queue.get_job("job1")
        assert record is not None and record.status == jobs_pb2.JOB_STATUS_QUEUED
        claimed = await queue.claim("w1", block_ms=100)
        assert claimed is not None and claimed.task.job_id == "job1" and claimed.attempts == 1
        assert await queue.pending() == 1  # in flight still counts as pending
        await queue.ack(claimed.entry_id)
        assert await queue.pending() == 0
        assert await queue.claim("w1", block_ms=100) is None

    run(redis_url, body)


def test_cap_counts_queued_and_in_flight_and_is_atomic(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task(), cap=3)
        await queue.claim("w1", block_ms=100)  # one in flight
        results = await asyncio.gather(
            *(queue.enqueue(task(), cap=3) for _ in range(10)), return_exceptions=True
        )
        accepted = [r for r in results if not isinstance(r, Exception)]
        assert len(accepted) == 2
        assert all(isinstance(r, QueueFull) for r in results if isinstance(r, Exception))
        assert await queue.pending() == 3

    run(redis_url, body)


def test_a_job_id_is_never_queued_twice(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("same"), cap=10)
        with pytest.raises(DuplicateJob):
            await queue.enqueue(task("same"), cap=10)
        assert await queue.pending() == 1

    run(redis_url, body)


def test_history_keeps_the_100_newest(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        ids = [f"j{i:03d}" for i in range(105)]
        for job_id in ids:
            await queue.enqueue(task(job_id), cap=1000)
        history = await queue.history(1000)
        assert [r.job_id for r in history] == list(reversed(ids))[:100]
        assert await queue.redis.llen(keys.HISTORY) == 100

    run(redis_url, body)


def test_a_job_whose_worker_died_is_reclaimed_by_another(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("orphan"), cap=10)
        first = await queue.claim("dead-worker", block_ms=100)
        assert first is not None
        assert await queue.claim("w2", block_ms=100) is None  # lease not yet expired
        await asyncio.sleep(1.2)
        second = await queue.claim("w2", block_ms=100)
        assert second is not None and second.task.job_id == "orphan"
        assert second.attempts == 2

    run(redis_url, body, lease_seconds=1)


def test_touch_keeps_a_live_worker_from_being_reclaimed(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("busy"), cap=10)
        claimed = await queue.claim("w1", block_ms=100)
        assert claimed is not None
        for _ in range(3):
            await asyncio.sleep(0.5)
            await queue.touch("w1", claimed.entry_id)
        assert await queue.claim("w2", block_ms=100) is None

    run(redis_url, body, lease_seconds=1)


def test_dead_letter_moves_the_task_with_its_error(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("doomed"), cap=10)
        claimed = await queue.claim("w1", block_ms=100)
        assert claimed is not None
        await queue.dead_letter(claimed, "boom")
        assert await queue.pending() == 0
        ((_, fields),) = await queue.redis.xrange(keys.DEAD_LETTER)
        assert fields["error"] == "boom" and "doomed" in fields["task"]

    run(redis_url, body)


def test_worker_status_is_stored_with_a_heartbeat(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.set_worker(jobs_pb2.WorkerStatus(worker_id="w1", status="Idle"))
        (worker,) = await queue.workers()
        assert worker.status == "Idle" and worker.heartbeat_at.seconds > 0

    run(redis_url, body)


def test_a_released_job_is_retaken_at_once(redis_url: str) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("handed-back"), cap=10)
        claimed = await queue.claim("stopping-worker", block_ms=100)
        assert claimed is not None
        await queue.release("stopping-worker", claimed.entry_id)
        again = await queue.claim("w2", block_ms=100)
        assert again is not None and again.task.job_id == "handed-back"

    run(redis_url, body, lease_seconds=60)
