"""Queue and coordinator properties over generated jobs, on the embedded Redis:
P2 (Idle → Parsing → Training → Idle/Error per run), P9 (record fields, the duration
over every attempt), P10 (history of the 100 newest), P11 (each worker state carries
its repository or error) and P18 (stale tasks skipped and recorded)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from queue_helpers import (
    StatusSpy,
    flush,
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
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult

EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
QUICK = {"queue_block_seconds": 0.02, "job_retry_delay_seconds": 0.01, "max_job_attempts": 3}
messages = st.text(min_size=1, max_size=40)


@dataclass(frozen=True)
class Job:
    stale: bool
    # What each run does: a PipelineResult, or the error it raises.
    runs: tuple[PipelineResult | grpc.aio.AioRpcError, ...]


@st.composite
def jobs_to_run(draw: st.DrawFn) -> Job:
    if draw(st.booleans()) and draw(st.booleans()):
        return Job(stale=True, runs=())
    files = st.integers(0, 10_000).map(lambda n: result(files=n))
    permanent = messages.map(lambda m: rpc_error(grpc.StatusCode.INVALID_ARGUMENT, m))
    transient = messages.map(lambda m: rpc_error(grpc.StatusCode.UNAVAILABLE, m))
    retries = draw(st.lists(transient, max_size=3))  # 3 transient failures: dead
    last = draw(st.one_of(files, permanent)) if len(retries) < 3 else None
    return Job(stale=False, runs=(*retries, *([last] if last is not None else [])))


def expected_status(job: Job) -> int:
    if job.stale:
        return jobs_pb2.JOB_STATUS_SKIPPED
    last = job.runs[-1]
    if isinstance(last, PipelineResult):
        return jobs_pb2.JOB_STATUS_COMPLETE
    if last.code() == grpc.StatusCode.UNAVAILABLE:
        return jobs_pb2.JOB_STATUS_DEAD
    return jobs_pb2.JOB_STATUS_FAILED


@EXAMPLES
@given(st.lists(jobs_to_run(), min_size=1, max_size=4))
def test_every_job_settles_with_its_record_and_statuses(
    embedded_redis_url: str, tmp_path: Path, generated: list[Job]
) -> None:
    config = {"redis_url": flush(embedded_redis_url)}
    ids = [f"job{i}" for i in range(len(generated))]
    outcomes = {job_id: list(job.runs) for job_id, job in zip(ids, generated, strict=True)}
    calls: list[str] = []

    async def main() -> tuple[dict[str, jobs_pb2.JobRecord], list[tuple[str, str]]]:
        async with open_queue(config) as queue:
            for job_id, job in zip(ids, generated, strict=True):
                age = 7200 if job.stale else 0
                await queue.enqueue(
                    task(job_id, repo=f"https://github.com/u/{job_id}", age_seconds=age), cap=10
                )
            spy = StatusSpy(queue)
            coordinator = Coordinator(
                settings_for(config, tmp_path, **QUICK), queue, scripted_runner(outcomes, calls)
            )
            return await run_until_settled([coordinator], queue, set(ids)), spy.seen

    records, statuses = asyncio.run(main())
    for job_id, job in zip(ids, generated, strict=True):
        record = records[job_id]
        # P18 and the outcome.
        assert record.status == expected_status(job)
        assert calls.count(job_id) == len(job.runs)
        # P9: what every record carries.
        assert record.repo_url == f"https://github.com/u/{job_id}"
        assert record.submitted_at.seconds and record.finished_at.seconds
        if job.stale:
            assert record.duration_seconds == 0 and not record.HasField("started_at")
        else:  # from the first attempt's start to the end, every attempt included
            span = record.finished_at.ToNanoseconds() - record.started_at.ToNanoseconds()
            assert abs(record.duration_seconds - span / 1e9) < 1e-6
        if record.status == jobs_pb2.JOB_STATUS_COMPLETE:
            files = job.runs[-1].files_processed  # type: ignore[union-attr]
            assert record.files_processed == record.embeddings_generated == files
        if record.status != jobs_pb2.JOB_STATUS_COMPLETE:
            assert record.error
    # P11: every state carries what it calls for (a repository, an error), nothing else.
    assert all(well_formed(seen) for seen in statuses), statuses
    # P2: Idle first, Offline last; every run Parsing, then Training (the runner reports
    # the train phase), then Idle or Error.
    assert statuses[0] == ("idle", "") and statuses[-1] == ("offline", "")
    for current, following in itertools.pairwise(statuses):
        if current[0] == "parsing":
            assert following == ("training", current[1]), statuses
        if current[0] == "training":
            assert following[0] in ("idle", "error"), statuses
    assert sum(state == "parsing" for state, _ in statuses) == len(calls)


@EXAMPLES
@given(count=st.integers(0, 250), limit=st.integers(1, 150))
def test_history_is_the_100_newest_newest_first(
    embedded_redis_url: str, count: int, limit: int
) -> None:
    """P10."""
    config = {"redis_url": flush(embedded_redis_url)}
    ids = [f"j{i:03d}" for i in range(count)]

    async def main() -> list[str]:
        async with open_queue(config) as queue:
            for job_id in ids:
                await queue.enqueue(task(job_id), cap=1000)
            return [r.job_id for r in await queue.history(limit)]

    assert asyncio.run(main()) == list(reversed(ids))[: min(limit, 100)]
