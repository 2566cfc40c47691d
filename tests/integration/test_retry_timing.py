"""Retries happen when they are said to, on every transport, and a job's duration is the
whole of it: the delay a failed attempt logs is the wait before the next attempt, even
though an idle coordinator would otherwise block (or sleep) much longer; the record's
duration runs from the first attempt's start to the end."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from queue_helpers import open_queue, result, rpc_error, run_until_settled, settings_for, task

from neo_alexandria.v1 import jobs_pb2
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult, ProgressFn

IDLE_WAIT = 6.0
"""Each idle step blocks (Redis) or sleeps (REST) this long unless a retry cuts it short."""
RETRY_DELAY = 0.5


def test_the_delay_logged_is_the_delay_waited(
    queue_config: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failures = [rpc_error(grpc.StatusCode.UNAVAILABLE, f"embedder down ({i})") for i in (1, 2)]
    starts: list[float] = []
    released: list[float] = []

    async def flaky(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        starts.append(time.monotonic())
        await asyncio.sleep(0.1)
        if failures:
            raise failures.pop(0)
        return result()

    async def main() -> tuple[jobs_pb2.JobRecord, float]:
        async with open_queue(queue_config) as queue:
            release = queue.release

            async def timed_release(*args: Any, **kw: Any) -> bool:
                done = await release(*args, **kw)
                released.append(time.monotonic())
                return done

            queue.release = timed_release  # type: ignore[method-assign]
            await queue.enqueue(task("flaky"), cap=10)
            settings = settings_for(
                queue_config,
                tmp_path,
                queue_block_seconds=IDLE_WAIT,
                queue_poll_min_seconds=IDLE_WAIT,
                queue_poll_max_seconds=IDLE_WAIT,
                heartbeat_seconds=IDLE_WAIT,
                job_retry_delay_seconds=RETRY_DELAY,
                max_job_attempts=3,
            )
            coordinator = Coordinator(settings, queue, flaky, worker_id="w")
            began = time.time()
            record = (await run_until_settled([coordinator], queue, {"flaky"}))["flaky"]
            return record, time.time() - began

    with caplog.at_level(logging.ERROR, logger="services.ingest.coordinator"):
        record, wall = asyncio.run(main())
    logged = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.search(r"retry in ([0-9.]+)s", r.getMessage()))
    ]
    assert logged == [RETRY_DELAY, 2 * RETRY_DELAY]  # doubling
    waited = [start - hand_back for hand_back, start in zip(released, starts[1:], strict=True)]
    for said, took in zip(logged, waited, strict=True):
        assert said - 0.05 <= took <= said + 0.5, (logged, waited)
    assert record.status == jobs_pb2.JOB_STATUS_COMPLETE and record.attempts == 3
    # The duration counts every attempt and the waits between them.
    whole = starts[-1] + 0.1 - starts[0]
    assert whole <= record.duration_seconds <= wall, (record.duration_seconds, whole, wall)
    assert record.duration_seconds >= 3 * RETRY_DELAY
