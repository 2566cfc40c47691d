"""Relay job progress from synchronous callbacks into the job record, rate-limited."""

from __future__ import annotations

import asyncio
import time

from neo_alexandria.v1 import jobs_pb2
from services.common.queue import JobQueue

MIN_INTERVAL_SECONDS = 0.5


class ProgressRecorder:
    """`report(phase, percent)` updates the record; a snapshot is saved at most every 0.5 s.

    `flush()` waits for saves in flight, so a late progress write can never land
    after (and overwrite) the job's final record.
    """

    def __init__(self, queue: JobQueue, record: jobs_pb2.JobRecord) -> None:
        self._queue = queue
        self._record = record
        self._last = 0.0
        self._in_flight: set[asyncio.Task[None]] = set()

    def report(self, phase: str, percent: float) -> None:
        self._record.phase = phase
        self._record.progress_percent = round(min(max(percent, 0.0), 100.0), 1)
        now = time.monotonic()
        if now - self._last < MIN_INTERVAL_SECONDS:
            return
        self._last = now
        snapshot = jobs_pb2.JobRecord()
        snapshot.CopyFrom(self._record)
        task = asyncio.get_running_loop().create_task(self._queue.save_job(snapshot))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def flush(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
