"""Open the queue on the transport a `queue_config` fixture selects; make tasks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from neo_alexandria.v1 import jobs_pb2
from services.common.config import Settings
from services.common.jobs import now
from services.common.queue import JobQueue
from services.common.transport import open_transport


def task(
    job_id: str | None = None,
    *,
    repo: str = "https://github.com/a/b",
    age_seconds: int = 0,
    ttl: int = 3600,
) -> jobs_pb2.QueuedTask:
    t = jobs_pb2.QueuedTask(job_id=job_id or uuid.uuid4().hex, repo_url=repo, ttl_seconds=ttl)
    t.submitted_at.CopyFrom(now())
    t.submitted_at.seconds -= age_seconds
    return t


@asynccontextmanager
async def open_queue(config: dict[str, Any], **queue_kw: Any) -> AsyncIterator[JobQueue]:
    transport, _ = open_transport(Settings(**config))
    try:
        queue = JobQueue(transport, **queue_kw)
        await queue.ensure_group()
        yield queue
    finally:
        await transport.close()


def worker(worker_id: str) -> jobs_pb2.WorkerStatus:
    return jobs_pb2.WorkerStatus(worker_id=worker_id, status="Idle", heartbeat_interval_seconds=60)
