"""A damaged repository through the real parser service (loopback gRPC) and a
coordinator: failed at once, never retried, its duration the time it really took, the
worker in Error with git's reason."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from git_repos import CORRUPTIONS, SAMPLE_PYTHON_REPO, corrupt, make_git_repo
from queue_helpers import StatusSpy, flush, open_queue, run_until_settled, settings_for, task
from serving import serve_grpc

from neo_alexandria.v1 import jobs_pb2, parser_service_pb2_grpc
from services.common.config import Settings
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult, ProgressFn
from services.parser.client import fetch_graph
from services.parser.server import ParserServicer


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_repository_fails_once_for_good(
    embedded_redis_url: str, tmp_path: Path, how: str
) -> None:
    repo = corrupt(make_git_repo(tmp_path / "repo", SAMPLE_PYTHON_REPO), how)
    config = {"redis_url": flush(embedded_redis_url)}
    parser = ParserServicer(Settings(mode="LOCAL", alexandria_data_dir=tmp_path / "parser"))
    runs: list[tuple[float, float]] = []

    async def main() -> tuple[jobs_pb2.JobRecord, list[tuple[str, str]]]:
        async with (
            serve_grpc(
                lambda s: parser_service_pb2_grpc.add_ParserServiceServicer_to_server(parser, s)
            ) as channel,
            open_queue(config) as queue,
        ):

            async def parse_only(
                queued: jobs_pb2.QueuedTask, progress: ProgressFn
            ) -> PipelineResult:
                start = time.time()
                try:
                    await fetch_graph(channel, queued.repo_url, job_id=queued.job_id, timeout=60)
                finally:
                    runs.append((start, time.time()))
                raise AssertionError("a corrupt repository was parsed")

            await queue.enqueue(task("broken", repo=f"file://{repo}"), cap=10)
            spy = StatusSpy(queue)
            # Retries would come fast and be many: a transient error would be seen retried.
            settings = settings_for(config, tmp_path, max_job_attempts=3)
            coordinator = Coordinator(settings, queue, parse_only, worker_id="w")
            record = (await run_until_settled([coordinator], queue, {"broken"}))["broken"]
            return record, spy.seen

    record, statuses = asyncio.run(main())
    assert len(runs) == 1, runs
    assert record.status == jobs_pb2.JOB_STATUS_FAILED and record.attempts == 1
    assert record.error.startswith(("FAILED_PRECONDITION: ", "NOT_FOUND: ")), record.error
    # The duration is the job's own, from its start to its end, covering the parse.
    started, finished = record.started_at.ToNanoseconds(), record.finished_at.ToNanoseconds()
    assert record.duration_seconds == pytest.approx((finished - started) / 1e9, abs=1e-6)
    (run_start, run_end) = runs[0]
    assert started / 1e9 <= run_start + 0.01 and finished / 1e9 >= run_end - 0.01
    assert record.duration_seconds >= run_end - run_start - 0.02
    # The worker said it was parsing, then why it failed; then it stopped.
    assert statuses[-3:] == [
        ("parsing", f"file://{repo}"),
        ("error", record.error),
        ("offline", ""),
    ]
