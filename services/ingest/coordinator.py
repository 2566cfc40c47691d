"""The coordinator: takes jobs off the queue and drives them through the edge services.

Idle, it costs few commands: on the Redis protocol it blocks on the stream; on
Upstash REST it polls, backing off from 2 s to a ceiling (`IdlePacer`). Each poll
is also its heartbeat and reclaims jobs whose worker died; a poll that takes nothing
says when the next job handed back for a retry is due, and the wait ends then, so a
retry starts after the delay it was given (not at the next blocking read's end).

Busy, it renews its lease every `heartbeat_seconds`, relays progress into the job
record and its state (`Parsing`, `Training`, `Uploading`, following the job's phase)
into its status, and settles the job in one step only after the vectors are written:
`complete` (marked `unchanged` when the commit was already indexed alike and nothing
was written), `failed` (an error retrying cannot fix), `skipped` (past its TTL) or,
after `max_job_attempts` failures or reclaims, `dead` (dead-lettered with its last
error). Other errors hand the job back to be retried after a growing delay (at most
a lease). A job's `started_at` is its first attempt's start and its duration runs
from there to its end, over every attempt and the waits between them. The outcome is
logged only once it is saved. SIGINT/SIGTERM releases the job in hand (or lets its
outcome, once computed, be written) and sets the worker `Offline`.

`alexandria serve coordinator` first makes one authenticated call to the queue (bad
credentials end it at once), then touches its liveness file whenever the queue
answers (`liveness.py`: its health check).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc

from neo_alexandria.v1 import jobs_pb2
from services.common import jobs, logs
from services.common.config import Settings
from services.common.queue import Claimed, IdlePacer, JobQueue
from services.common.transport import (
    QueueCommandError,
    QueueUnavailable,
    check_queue,
    open_transport,
)
from services.common.vectors import open_vector_store
from services.ingest.liveness import Liveness, liveness_file
from services.ingest.metrics import JOBS, observe_queue_depth
from services.ingest.pipeline import PipelineResult, ProgressFn, edge_pipeline
from services.ingest.progress import ProgressRecorder

log = logging.getLogger(__name__)

T = TypeVar("T")
JobRunner = Callable[[jobs_pb2.QueuedTask, ProgressFn], Awaitable[PipelineResult]]

# Errors a retry cannot fix: the repository is bad, missing, too big or not allowed.
PERMANENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)
OUTAGE_BACKOFF_MAX_SECONDS = 30.0
SETTLE_GRACE_SECONDS = 10.0
DUE_MARGIN_SECONDS = 0.05
"""An idle wait cut short for a retry ends this long after it is due."""
PHASE_STATES = {"parse": jobs.PARSING, "train": jobs.TRAINING, "upload": jobs.UPLOADING}
"""The worker's state during each phase the pipeline reports."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in PERMANENT_CODES


def describe(exc: BaseException) -> str:
    """The error as the job record and the worker status keep it: one line, no control
    characters (an edge service's message may quote git or a remote verbatim)."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return jobs.one_line(f"{exc.code().name}: {exc.details()}")
    return jobs.one_line(f"{type(exc).__name__}: {exc}")


class Coordinator:
    """One queue consumer. Several may share a queue."""

    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        run_job: JobRunner,
        *,
        worker_id: str | None = None,
        liveness: Path | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.run_job = run_job
        self.worker_id = worker_id or new_worker_id()
        idle_interval = (
            settings.queue_block_seconds
            if queue.transport.blocking
            else settings.queue_poll_max_seconds
        )
        self.status = jobs_pb2.WorkerStatus(
            worker_id=self.worker_id,
            state=jobs.IDLE,
            heartbeat_interval_seconds=max(idle_interval, settings.heartbeat_seconds),
        )
        self.pacer = IdlePacer(settings.queue_poll_min_seconds, settings.queue_poll_max_seconds)
        self._stop = asyncio.Event()
        self._outages = 0
        self._settling = False
        # Held by each lease renewal and by the write that hands the entry back or
        # settles it, so no renewal lands after (and undoes) a retry's delay.
        self._entry_writes = asyncio.Lock()
        self._liveness = (
            Liveness(liveness, self.status.heartbeat_interval_seconds) if liveness else None
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume jobs until `stop` is set; the job in hand is released, not lost."""
        self._stop = stop
        log.info("coordinator %s on %s", self.worker_id, self.queue.transport.name)
        try:
            await self._retrying(self.queue.ensure_group)
            while not stop.is_set():
                claimed = await self._next()
                if claimed is not None:
                    self.pacer.reset()
                    task = claimed.task
                    with logs.bound(job_id=task.job_id, request_id=task.request_id):
                        await self._handle(claimed)
                    await observe_queue_depth(self.queue)
        finally:
            jobs.set_state(self.status, jobs.OFFLINE)
            with contextlib.suppress(Exception):
                await self.queue.heartbeat(self.status)
            if self._liveness is not None:
                self._liveness.clear()
            log.info("coordinator %s offline", self.worker_id)

    # --- waiting for work ----------------------------------------------------------
    async def _next(self) -> Claimed | None:
        """One idle step: a poll, then a blocking read or a paced sleep, either cut short
        when a job handed back for a retry is due."""
        try:
            polled = await self.queue.poll_next(self.status)
            claimed = polled.claimed
            if claimed is None:
                due = polled.due_seconds
                due = None if due is None else due + DUE_MARGIN_SECONDS
                if self.queue.transport.blocking:
                    block = self.settings.queue_block_seconds
                    block = block if due is None else min(block, due)
                    claimed = await self._unless_stopped(self.queue.wait(self.worker_id, block))
                else:
                    delay = self.pacer.next_delay()
                    await self._sleep(delay if due is None else min(delay, due))
        except QueueUnavailable as exc:
            await self._outage(exc)
            return None
        except QueueCommandError as exc:  # e.g. the group vanished with Redis's data
            with contextlib.suppress(QueueUnavailable, QueueCommandError):
                await self.queue.ensure_group()
            await self._outage(exc, "queue error while idle, consumer group re-created")
            return None
        self._answered()
        return claimed

    async def _outage(self, exc: Exception, what: str = "queue unreachable") -> None:
        """Wait before trying again: 1 s, doubling up to 30 s while the trouble lasts."""
        self._outages += 1
        delay = min(2.0 ** (self._outages - 1), OUTAGE_BACKOFF_MAX_SECONDS)
        log.warning("%s (%s); retrying in %.0fs", what, exc, delay)
        await self._sleep(delay)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """`call()`, retried through queue outages until it succeeds or, once we are
        stopped, after its first failure (None)."""
        while True:
            try:
                result = await call()
            except QueueUnavailable as exc:
                if self._stop.is_set():
                    return None
                await self._outage(exc)
            else:
                self._answered()
                return result

    def _answered(self) -> None:
        """The queue answered: the outage backoff restarts, the liveness file is touched."""
        self._outages = 0
        if self._liveness is not None:
            self._liveness.beat()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _unless_stopped(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Run `coro`, cancelling it if `stop` is set first."""
        work = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return None

    # --- one job ---------------------------------------------------------------------
    async def _handle(self, claimed: Claimed) -> None:
        """Process a claimed entry; stop or a lost lease interrupts it."""
        record = await self._retrying(lambda: self.queue.get_job(claimed.task.job_id))
        record = record or jobs_pb2.JobRecord(
            job_id=claimed.task.job_id,
            repo_url=claimed.task.repo_url,
            submitted_at=claimed.task.submitted_at,
        )
        record.attempts, record.worker_id = claimed.attempts, self.worker_id
        if self._stop.is_set():  # taken just as we were stopped: hand it straight back
            await self._release_on_stop(claimed, record)
            return
        work = asyncio.ensure_future(self._process(claimed, record))
        lease = asyncio.ensure_future(self._keep_lease(claimed))
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({work, lease, stopper}, return_when=asyncio.FIRST_COMPLETED)
        lease.cancel()
        stopper.cancel()
        if work.done():
            if (error := work.exception()) is not None:
                log.error(
                    "job %s: %s; it is retried once its lease expires",
                    claimed.task.job_id,
                    describe(error),
                    exc_info=error,
                )
            return
        if self._settling:  # stopped while writing the outcome: let that one command land
            await asyncio.wait({work}, timeout=SETTLE_GRACE_SECONDS)
            if work.done():
                return
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        if self._stop.is_set():
            await self._release_on_stop(claimed, record)
        else:
            log.warning("job %s: lease lost to another worker; dropped", claimed.task.job_id)
            jobs.set_state(self.status, jobs.IDLE)

    async def _keep_lease(self, claimed: Claimed) -> None:
        """Renew the lease every heartbeat; return when it is lost, or once the job is
        no longer in hand (handed back for a retry: renewing would undo its delay)."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            async with self._entry_writes:
                if self.status.job_id != claimed.task.job_id:
                    return
                try:
                    if not await self.queue.heartbeat(self.status, claimed.entry_id):
                        return
                    self._answered()
                except QueueUnavailable as exc:
                    log.warning("heartbeat failed: %s", exc)
                except QueueCommandError as exc:  # the entry's stream or group is gone
                    log.warning("heartbeat refused (%s); the job is no longer ours", exc)
                    return

    async def _release_on_stop(self, claimed: Claimed, record: jobs_pb2.JobRecord) -> None:
        record.status, record.phase, record.progress_percent = (
            jobs_pb2.JOB_STATUS_QUEUED,
            "queued",
            0,
        )
        jobs.set_state(self.status, jobs.OFFLINE)
        try:
            await self.queue.release(claimed, self.status, record)
            log.info("released job %s for another coordinator", claimed.task.job_id)
        except (QueueUnavailable, QueueCommandError) as exc:
            log.warning("could not release job %s (%s); its lease will expire", record.job_id, exc)

    async def _process(self, claimed: Claimed, record: jobs_pb2.JobRecord) -> None:
        task = claimed.task
        max_attempts = self.settings.max_job_attempts
        if claimed.attempts > max_attempts:
            record.status, record.phase = jobs_pb2.JOB_STATUS_DEAD, "dead"
            record.error = record.error or f"its worker stopped {max_attempts} times"
            await self._settle(claimed, record, dead_letter=True)
            return
        age = time.time() - task.submitted_at.ToSeconds()
        if age > task.ttl_seconds:
            record.status, record.phase = jobs_pb2.JOB_STATUS_SKIPPED, "skipped"
            record.error = f"task is {age:.0f}s old, past its TTL of {task.ttl_seconds}s"
            await self._settle(claimed, record)
            return

        record.status, record.phase, record.progress_percent = (
            jobs_pb2.JOB_STATUS_RUNNING,
            "parse",
            0,
        )
        record.error = ""
        if not record.HasField("started_at"):  # a retry keeps the first attempt's start
            record.started_at.CopyFrom(jobs.now())
        record.ClearField("finished_at")
        jobs.set_state(self.status, jobs.PARSING, job_id=task.job_id, repo_url=task.repo_url)
        await self._retrying(lambda: self.queue.heartbeat(self.status, claimed.entry_id))
        recorder = ProgressRecorder(
            lambda snapshot: self.queue.save_progress(claimed, self.status, snapshot), record
        )
        await recorder.save_now()

        def progress(phase: str, percent: float) -> None:
            # The state is saved with the snapshot, at once when the phase changes.
            self.status.state = PHASE_STATES.get(phase, self.status.state)
            recorder.report(phase, percent)

        log.info("job %s: ingesting %s (attempt %d)", task.job_id, task.repo_url, claimed.attempts)
        try:
            result = await self.run_job(task, progress)
        except asyncio.CancelledError:
            await recorder.flush()
            raise
        except Exception as exc:
            await recorder.flush()
            await self._failed(claimed, record, exc)
            return
        await recorder.flush()
        record.status, record.phase, record.progress_percent = (
            jobs_pb2.JOB_STATUS_COMPLETE,
            "unchanged" if result.unchanged else "done",
            100.0,
        )
        record.unchanged = result.unchanged
        record.warm_start = result.warm_start
        record.phase_seconds.update({k: round(v, 3) for k, v in result.phase_seconds.items()})
        record.commit = result.commit
        record.files_processed = result.files_processed
        record.embeddings_generated = result.embeddings_generated
        record.final_loss = result.final_loss
        record.history = result.history
        await self._settle(claimed, record)

    async def _failed(self, claimed: Claimed, record: jobs_pb2.JobRecord, exc: Exception) -> None:
        message = describe(exc)
        attempts, max_attempts = claimed.attempts, self.settings.max_job_attempts
        permanent = is_permanent(exc)
        record.error = message
        if permanent or attempts >= max_attempts:
            log.error(
                "job %s failed (%s): %s",
                record.job_id,
                "not retried" if permanent else f"attempt {attempts} of {max_attempts}",
                message,
            )
            if permanent:
                record.status = jobs_pb2.JOB_STATUS_FAILED
            else:
                record.status, record.phase = jobs_pb2.JOB_STATUS_DEAD, "dead"
            await self._settle(claimed, record, dead_letter=not permanent)
            return
        # The entry is retaken once idle a whole lease, so no delay can be longer.
        delay = min(
            self.settings.job_retry_delay_seconds * 2 ** (attempts - 1), self.queue.lease_ms / 1000
        )
        log.error(
            "job %s failed (attempt %d of %d, retry in %gs): %s",
            record.job_id,
            attempts,
            max_attempts,
            delay,
            message,
        )
        record.status, record.phase, record.progress_percent = (
            jobs_pb2.JOB_STATUS_QUEUED,
            "queued",
            0,
        )
        record.error = (
            f"attempt {attempts} of {max_attempts} failed, retry in {delay:g}s: {message}"
        )
        record.duration_seconds = _elapsed(record)
        JOBS.labels("queued").inc()
        async with self._entry_writes:
            jobs.set_state(self.status, jobs.ERROR, repo_url=record.repo_url, message=message)
            await self._retrying(
                lambda: self.queue.release(claimed, self.status, record, retry_after_seconds=delay)
            )

    async def _settle(
        self, claimed: Claimed, record: jobs_pb2.JobRecord, *, dead_letter: bool = False
    ) -> None:
        """Write the final record, the worker's status and the ack, retried through
        outages; log the outcome once it is saved."""
        record.finished_at.CopyFrom(jobs.now())
        record.duration_seconds = _elapsed(record)
        if record.status in (jobs_pb2.JOB_STATUS_FAILED, jobs_pb2.JOB_STATUS_DEAD):
            jobs.set_state(self.status, jobs.ERROR, repo_url=record.repo_url, message=record.error)
        else:
            jobs.set_state(self.status, jobs.IDLE)
        self._settling = True
        try:
            async with self._entry_writes:
                owned = await self._retrying(
                    lambda: self.queue.finish(claimed, self.status, record, dead_letter=dead_letter)
                )
        finally:
            self._settling = False
        name = jobs.status_name(record.status)
        if owned is None:  # stopped while the queue was unreachable: nothing was written
            log.warning(
                "job %s %s, but not saved: the queue could not be reached before stopping; "
                "it is retried once its lease expires",
                record.job_id,
                name,
            )
        elif not owned:
            log.warning(
                "job %s %s, but another worker holds it now; not recorded", record.job_id, name
            )
        else:
            unchanged = f", unchanged at {record.commit[:12]}" if record.unchanged else ""
            log.info(
                "job %s %s%s in %.1fs", record.job_id, name, unchanged, record.duration_seconds
            )
            JOBS.labels(name).inc()


def _elapsed(record: jobs_pb2.JobRecord) -> float:
    """Seconds from the job's first start (any worker's clock) to its end, or to now."""
    if not record.HasField("started_at"):
        return 0.0
    end = record.finished_at if record.HasField("finished_at") else jobs.now()
    return max(0.0, (end.ToNanoseconds() - record.started_at.ToNanoseconds()) / 1e9)


async def _serve(settings: Settings) -> None:
    transport, embedded = open_transport(settings)
    store = open_vector_store(settings)
    queue = JobQueue(transport, lease_seconds=settings.job_lease_seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await check_queue(transport, settings)
        async with edge_pipeline(settings, store) as run_job:
            coordinator = Coordinator(settings, queue, run_job, liveness=liveness_file(settings))
            await coordinator.run(stop)
    finally:
        await transport.close()
        await store.close()
        if embedded is not None:
            embedded.terminate()


def main(settings: Settings) -> None:
    """Run one coordinator until SIGINT/SIGTERM (`alexandria serve coordinator`)."""
    asyncio.run(_serve(settings))
