"""Relay job progress from synchronous callbacks into the job record, rate-limited."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from neo_alexandria.v1 import jobs_pb2
from services.common.transport import QueueUnavailable

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
SaveFn = Callable[[jobs_pb2.JobRecord], Awaitable[bool]]


class ProgressRecorder:
    """`report(phase, percent)` updates the record; a changed snapshot is saved at once
    when the phase changes, otherwise at most once a second (each save is one queue
    command).

    `flush()` waits for saves in flight, so a late progress write can never land
    after (and overwrite) the job's final record.
    """

    def __init__(self, save: SaveFn, record: jobs_pb2.JobRecord) -> None:
        self._save = save
        self._record = record
        self._last = 0.0
        self._saved: tuple[str, float] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def report(self, phase: str, percent: float) -> None:
        new_phase = phase != self._record.phase
        self._record.phase = phase
        self._record.progress_percent = round(min(max(percent, 0.0), 100.0), 1)
        now = time.monotonic()
        if self._saved == self._state():
            return
        if now - self._last < MIN_INTERVAL_SECONDS and not new_phase:
            return
        self._last = now
        task = asyncio.get_running_loop().create_task(self.save_now())
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def save_now(self) -> None:
        """Save a snapshot of the record now; an unreachable queue only loses this snapshot."""
        snapshot = jobs_pb2.JobRecord()
        snapshot.CopyFrom(self._record)
        self._saved = self._state()
        try:
            await self._save(snapshot)
        except QueueUnavailable as exc:
            log.warning("progress of job %s not saved: %s", snapshot.job_id, exc)

    async def flush(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _state(self) -> tuple[str, float]:
        return self._record.phase, self._record.progress_percent
