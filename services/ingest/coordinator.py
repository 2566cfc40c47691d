"""The coordinator: takes jobs off the queue and drives them through the edge services.

It keeps the job record, its worker status string and a heartbeat current in Redis,
acknowledges a job only after its vectors are written, skips tasks past their TTL,
and on SIGINT/SIGTERM releases the job in hand so another coordinator retries it.
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

import grpc
from qdrant_client import AsyncQdrantClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from neo_alexandria.v1 import embedder_service_pb2, jobs_pb2
from services.common import jobs
from services.common.config import Settings
from services.common.queue import Claimed, JobQueue
from services.common.redis_client import open_redis, redis_url
from services.common.vectors import open_vector_store
from services.ingest.pipeline import run_pipeline
from services.ingest.progress import ProgressRecorder

log = logging.getLogger(__name__)

BLOCK_MS = 2000
HEARTBEAT_SECONDS = 5.0
PROGRESS_MIN_INTERVAL = 0.5


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Coordinator:
    """One queue consumer. Several may share a queue."""

    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        store: AsyncQdrantClient,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.store = store
        self.worker_id = worker_id or new_worker_id()
        self.status = jobs_pb2.WorkerStatus(worker_id=self.worker_id, status=jobs.IDLE)
        self._current: Claimed | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume jobs until `stop` is set; the job in hand is released, not lost."""
        await self.queue.ensure_group()
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        async with (
            grpc.aio.insecure_channel(self.settings.parser_addr) as parser,
            grpc.aio.insecure_channel(self.settings.embedder_addr) as embedder,
        ):
            log.info(
                "coordinator %s: parser %s, embedder %s",
                self.worker_id,
                self.settings.parser_addr,
                self.settings.embedder_addr,
            )
            try:
                while not stop.is_set():
                    claimed = await self._claim()
                    if claimed is None:
                        continue
                    job = asyncio.create_task(self._process(claimed, parser, embedder))
                    stopper = asyncio.create_task(stop.wait())
                    await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    stopper.cancel()
                    if not job.done():
                        job.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await job
                        await self._release(claimed)
            finally:
                heartbeat.cancel()
                self.status.status, self.status.job_id = jobs.OFFLINE, ""
                with contextlib.suppress(Exception):
                    await self.queue.set_worker(self.status)
                log.info("coordinator %s offline", self.worker_id)

    async def _claim(self) -> Claimed | None:
        try:
            return await self.queue.claim(self.worker_id, block_ms=BLOCK_MS)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning("queue unreachable (%s); retrying in %.0fs", exc, HEARTBEAT_SECONDS)
            await asyncio.sleep(HEARTBEAT_SECONDS)
            return None

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.queue.set_worker(self.status)
                if self._current is not None:
                    await self.queue.touch(self.worker_id, self._current.entry_id)
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _release(self, claimed: Claimed) -> None:
        """Hand an interrupted job back at once: the next claim by any coordinator retakes it."""
        await self.queue.release(self.worker_id, claimed.entry_id)
        record = await self.queue.get_job(claimed.task.job_id)
        if record is not None:
            record.status, record.phase = jobs_pb2.JOB_STATUS_QUEUED, "queued"
            record.progress_percent = 0.0
            await self.queue.save_job(record)
        log.info("released job %s for another coordinator", claimed.task.job_id)

    async def _set_status(self, text: str, job_id: str = "") -> None:
        self.status.status, self.status.job_id = text, job_id
        await self.queue.set_worker(self.status)

    async def _process(
        self, claimed: Claimed, parser: grpc.aio.Channel, embedder: grpc.aio.Channel
    ) -> None:
        task = claimed.task
        record = await self.queue.get_job(task.job_id) or jobs_pb2.JobRecord(
            job_id=task.job_id, repo_url=task.repo_url, submitted_at=task.submitted_at
        )
        record.attempts, record.worker_id = claimed.attempts, self.worker_id

        if claimed.attempts > self.settings.max_job_attempts:
            record.status, record.phase = jobs_pb2.JOB_STATUS_DEAD, "dead"
            record.error = record.error or "delivered too many times"
            await self.queue.save_job(record)
            await self.queue.dead_letter(claimed, record.error)
            return
        age = time.time() - task.submitted_at.ToSeconds()
        if age > task.ttl_seconds:
            record.status, record.phase = jobs_pb2.JOB_STATUS_SKIPPED, "skipped"
            record.error = f"task is {age:.0f}s old, past its TTL of {task.ttl_seconds}s"
            record.finished_at.CopyFrom(jobs.now())
            await self.queue.save_job(record)
            await self.queue.ack(claimed.entry_id)
            log.info("skipped stale job %s", task.job_id)
            return

        self._current = claimed
        started = time.monotonic()
        record.status, record.phase, record.progress_percent = (
            jobs_pb2.JOB_STATUS_RUNNING,
            "parse",
            0,
        )
        record.error = ""
        record.started_at.CopyFrom(jobs.now())
        await self.queue.save_job(record)
        await self._set_status(jobs.training_status(task.repo_url), task.job_id)
        log.info("job %s: ingesting %s (attempt %d)", task.job_id, task.repo_url, claimed.attempts)
        recorder = ProgressRecorder(self.queue, record)
        try:
            result = await run_pipeline(
                job_id=task.job_id,
                repo_url=task.repo_url,
                parser=parser,
                embedder=embedder,
                store=self.store,
                train_parameters=embedder_service_pb2.TrainParameters(
                    epochs=self.settings.train_epochs
                ),
                progress=recorder.report,
            )
        except asyncio.CancelledError:
            self._current = None
            await recorder.flush()
            raise
        except Exception as exc:
            message = _describe(exc)
            log.error("job %s failed: %s", task.job_id, message)
            record.status, record.error = jobs_pb2.JOB_STATUS_FAILED, message
            await self._set_status(jobs.error_status(message))
        else:
            record.status, record.phase, record.progress_percent = (
                jobs_pb2.JOB_STATUS_COMPLETE,
                "done",
                100.0,
            )
            record.commit = result.commit
            record.files_processed = result.files_processed
            record.embeddings_generated = result.embeddings_generated
            record.final_loss = result.final_loss
            await self._set_status(jobs.IDLE)
        await recorder.flush()
        record.finished_at.CopyFrom(jobs.now())
        record.duration_seconds = time.monotonic() - started
        await self.queue.save_job(record)
        await self.queue.ack(claimed.entry_id)
        self._current = None
        log.info(
            "job %s %s in %.1fs",
            task.job_id,
            jobs.status_name(record.status),
            record.duration_seconds,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"


async def _serve(settings: Settings) -> None:
    url, embedded = redis_url(settings)
    redis = open_redis(url)
    store = open_vector_store(settings)
    queue = JobQueue(
        redis, lease_seconds=settings.job_lease_seconds, max_attempts=settings.max_job_attempts
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Coordinator(settings, queue, store).run(stop)
    finally:
        await redis.aclose()
        await store.close()
        if embedded is not None:
            embedded.terminate()


def main(settings: Settings) -> None:
    """Run one coordinator until SIGINT/SIGTERM (`alexandria serve coordinator`)."""
    asyncio.run(_serve(settings))
