"""The queue on each transport against a real Redis: the embedded server, the machine's
(CI), and Upstash REST (the test double in front of a real Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from queue_helpers import open_queue, task, worker

from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.queue import JobQueue, QueueFull
from services.common.transport import UnsupportedCommand


def run(config: dict[str, Any], body: Callable[[JobQueue], Awaitable[Any]], **queue_kw: Any) -> Any:
    async def main() -> Any:
        async with open_queue(config, **queue_kw) as queue:
            return await body(queue)

    return asyncio.run(main())


def test_enqueue_poll_finish_round_trip(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        queued = await queue.enqueue(task("job1"), cap=10)
        assert (queued.position, queued.size, queued.created) == (1, 1, True)
        record = await queue.get_job("job1")
        assert record is not None and record.status == jobs_pb2.JOB_STATUS_QUEUED
        w1 = worker("w1")
        claimed = await queue.poll(w1)
        assert claimed is not None and claimed.task.job_id == "job1" and claimed.attempts == 1
        assert await queue.pending() == 1  # in flight still counts as pending
        record.status = jobs_pb2.JOB_STATUS_COMPLETE
        assert await queue.finish(claimed, w1, record)
        assert await queue.pending() == 0
        assert await queue.poll(w1) is None
        stored = await queue.get_job("job1")
        assert stored is not None and stored.status == jobs_pb2.JOB_STATUS_COMPLETE
        events = await queue.events_after("0-0", 10)
        assert [r.status for _, r in events] == [
            jobs_pb2.JOB_STATUS_QUEUED,
            jobs_pb2.JOB_STATUS_COMPLETE,
        ]
        assert await queue.events_after(events[-1][0], 10) == []

    run(queue_config, body)


def test_cap_is_never_exceeded_under_50_concurrent_submissions(
    queue_config: dict[str, Any],
) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task(), cap=5)
        assert await queue.poll(worker("w1")) is not None  # one in flight counts too
        results = await asyncio.gather(
            *(queue.enqueue(task(), cap=5) for _ in range(50)), return_exceptions=True
        )
        accepted = [r for r in results if not isinstance(r, BaseException)]
        assert len(accepted) == 4
        assert all(isinstance(r, QueueFull) for r in results if isinstance(r, BaseException))
        assert sorted(r.position for r in accepted) == [2, 3, 4, 5]
        assert await queue.pending() == 5

    run(queue_config, body)


def test_a_retried_enqueue_never_queues_twice(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        retries = await asyncio.gather(*(queue.enqueue(task("same"), cap=10) for _ in range(8)))
        assert sum(r.created for r in retries) == 1
        assert {r.record.job_id for r in retries} == {"same"}
        assert await queue.pending() == 1
        assert [r.job_id for r in await queue.history()] == ["same"]

    run(queue_config, body)


def test_history_keeps_the_100_newest(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        ids = [f"j{i:03d}" for i in range(105)]
        for job_id in ids:
            await queue.enqueue(task(job_id), cap=1000)
        history = await queue.history(1000)
        assert [r.job_id for r in history] == list(reversed(ids))[:100]
        assert [r.job_id for r in await queue.history(3)] == ["j104", "j103", "j102"]

    run(queue_config, body)


def test_a_job_whose_worker_died_is_reclaimed_and_the_old_worker_is_fenced_off(
    queue_config: dict[str, Any],
) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("orphan"), cap=10)
        dead, alive = worker("dead-worker"), worker("w2")
        first = await queue.poll(dead)
        assert first is not None
        assert await queue.poll(alive) is None  # lease not yet expired
        await asyncio.sleep(1.2)
        second = await queue.poll(alive)
        assert second is not None and second.task.job_id == "orphan"
        assert second.attempts == 2 and second.reclaimed
        # The first worker wakes up: it can neither renew, report, nor settle the job.
        stale = jobs_pb2.JobRecord(job_id="orphan", status=jobs_pb2.JOB_STATUS_COMPLETE)
        dead.state, dead.repo_url = jobs_pb2.WORKER_STATE_TRAINING, "https://github.com/a/b"
        assert not await queue.heartbeat(dead, first.entry_id)
        assert not await queue.save_progress(first, dead, stale)
        assert not await queue.finish(first, dead, stale)
        record = await queue.get_job("orphan")
        assert record is not None and record.status == jobs_pb2.JOB_STATUS_QUEUED
        # Nor does what it says about itself land: its status is still what its poll wrote.
        states = {w.worker_id: w.state for w in await queue.workers()}
        assert states["dead-worker"] == jobs_pb2.WORKER_STATE_IDLE
        assert await queue.pending() == 1

    run(queue_config, body, lease_seconds=1)


def test_heartbeats_keep_a_live_worker_from_being_reclaimed(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("busy"), cap=10)
        w1 = worker("w1")
        claimed = await queue.poll(w1)
        assert claimed is not None
        for _ in range(3):
            await asyncio.sleep(0.5)
            assert await queue.heartbeat(w1, claimed.entry_id)
        assert await queue.poll(worker("w2")) is None

    run(queue_config, body, lease_seconds=1)


def test_dead_letter_moves_the_task_with_its_error(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("doomed"), cap=10)
        w1 = worker("w1")
        claimed = await queue.poll(w1)
        assert claimed is not None
        record = jobs_pb2.JobRecord(job_id="doomed", status=jobs_pb2.JOB_STATUS_DEAD, error="boom")
        assert await queue.finish(claimed, w1, record, dead_letter=True)
        assert await queue.pending() == 0
        ((dead_task, error),) = await queue.dead_letters()
        assert dead_task.job_id == "doomed" and error == "boom"

    run(queue_config, body)


def test_a_released_job_is_retaken_after_its_retry_delay(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("handed-back"), cap=10)
        w1, w2 = worker("w1"), worker("w2")
        claimed = await queue.poll(w1)
        assert claimed is not None
        record = jobs_pb2.JobRecord(job_id="handed-back", status=jobs_pb2.JOB_STATUS_QUEUED)
        assert await queue.release(claimed, w1, record, retry_after_seconds=1.0)
        assert await queue.poll(w2) is None
        await asyncio.sleep(1.1)
        again = await queue.poll(w2)
        assert again is not None and again.task.job_id == "handed-back" and again.attempts == 2

    run(queue_config, body, lease_seconds=60)


def test_polls_are_heartbeats(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.poll(worker("w1"))
        (status,) = await queue.workers()
        assert status.worker_id == "w1" and status.state == jobs_pb2.WORKER_STATE_IDLE
        assert status.status == "Idle"  # the display text, for readers older than the state
        assert status.heartbeat_at.seconds > 0 and status.heartbeat_interval_seconds == 60

    run(queue_config, body)


def test_blocking_reads_wake_on_new_work_or_are_refused_over_rest(
    queue_config: dict[str, Any],
) -> None:
    async def body(queue: JobQueue) -> None:
        if not queue.transport.blocking:
            with pytest.raises(UnsupportedCommand):
                await queue.wait("w1", 1.0)
            with pytest.raises(UnsupportedCommand):
                await queue.transport.call("WATCH", keys.TASKS)
            return
        waiting = asyncio.create_task(queue.wait("w1", 10.0))
        await asyncio.sleep(0.2)
        await queue.enqueue(task("wake"), cap=10)
        claimed = await asyncio.wait_for(waiting, 5)
        assert claimed is not None and claimed.task.job_id == "wake"
        events = await queue.wait_events("0-0", 10, 1.0)
        assert [r.job_id for _, r in events] == ["wake"]

    run(queue_config, body)


def test_an_idle_blocking_read_lasts_its_whole_block(redis_url: str) -> None:
    """redis-py's default 5 s socket read timeout would end (and retry) a longer block.
    (Only the Redis protocol blocks; REST polls.)"""

    async def body(queue: JobQueue) -> float:
        started = time.monotonic()
        assert await queue.wait("w1", 6.0) is None
        return time.monotonic() - started

    assert run({"redis_url": redis_url, "queue_block_seconds": 6.0}, body) >= 5.9


def test_a_queue_that_lost_its_data_recovers(queue_config: dict[str, Any]) -> None:
    async def body(queue: JobQueue) -> None:
        await queue.enqueue(task("before"), cap=10)
        await queue.transport.call("FLUSHDB")  # Redis restarted without persistence
        if queue.transport.blocking:
            assert await queue.wait("w1", 0.1) is None  # recreates the group
        assert await queue.poll(worker("w1")) is None
        await queue.enqueue(task("after"), cap=10)
        claimed = await queue.poll(worker("w1"))
        assert claimed is not None and claimed.task.job_id == "after"

    run(queue_config, body)
